-- Storage quotas: what a tenant's documents may take (NULL: no limit), what each document
-- takes (title + content + metadata bytes), and what each tenant's take now, kept by every
-- write in its own transaction so concurrent ingests cannot pass a quota together.
ALTER TABLE tenants ADD COLUMN max_sections INTEGER;
ALTER TABLE tenants ADD COLUMN max_bytes INTEGER;

ALTER TABLE kb_documents ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE kb_documents SET stored_bytes = length(CAST(title AS BLOB))
    + length(CAST(content AS BLOB)) + length(CAST(metadata AS BLOB));

CREATE TABLE tenant_storage (
    tenant   TEXT PRIMARY KEY,
    sections INTEGER NOT NULL DEFAULT 0,
    bytes    INTEGER NOT NULL DEFAULT 0
);
-- A namespace's tenant is what comes before its `.`; bare names are the default tenant's.
INSERT INTO tenant_storage (tenant, sections, bytes)
SELECT CASE WHEN instr(namespace, '.') > 0 THEN substr(namespace, 1, instr(namespace, '.') - 1)
            ELSE 'default' END AS owner,
       SUM(section_count), SUM(stored_bytes)
FROM kb_documents GROUP BY owner;
