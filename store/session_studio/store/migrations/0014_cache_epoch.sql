-- One counter that moves whenever something a process may cache about credentials and
-- sessions changes: a credential issued, revoked or reissued; a session created, revoked,
-- rotated or re-scoped; an agent disabled. Every process polls it (proxy/_credential_cache.py)
-- and drops its credential cache when it moved. Triggers, not calls in each write path, so no
-- path that writes these tables can forget to move it. Usage counting (request_count,
-- last_used_at) does not move it. An upsert, so a table emptied by hand still counts on.
CREATE TABLE cache_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  INTEGER NOT NULL
);

CREATE TRIGGER cache_epoch_credential_insert AFTER INSERT ON credentials
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_credential_update AFTER UPDATE ON credentials
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_credential_delete AFTER DELETE ON credentials
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_session_insert AFTER INSERT ON sessions
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_session_update
AFTER UPDATE OF revoked_at, expires_at, sealed_key, chain_ids, address, agent_id ON sessions
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_session_delete AFTER DELETE ON sessions
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
CREATE TRIGGER cache_epoch_agent_update AFTER UPDATE OF disabled_at ON agents
BEGIN INSERT INTO cache_epoch VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1; END;
