-- See migrations/0017_live_sessions_by_agent.sql: an agent credential's request reads the
-- agent's live sessions through an index that holds no revoked session and ranges over
-- expires_at, so the agent's own history (revoked, expired) costs it nothing.
CREATE INDEX sessions_live_by_agent ON sessions (agent_id, workspace_id, expires_at)
    WHERE revoked_at IS NULL;
