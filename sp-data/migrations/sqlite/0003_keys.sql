-- API keys, embedded backend. The token is never stored, only its SHA-256.
CREATE TABLE auth_keys (
    id          TEXT PRIMARY KEY,          -- the token's public id (12 hex characters)
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,             -- JSON array of scope names
    rate_limit  TEXT,                      -- e.g. "60/min"
    token_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,          -- microseconds since the epoch
    expires_at  INTEGER,
    revoked_at  INTEGER
);
