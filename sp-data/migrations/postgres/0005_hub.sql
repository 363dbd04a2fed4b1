-- The service hub's registry, PostgreSQL backend.
CREATE TABLE hub_services (
    id           UUID PRIMARY KEY,         -- UUIDv7
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,            -- semver
    description  TEXT NOT NULL,
    base_url     TEXT,
    health_path  TEXT NOT NULL,
    tags         JSONB NOT NULL,           -- hub_labels indexes them
    capabilities JSONB NOT NULL,
    metadata     JSONB NOT NULL,
    tools        JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (namespace, name, version)
);

-- Tags, capabilities and tool names, a row each, so discovery is an index lookup.
CREATE TABLE hub_labels (
    service_id UUID NOT NULL REFERENCES hub_services(id) ON DELETE CASCADE,
    namespace  TEXT NOT NULL,
    kind       TEXT NOT NULL,              -- tag | capability | tool
    value      TEXT NOT NULL,
    PRIMARY KEY (service_id, kind, value)
);
CREATE INDEX hub_labels_lookup ON hub_labels(namespace, kind, value);

CREATE TABLE hub_instances (
    id            UUID PRIMARY KEY,
    service_id    UUID NOT NULL REFERENCES hub_services(id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    ttl_secs      INTEGER,                 -- NULL: the permanent base_url instance
    expires_at    TIMESTAMPTZ,
    health        TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    UNIQUE (service_id, url)
);
CREATE INDEX hub_instances_expiry ON hub_instances(expires_at);
