-- PostgreSQL schema, equivalent to SQLite's migrations 0001-0013 taken together (the
-- PostgreSQL backend starts at this point; later changes get their own numbered file here).
-- Money (limit-unit atoms, wei) is NUMERIC(78,0): any uint256 fits exactly. Times are unix
-- milliseconds (BIGINT), minutes are unix minutes.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE agents (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL REFERENCES workspaces(id),
    name                TEXT NOT NULL,
    daily_budget        NUMERIC(78,0),   -- atoms of USD, NULL = no agent-wide budget
    credential_version  INTEGER NOT NULL DEFAULT 1,
    created_at          BIGINT NOT NULL,
    ceiling             TEXT,            -- JSON, see store/_records.py AgentCeiling
    rotate_every_s      BIGINT,
    disabled_at         BIGINT,
    UNIQUE (workspace_id, name)
);

CREATE TABLE sessions (
    id                     TEXT PRIMARY KEY,
    workspace_id           TEXT NOT NULL REFERENCES workspaces(id),
    type                   TEXT NOT NULL CHECK (type IN ('app', 'agent')),
    label                  TEXT NOT NULL,
    agent_id               TEXT REFERENCES agents(id),
    key_hash               TEXT NOT NULL UNIQUE,
    address                TEXT NOT NULL,   -- EIP-55
    address_lower          TEXT NOT NULL,
    sealed_key             BYTEA,           -- NULL once destroyed (revoke, rotate)
    permissions            TEXT NOT NULL,   -- JSON array of permission names
    chain_ids              TEXT NOT NULL,   -- JSON array of ints
    tokens                 TEXT NOT NULL,   -- JSON array of symbols
    limit_unit             TEXT NOT NULL,
    per_tx_limit           NUMERIC(78,0) NOT NULL,
    daily_limit            NUMERIC(78,0) NOT NULL,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT NOT NULL,
    revoked_at             BIGINT,
    lineage_id             TEXT NOT NULL,   -- first session of a rotation chain
    predecessor_id         TEXT REFERENCES sessions(id),
    credential_version     INTEGER NOT NULL DEFAULT 1,
    last_used_at           BIGINT,
    request_count          BIGINT NOT NULL DEFAULT 0,
    recipients             TEXT,            -- JSON array of addresses; NULL = any
    contracts              TEXT NOT NULL DEFAULT '{}',
    rate_limit_per_minute  INTEGER,
    max_fee_per_gas        NUMERIC(78,0)    -- wei; NULL = the chain's cap only
);
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, created_at);
CREATE INDEX sessions_by_agent ON sessions (agent_id);
CREATE INDEX sessions_by_address ON sessions (address_lower);
CREATE INDEX sessions_by_lineage ON sessions (lineage_id);

