-- Usage per tenant, key, model and UTC day (`day`: YYYY-MM-DD), summed by the usage meter and
-- written in batches (one upsert per row per flush).
CREATE TABLE usage_daily (
    tenant            TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    model             TEXT NOT NULL,
    day               TEXT NOT NULL CHECK (length(day) = 10),
    requests          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    embedding_tokens  INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, key_id, model, day)
);
CREATE INDEX usage_daily_day ON usage_daily(day);

-- A tenant's own quotas (NULL: none): requests, and tokens (prompt + completion + embedding)
-- as a comma-separated list of COUNT/UNIT, e.g. `100000/min,2000000/day`.
ALTER TABLE tenants ADD COLUMN rate_limit TEXT;
ALTER TABLE tenants ADD COLUMN token_limits TEXT;
