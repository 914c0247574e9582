-- Issue 14: a person in the loop. A request over its session's `approve_above` is held: its
-- cost is reserved at once (a `reservations` row in status 'reserved', no nonce, nothing
-- signed) and the exact request waits in `approvals` for a decision. Approving signs it in the
-- same transaction that moves the reservation to 'signed'; rejecting or expiring releases it.
ALTER TABLE sessions ADD COLUMN approve_above TEXT;            -- unit atoms; NULL = never held
CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    lineage_id      TEXT NOT NULL,
    reservation_id  TEXT NOT NULL REFERENCES reservations(id),
    method          TEXT NOT NULL,
    chain_id        INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    cost            TEXT NOT NULL,                            -- unit atoms, reserved
    unit            TEXT NOT NULL,
    summary         TEXT NOT NULL,                            -- the request in words
    detail          TEXT NOT NULL,                            -- JSON: decoded fields for the inbox
    payload         TEXT NOT NULL,                            -- JSON: exactly what is signed
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    decided_by      TEXT,
    reason          TEXT,
    result          TEXT,                                     -- tx hash, raw tx or signature
    error           TEXT                                      -- JSON: the node's refusal, if any
);
CREATE INDEX approvals_by_workspace ON approvals (workspace_id, status, created_at, id);
CREATE INDEX approvals_pending_by_lineage ON approvals (lineage_id, expires_at)
    WHERE status = 'pending';
CREATE INDEX approvals_pending_by_expiry ON approvals (expires_at) WHERE status = 'pending';
-- The outbox of approval notifications (the webhook): written in the transaction that makes
-- the event, delivered later by whichever `serve` claims it, so a decision made by the CLI is
-- announced too and a slow receiver never holds a request.
CREATE TABLE approval_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id     TEXT NOT NULL REFERENCES approvals(id),
    workspace_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,           -- approval.pending|.approved|.rejected|.expired
    body            TEXT NOT NULL,           -- JSON, the exact bytes POSTed
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX approval_events_due ON approval_events (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
