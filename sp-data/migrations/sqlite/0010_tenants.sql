-- Tenants own namespaces (a namespace's full name is `tenant.name`; the default tenant's keep
-- their bare names, so everything stored before tenants is the default tenant's), keys,
-- audit entries and usage.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,           -- a-z 0-9 _ -, 1-32 characters
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL            -- microseconds since the epoch
);
INSERT INTO tenants (id, name, created_at)
VALUES ('default', 'Default', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));

-- Every key acts for one tenant; existing keys are the default tenant's. `models` / `tools`:
-- JSON arrays of what the key may use (NULL: anything).
ALTER TABLE auth_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE auth_keys ADD COLUMN models TEXT;
ALTER TABLE auth_keys ADD COLUMN tools TEXT;
CREATE INDEX auth_keys_tenant ON auth_keys(tenant);

-- Rotation: the secret a rotation replaced keeps working until `previous_until`.
ALTER TABLE auth_keys ADD COLUMN previous_hash TEXT;
ALTER TABLE auth_keys ADD COLUMN previous_until INTEGER;
ALTER TABLE auth_keys ADD COLUMN rotated_at INTEGER;

-- The tenant of the caller an audit entry records.
ALTER TABLE audit_log ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX audit_log_tenant ON audit_log(tenant, id);
