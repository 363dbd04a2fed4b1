-- API keys, PostgreSQL backend. The token is never stored, only its SHA-256.
CREATE TABLE auth_keys (
    id          TEXT PRIMARY KEY,          -- the token's public id (12 hex characters)
    name        TEXT NOT NULL,
    scopes      JSONB NOT NULL,            -- array of scope names
    rate_limit  TEXT,                      -- e.g. "60/min"
    token_hash  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
