-- The audit trail off the signing path (issue 12): a transaction records its event here,
-- unchained and without any lock, in the same transaction as its change; the sealer
-- (store/_pg_audit.py) moves committed rows into audit_log in id order under the AUDIT
-- advisory lock, chaining each to the head, and deletes them in that same transaction.
CREATE TABLE audit_pending (
    id            BIGSERIAL PRIMARY KEY,
    at            BIGINT NOT NULL,
    workspace_id  TEXT,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    detail        TEXT NOT NULL          -- canonical JSON, exactly as it will be hashed
);
