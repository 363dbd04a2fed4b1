-- API keys, embedded backend. The token is never stored, only its SHA-256.
CREATE TABLE auth_keys (
    id          TEXT PRIMARY KEY,          -- the token's public id (12 hex characters)
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,             -- JSON array of scope names
    rate_limit  TEXT,                      -- e.g. "60/min"
    token_limit TEXT,                      -- generated tokens, e.g. "100000/day"
    token_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,          -- microseconds since the epoch
    expires_at  INTEGER,
    revoked_at  INTEGER
);

-- Every mutating request: who, what, when, result. Append-only.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,          -- UUIDv7: text order is time order
    at          INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX audit_log_key ON audit_log(key_id, id);

-- Refresh tokens (hashed), rotated on use; a family is one login's chain of tokens.
CREATE TABLE auth_refresh (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,             -- an auth_keys id, or `admin` (the bootstrap key)
    family      TEXT NOT NULL,
    scopes      TEXT NOT NULL,             -- JSON array
    token_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
-- Sessions of a key.
CREATE INDEX auth_refresh_key ON auth_refresh(key_id);
CREATE INDEX auth_refresh_family ON auth_refresh(family);
