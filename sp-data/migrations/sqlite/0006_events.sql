-- The event log, embedded backend.
-- A stream's head: each append moves it under the write lock, so offsets have no gaps.
CREATE TABLE event_streams (
    namespace TEXT NOT NULL,
    stream    TEXT NOT NULL,
    head      INTEGER NOT NULL,
    PRIMARY KEY (namespace, stream)
);

CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- append order across streams
    id             TEXT NOT NULL UNIQUE,               -- UUIDv7
    namespace      TEXT NOT NULL,
    stream         TEXT NOT NULL,
    "offset"       INTEGER NOT NULL,
    type           TEXT NOT NULL,
    source         TEXT NOT NULL,
    subject        TEXT,
    time           INTEGER NOT NULL,                   -- microseconds since the epoch
    correlation_id TEXT,
    schema_version INTEGER NOT NULL,
    data           TEXT NOT NULL,                      -- JSON
    UNIQUE (namespace, stream, "offset")
);
CREATE INDEX events_type ON events(namespace, type, seq);
CREATE INDEX events_subject ON events(namespace, subject, seq);
CREATE INDEX events_correlation ON events(namespace, correlation_id, seq);
CREATE INDEX events_time ON events(namespace, time, seq);
