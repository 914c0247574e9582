-- See migrations/0015_session_read_indexes.sql: an agent credential's sessions found through
-- the agent, and one index per listing sort ending in id, so a keyset page is one range read
-- in order. The last-used expression repeats SESSION_SORTS (store/_rows.py) term for term.
DROP INDEX sessions_by_agent;
CREATE INDEX sessions_by_agent ON sessions (agent_id, workspace_id, created_at);
DROP INDEX sessions_by_workspace;
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, created_at, id);
CREATE INDEX sessions_by_workspace_expiry ON sessions (workspace_id, expires_at, id);
CREATE INDEX sessions_by_workspace_last_used
    ON sessions (workspace_id, COALESCE(last_used_at, 0), id);
