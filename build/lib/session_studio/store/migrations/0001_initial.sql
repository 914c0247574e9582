-- Session Studio schema v1. Money columns are TEXT holding base-10 integers (limit-unit atoms,
-- 1e-18 of the unit): they routinely exceed SQLite's 64-bit INTEGER, so sums are done in Python.
-- Times are INTEGER unix milliseconds (UTC).

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE agents (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL REFERENCES workspaces(id),
    name                TEXT NOT NULL,
    daily_budget        TEXT,            -- atoms of USD, NULL = no agent-wide budget
    credential_version  INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL REFERENCES workspaces(id),
    type                TEXT NOT NULL CHECK (type IN ('app', 'agent')),
    label               TEXT NOT NULL,
    agent_id            TEXT REFERENCES agents(id),
    key_hash            TEXT NOT NULL UNIQUE,
    address             TEXT NOT NULL,   -- EIP-55
    address_lower       TEXT NOT NULL,
    sealed_key          BLOB,            -- NULL once destroyed (revoke, rotate)
    permissions         TEXT NOT NULL,   -- JSON array of permission names
    chain_ids           TEXT NOT NULL,   -- JSON array of ints
    tokens              TEXT NOT NULL,   -- JSON array of symbols
    limit_unit          TEXT NOT NULL,
    per_tx_limit        TEXT NOT NULL,
    daily_limit         TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    revoked_at          INTEGER,
    lineage_id          TEXT NOT NULL,   -- first session of a rotation chain: the spend window's owner
    predecessor_id      TEXT REFERENCES sessions(id),
    credential_version  INTEGER NOT NULL DEFAULT 1,
    last_used_at        INTEGER,
    request_count       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, created_at);
CREATE INDEX sessions_by_agent ON sessions (agent_id);
CREATE INDEX sessions_by_address ON sessions (address_lower);

-- Credentials are stored only as SHA-256 of the bearer token.
CREATE TABLE credentials (
    token_hash    BLOB PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    owner_kind    TEXT NOT NULL CHECK (owner_kind IN ('session', 'agent')),
    owner_id      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX credentials_by_owner ON credentials (owner_kind, owner_id);

-- Spend per lineage per minute. The window check sums at most 1441 rows found by the primary
-- key, so it costs O(log n) in the number of past entries, whatever the history's length.
CREATE TABLE spend_buckets (
    lineage_id  TEXT NOT NULL,
    minute      INTEGER NOT NULL,        -- unix minute (ms // 60000)
    amount      TEXT NOT NULL,
    PRIMARY KEY (lineage_id, minute)
) WITHOUT ROWID;

-- One row per signature that may spend: the ledger. Released rows stay for the record.
CREATE TABLE reservations (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    lineage_id  TEXT NOT NULL,
    minute      INTEGER NOT NULL,
    amount      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('reserved', 'signed', 'broadcast', 'unknown',
                                                 'released', 'settled')),
    method      TEXT NOT NULL,
    chain_id    INTEGER NOT NULL,
    nonce       INTEGER,
    tx_hash     TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX reservations_by_session ON reservations (session_id, created_at);
CREATE INDEX reservations_by_status ON reservations (status) WHERE status IN ('reserved', 'unknown');

-- Next nonce per signer per chain, and nonces handed back by transactions that provably never
-- reached the chain (so the next send fills the gap instead of stalling behind it).
CREATE TABLE nonces (
    chain_id    INTEGER NOT NULL,
    address     TEXT NOT NULL,
    next_nonce  INTEGER NOT NULL,
    PRIMARY KEY (chain_id, address)
) WITHOUT ROWID;
CREATE TABLE released_nonces (
    chain_id  INTEGER NOT NULL,
    address   TEXT NOT NULL,
    nonce     INTEGER NOT NULL,
    PRIMARY KEY (chain_id, address, nonce)
) WITHOUT ROWID;

-- Every signing decision, allowed or not, written in the reserving transaction itself.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    method      TEXT NOT NULL,
    allowed     INTEGER NOT NULL,
    reason      TEXT,
    detail      TEXT NOT NULL,
    cost        TEXT NOT NULL,
    reservation_id TEXT
);
CREATE INDEX decisions_by_session ON decisions (session_id, at);
