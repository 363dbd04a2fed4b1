-- Tenants own namespaces (a namespace's full name is `tenant.name`; the default tenant's keep
-- their bare names, so everything stored before tenants is the default tenant's), keys,
-- audit entries and usage.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,           -- a-z 0-9 _ -, 1-32 characters
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default', now());

-- Every key acts for one tenant; existing keys are the default tenant's. `models` / `tools`:
-- arrays of what the key may use (NULL: anything).
ALTER TABLE auth_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE auth_keys ADD COLUMN models JSONB;
ALTER TABLE auth_keys ADD COLUMN tools JSONB;
CREATE INDEX auth_keys_tenant ON auth_keys(tenant);

-- Rotation: the secret a rotation replaced keeps working until `previous_until`.
ALTER TABLE auth_keys ADD COLUMN previous_hash TEXT;
ALTER TABLE auth_keys ADD COLUMN previous_until TIMESTAMPTZ;
ALTER TABLE auth_keys ADD COLUMN rotated_at TIMESTAMPTZ;

-- The tenant of the caller an audit entry records.
ALTER TABLE audit_log ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX audit_log_tenant ON audit_log(tenant, id);
