-- Consumer groups of the event log, their delivery attempts and dead letters (embedded).
CREATE TABLE event_groups (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    stream     TEXT NOT NULL,
    committed  INTEGER NOT NULL,           -- last offset finished with
    created_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- Failed deliveries of a group's next event (forgotten when it commits past it).
CREATE TABLE event_attempts (
    namespace  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    "offset"   INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    PRIMARY KEY (namespace, group_name, "offset")
);

CREATE TABLE event_dead_letters (
    id          TEXT PRIMARY KEY,          -- UUIDv7
    namespace   TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    event_id    TEXT NOT NULL REFERENCES events(id),
    reason      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    dead_at     INTEGER NOT NULL,
    redriven_at INTEGER,
    resolved_at INTEGER
);
CREATE INDEX event_dead_letters_group ON event_dead_letters(namespace, group_name, id);
CREATE INDEX event_dead_letters_event ON event_dead_letters(event_id);