CREATE TABLE credentials (
    token_hash    BYTEA PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    owner_kind    TEXT NOT NULL CHECK (owner_kind IN ('session', 'agent')),
    owner_id      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX credentials_by_owner ON credentials (owner_kind, owner_id);

CREATE TABLE spend_buckets (
    lineage_id  TEXT NOT NULL,
    minute      BIGINT NOT NULL,         -- unix minute (ms // 60000)
    amount      NUMERIC(78,0) NOT NULL,
    PRIMARY KEY (lineage_id, minute)
);

CREATE TABLE self_service_lineages (
    lineage_id  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(id)
);

CREATE TABLE agent_window_buckets (
    agent_id  TEXT NOT NULL,
    minute    BIGINT NOT NULL,
    amount    NUMERIC(78,0) NOT NULL,    -- atoms of the agent's ceiling unit
    PRIMARY KEY (agent_id, minute)
);

CREATE TABLE reservations (
    id                TEXT PRIMARY KEY,
    session_id        TEXT NOT NULL REFERENCES sessions(id),
    lineage_id        TEXT NOT NULL,
    minute            BIGINT NOT NULL,
    amount            NUMERIC(78,0) NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('reserved', 'signed', 'broadcast',
                                                      'unknown', 'released', 'settled')),
    method            TEXT NOT NULL,
    chain_id          BIGINT NOT NULL,
    nonce             BIGINT,
    -- The signer, copied from the session so the nonce backstop below is one index.
    address_lower     TEXT NOT NULL,
    -- TRUE when the ledger's pool picked the nonce, FALSE for a client's explicit nonce
    -- (which may knowingly replace a live one at the same nonce).
    nonce_from_pool   BOOLEAN NOT NULL DEFAULT FALSE,
    tx_hash           TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    raw_tx            BYTEA,
    gas_reserved      NUMERIC(78,0),     -- limit-unit atoms of worst-case gas
    gas_wei_reserved  NUMERIC(78,0),     -- worst-case gas in wei
    gas_wei_used      NUMERIC(78,0),     -- gasUsed * effectiveGasPrice, wei
    receipt_status    INTEGER,           -- 1 success, 0 revert, NULL none
    settled_at        BIGINT
);
CREATE INDEX reservations_by_session ON reservations (session_id, created_at);
CREATE INDEX reservations_by_signer_nonce ON reservations (chain_id, address_lower, nonce)
    WHERE nonce IS NOT NULL;
CREATE INDEX reservations_to_broadcast ON reservations (chain_id, nonce)
    WHERE status IN ('signed', 'unknown') AND method = 'eth_sendTransaction';
CREATE INDEX reservations_signed_outstanding ON reservations (lineage_id)
    WHERE method = 'eth_signTransaction' AND status = 'signed' AND settled_at IS NULL;
CREATE INDEX reservations_to_settle_any ON reservations (created_at, id)
    WHERE settled_at IS NULL AND (
        (method = 'eth_sendTransaction' AND status IN ('broadcast', 'unknown'))
        OR (method = 'eth_signTransaction' AND status = 'signed'));
-- The backstop no bug gets past: a nonce the pool hands out is held by one live reservation
-- of that signer at most (the signer lock already guarantees it; this proves it).
CREATE UNIQUE INDEX reservations_pool_nonce_once ON reservations (chain_id, address_lower, nonce)
    WHERE nonce_from_pool AND status <> 'released';

CREATE TABLE nonces (
    chain_id    BIGINT NOT NULL,
    address     TEXT NOT NULL,
    next_nonce  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, address)
);
CREATE TABLE released_nonces (
    chain_id  BIGINT NOT NULL,
    address   TEXT NOT NULL,
    nonce     BIGINT NOT NULL,
    PRIMARY KEY (chain_id, address, nonce)
);

CREATE TABLE decisions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      TEXT NOT NULL,
    at              BIGINT NOT NULL,
    method          TEXT NOT NULL,
    allowed         INTEGER NOT NULL,
    reason          TEXT,
    detail          TEXT NOT NULL,
    cost            NUMERIC(78,0) NOT NULL,
    reservation_id  TEXT
);
CREATE INDEX decisions_by_session ON decisions (session_id, at);

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    user_handle   BYTEA NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE passkeys (
    credential_id  BYTEA PRIMARY KEY,
    admin_id       TEXT NOT NULL REFERENCES admins(id),
    public_key     BYTEA NOT NULL,
    sign_count     BIGINT NOT NULL,
    backed_up      INTEGER NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX passkeys_by_admin ON passkeys (admin_id);

CREATE TABLE setup_links (
    token_hash    BYTEA PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    admin_name    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE TABLE webauthn_challenges (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('register', 'add_passkey', 'login',
                                                   'step_up')),
    challenge     BYTEA NOT NULL,
    workspace_id  TEXT,
    admin_id      TEXT,
    setup_hash    BYTEA,
    admin_name    TEXT,
    user_handle   BYTEA,
    expires_at    BIGINT NOT NULL
);

CREATE TABLE admin_logins (
    token_hash         BYTEA PRIMARY KEY,
    admin_id           TEXT NOT NULL REFERENCES admins(id),
    workspace_id       TEXT NOT NULL REFERENCES workspaces(id),
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    last_assertion_at  BIGINT NOT NULL,
    passkey_id         BYTEA,
    revoked_at         BIGINT
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX api_tokens_by_workspace ON api_tokens (workspace_id, created_at);

CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    workspace_id  TEXT,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    detail        TEXT NOT NULL,         -- canonical JSON, exactly as hashed
    prev_hash     BYTEA NOT NULL,
    entry_hash    BYTEA NOT NULL
);
CREATE INDEX audit_by_subject ON audit_log (subject, seq);
CREATE INDEX audit_by_workspace ON audit_log (workspace_id, seq);
