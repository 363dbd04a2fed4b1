-- Replicas' heartbeats (`[cluster]`): what each `sp serve` serves and how busy it is, renewed
-- every `cluster.heartbeat_ms`; a row past `expires_at` is a replica that stopped.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    models       JSONB NOT NULL,
    resident     JSONB NOT NULL,
    queue_depth  BIGINT NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX replicas_expires_at ON replicas(expires_at);
