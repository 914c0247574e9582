-- See migrations/0014_cache_epoch.sql: one counter every replica polls to drop its credential
-- cache when a credential or session changed. The row update is transactional: the new value
-- is visible exactly when the change it announces commits, never before (a sequence would be
-- seen before the commit, and a cache refilled in between would keep the old state).
-- Constraint triggers deferred to commit: the counter's row lock is the last lock a
-- transaction takes, so it can never sit inside a lock-order cycle with the advisory locks.
CREATE TABLE cache_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  BIGINT NOT NULL
);

CREATE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_epoch VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET value = cache_epoch.value + 1;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER cache_epoch_credentials
    AFTER INSERT OR UPDATE OR DELETE ON credentials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_cache_epoch();
CREATE CONSTRAINT TRIGGER cache_epoch_sessions_insert
    AFTER INSERT OR DELETE ON sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_cache_epoch();
CREATE CONSTRAINT TRIGGER cache_epoch_sessions_update
    AFTER UPDATE OF revoked_at, expires_at, sealed_key, chain_ids, address, agent_id ON sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_cache_epoch();
CREATE CONSTRAINT TRIGGER cache_epoch_agents
    AFTER UPDATE OF disabled_at ON agents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_cache_epoch();
