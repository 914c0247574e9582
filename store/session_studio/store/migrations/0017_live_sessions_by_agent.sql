-- An agent credential's request reads the agent's live sessions only (store/_rows.py
-- LIVE_SESSIONS_OF; checked by tests/store/test_session_read_plans.py). Its revoked and expired
-- sessions are a history the agent grows itself (create, revoke, let expire, rotate): read
-- through sessions_by_agent they cost ~33 us each on every send. This partial index holds no
-- revoked session, and its expires_at column turns "not expired at now" into a range, so the
-- read costs the live sessions it returns. A `from` naming a dead session is found through
-- sessions_by_address instead (SESSION_BY_ADDRESS).
CREATE INDEX sessions_live_by_agent ON sessions (agent_id, workspace_id, expires_at)
    WHERE revoked_at IS NULL;
