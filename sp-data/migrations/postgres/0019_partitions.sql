-- The logs that grow with use — events, the audit log, usage sums — partitioned by time, so
-- retention drops whole partitions instead of deleting rows one by one (issue 27, "Large
-- tables"). Day partitions for events and audit entries, month partitions for usage; sp makes
-- them ahead hourly (sp-data/src/partitions.rs). A DEFAULT partition takes any row no
-- partition covers yet (all rows right after this migration), and the next upkeep moves them
-- to their own partition.
--
-- A partitioned table's unique constraints must include the partition column, so the events'
-- `id` and `(namespace, stream, offset)` become plain indexes: ids are UUIDv7 made by the
-- appending process and offsets are unique by the stream head's row lock (0007), which is
-- what kept them unique before. The dead letters' foreign key to the events goes for the same
-- reason; retention removes a dead letter with its event.

ALTER TABLE event_dead_letters DROP CONSTRAINT IF EXISTS event_dead_letters_event_id_fkey;

CREATE TABLE events_partitioned (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,  -- append order
    id             UUID NOT NULL,                        -- UUIDv7
    namespace      TEXT NOT NULL,
    stream         TEXT NOT NULL,
    "offset"       BIGINT NOT NULL,
    type           TEXT NOT NULL,
    source         TEXT NOT NULL,
    subject        TEXT,
    time           TIMESTAMPTZ NOT NULL,                 -- append time: the partition key
    correlation_id TEXT,
    schema_version INTEGER NOT NULL,
    data           JSONB NOT NULL
) PARTITION BY RANGE (time);
CREATE TABLE events_default PARTITION OF events_partitioned DEFAULT;
INSERT INTO events_partitioned OVERRIDING SYSTEM VALUE
    SELECT seq, id, namespace, stream, "offset", type, source, subject, time, correlation_id,
           schema_version, data
    FROM events;
SELECT setval(pg_get_serial_sequence('events_partitioned', 'seq'),
              COALESCE((SELECT max(seq) FROM events_partitioned), 0) + 1, false);
DROP TABLE events;
ALTER TABLE events_partitioned RENAME TO events;
ALTER TABLE events ADD PRIMARY KEY (seq, time);
CREATE INDEX events_id ON events(id);
CREATE INDEX events_stream ON events(namespace, stream, "offset");
CREATE INDEX events_type ON events(namespace, type, seq);
CREATE INDEX events_subject ON events(namespace, subject, seq);
CREATE INDEX events_correlation ON events(namespace, correlation_id, seq);
CREATE INDEX events_time ON events(namespace, time, seq);

CREATE TABLE audit_log_partitioned (
    id          UUID NOT NULL,             -- UUIDv7: time order
    at          TIMESTAMPTZ NOT NULL,      -- the partition key
    key_id      TEXT NOT NULL,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    tenant      TEXT NOT NULL DEFAULT 'default'
) PARTITION BY RANGE (at);
CREATE TABLE audit_log_default PARTITION OF audit_log_partitioned DEFAULT;
INSERT INTO audit_log_partitioned
    SELECT id, at, key_id, method, route, path, status, request_id, duration_ms, tenant
    FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_partitioned RENAME TO audit_log;
ALTER TABLE audit_log ADD PRIMARY KEY (id, at);
CREATE INDEX audit_log_key ON audit_log(key_id, id);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_tenant ON audit_log(tenant, id);

CREATE TABLE usage_daily_partitioned (
    tenant            TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    model             TEXT NOT NULL,
    day               TEXT NOT NULL CHECK (length(day) = 10),  -- YYYY-MM-DD: the partition key
    requests          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    embedding_tokens  BIGINT NOT NULL DEFAULT 0,
    cached_tokens     BIGINT NOT NULL DEFAULT 0,
    errors            BIGINT NOT NULL DEFAULT 0
) PARTITION BY RANGE (day);
CREATE TABLE usage_daily_default PARTITION OF usage_daily_partitioned DEFAULT;
INSERT INTO usage_daily_partitioned
    SELECT tenant, key_id, model, day, requests, prompt_tokens, completion_tokens,
           embedding_tokens, cached_tokens, errors
    FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_partitioned RENAME TO usage_daily;
ALTER TABLE usage_daily ADD PRIMARY KEY (tenant, key_id, model, day);
CREATE INDEX usage_daily_day ON usage_daily(day);
