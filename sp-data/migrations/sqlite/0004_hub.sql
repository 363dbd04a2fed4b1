-- The service hub's registry, embedded backend.
CREATE TABLE hub_services (
    id           TEXT PRIMARY KEY,         -- UUIDv7
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,            -- semver
    description  TEXT NOT NULL,
    base_url     TEXT,
    health_path  TEXT NOT NULL,
    tags         TEXT NOT NULL,            -- JSON array (hub_labels indexes them)
    capabilities TEXT NOT NULL,            -- JSON array
    metadata     TEXT NOT NULL,            -- JSON object
    tools        TEXT NOT NULL,            -- JSON array of tool specs
    created_at   INTEGER NOT NULL,         -- microseconds since the epoch
    updated_at   INTEGER NOT NULL,
    UNIQUE (namespace, name, version)
);

-- Tags, capabilities and tool names, a row each, so discovery is an index lookup.
CREATE TABLE hub_labels (
    service_id TEXT NOT NULL REFERENCES hub_services(id) ON DELETE CASCADE,
    namespace  TEXT NOT NULL,
    kind       TEXT NOT NULL,              -- tag | capability | tool
    value      TEXT NOT NULL,
    PRIMARY KEY (service_id, kind, value)
);
CREATE INDEX hub_labels_lookup ON hub_labels(namespace, kind, value);

-- Where service versions run: the permanent base_url instance (ttl NULL) and heartbeats.
CREATE TABLE hub_instances (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL REFERENCES hub_services(id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    ttl_secs      INTEGER,
    expires_at    INTEGER,
    health        TEXT NOT NULL,           -- unknown | healthy | degraded | unhealthy
    registered_at INTEGER NOT NULL,
    UNIQUE (service_id, url)
);
CREATE INDEX hub_instances_expiry ON hub_instances(expires_at);
