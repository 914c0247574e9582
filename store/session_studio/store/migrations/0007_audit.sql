-- The audit trail: every admin action and every signing decision, append-only, each entry
-- chained to the one before by SHA-256 (entry_hash covers the previous hash and every column),
-- so editing or deleting a row breaks the chain at that row. `seq` is dense (1, 2, 3...): a
-- deleted row also shows as a gap.

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    workspace_id  TEXT,                  -- NULL for events outside any workspace
    actor         TEXT NOT NULL,         -- admin:<name>/passkey:<id>, token:<name>/<id>, cli:<user>, rpc:<credential kind>
    action        TEXT NOT NULL,         -- session.create, session.revoke, rpc.decision, ...
    subject       TEXT NOT NULL,         -- what it acted on (a key hash, an agent, a token id)
    detail        TEXT NOT NULL,         -- canonical JSON
    prev_hash     BLOB NOT NULL,
    entry_hash    BLOB NOT NULL
);
CREATE INDEX audit_by_subject ON audit_log (subject, seq);
CREATE INDEX audit_by_workspace ON audit_log (workspace_id, seq);
