-- Storage quotas: what a tenant's documents may take (NULL: no limit), what each document
-- takes (title + content + metadata bytes), and what each tenant's take now, kept by every
-- write in its own transaction so concurrent ingests cannot pass a quota together (the
-- conditional update of a tenant's row serialises them).
ALTER TABLE tenants ADD COLUMN max_sections BIGINT;
ALTER TABLE tenants ADD COLUMN max_bytes BIGINT;

ALTER TABLE kb_documents ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE kb_documents SET stored_bytes = octet_length(title) + octet_length(content)
    + octet_length(metadata::text);

CREATE TABLE tenant_storage (
    tenant   TEXT PRIMARY KEY,
    sections BIGINT NOT NULL DEFAULT 0,
    bytes    BIGINT NOT NULL DEFAULT 0
);
-- A namespace's tenant is what comes before its `.`; bare names are the default tenant's.
INSERT INTO tenant_storage (tenant, sections, bytes)
SELECT CASE WHEN strpos(namespace, '.') > 0 THEN split_part(namespace, '.', 1)
            ELSE 'default' END AS owner,
       SUM(section_count), SUM(stored_bytes)
FROM kb_documents GROUP BY owner;
