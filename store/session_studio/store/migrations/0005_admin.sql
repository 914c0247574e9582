-- The admin plane: people (admins) with passkeys, their logged-in browser sessions, one-time
-- setup links, server-side WebAuthn challenges, and admin API tokens. Every row belongs to one
-- workspace; secrets (cookies, setup links, API tokens) are stored only as SHA-256.

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    user_handle   BLOB NOT NULL UNIQUE,  -- WebAuthn user.id: random, never the name
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE passkeys (
    credential_id  BLOB PRIMARY KEY,
    admin_id       TEXT NOT NULL REFERENCES admins(id),
    public_key     BLOB NOT NULL,         -- COSE key
    sign_count     INTEGER NOT NULL,
    backed_up      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_by_admin ON passkeys (admin_id);

-- One-time links that let a person register a passkey: the first admin of a workspace
-- (printed by `init`/`dev`) or an invited one. Used once, then dead.
CREATE TABLE setup_links (
    token_hash    BLOB PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    admin_name    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
) WITHOUT ROWID;

-- Challenges live here, not in the browser: single-use (deleted when consumed), short-lived.
CREATE TABLE webauthn_challenges (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('register', 'add_passkey', 'login', 'step_up')),
    challenge     BLOB NOT NULL,
    workspace_id  TEXT,
    admin_id      TEXT,                   -- add_passkey, step_up: whose assertion is expected
    setup_hash    BLOB,                   -- register: the setup link being redeemed
    admin_name    TEXT,
    user_handle   BLOB,
    expires_at    INTEGER NOT NULL
);

-- A logged-in browser: the cookie is the token, this row its SHA-256.
CREATE TABLE admin_logins (
    token_hash         BLOB PRIMARY KEY,
    admin_id           TEXT NOT NULL REFERENCES admins(id),
    workspace_id       TEXT NOT NULL REFERENCES workspaces(id),
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    last_assertion_at  INTEGER NOT NULL,  -- step-up: when a passkey last proved presence
    passkey_id         BLOB,
    revoked_at         INTEGER
) WITHOUT ROWID;

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,          -- JSON array
    created_by    TEXT,                   -- admin id; NULL when made by the CLI
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX api_tokens_by_workspace ON api_tokens (workspace_id, created_at);
