-- Replicas' heartbeats (`[cluster]`): what each `sp serve` serves and how busy it is, renewed
-- every `cluster.heartbeat_ms`; a row past `expires_at` (µs) is a replica that stopped. The
-- embedded store serves one process, so this table holds at most that one.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    models       TEXT NOT NULL,
    resident     TEXT NOT NULL,
    queue_depth  INTEGER NOT NULL,
    seen_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX replicas_expires_at ON replicas(expires_at);
