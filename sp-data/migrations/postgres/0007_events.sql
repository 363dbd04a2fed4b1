-- The event log, PostgreSQL backend.
-- A stream's head: each append moves it under its row lock, so offsets have no gaps and
-- appends to different streams do not wait for each other.
CREATE TABLE event_streams (
    namespace TEXT NOT NULL,
    stream    TEXT NOT NULL,
    head      BIGINT NOT NULL,
    PRIMARY KEY (namespace, stream)
);

CREATE TABLE events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- append order
    id             UUID NOT NULL UNIQUE,                            -- UUIDv7
    namespace      TEXT NOT NULL,
    stream         TEXT NOT NULL,
    "offset"       BIGINT NOT NULL,
    type           TEXT NOT NULL,
    source         TEXT NOT NULL,
    subject        TEXT,
    time           TIMESTAMPTZ NOT NULL,
    correlation_id TEXT,
    schema_version INTEGER NOT NULL,
    data           JSONB NOT NULL,
    UNIQUE (namespace, stream, "offset")
);
CREATE INDEX events_type ON events(namespace, type, seq);
CREATE INDEX events_subject ON events(namespace, subject, seq);
CREATE INDEX events_correlation ON events(namespace, correlation_id, seq);
CREATE INDEX events_time ON events(namespace, time, seq);
