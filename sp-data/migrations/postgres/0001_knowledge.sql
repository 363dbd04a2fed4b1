-- Knowledge store, PostgreSQL backend. Runs inside the configured schema (search_path).
CREATE TABLE kb_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    dimensions  INTEGER NOT NULL CHECK (dimensions > 0)
);

CREATE TABLE kb_namespaces (
    name        TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE kb_documents (
    id            UUID PRIMARY KEY,              -- UUIDv7: creation order
    namespace     TEXT NOT NULL REFERENCES kb_namespaces(name),
    external_id   TEXT,
    title         TEXT NOT NULL,
    source_uri    TEXT,
    metadata      JSONB NOT NULL,
    content       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    section_count INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    deleted_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX kb_documents_external ON kb_documents(namespace, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX kb_documents_content ON kb_documents(namespace, content_hash)
    WHERE external_id IS NULL;
-- Also the index of the namespace foreign key.
CREATE INDEX kb_documents_listing ON kb_documents(namespace, id);
CREATE INDEX kb_documents_metadata ON kb_documents USING gin (metadata jsonb_path_ops);

CREATE TABLE kb_sections (
    id           BIGSERIAL PRIMARY KEY,
    document_id  UUID NOT NULL REFERENCES kb_documents(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    heading_path JSONB NOT NULL,
    text         TEXT NOT NULL,
    token_count  INTEGER NOT NULL,
    embedding    vector NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    -- Also the index of the document foreign key (its leading column).
    UNIQUE (document_id, ordinal)
);
CREATE INDEX kb_sections_tsv ON kb_sections USING gin (tsv);
-- The HNSW index needs a fixed dimension; the store creates it on open, once the dimension
-- is known: kb_sections_embedding on ((embedding::vector(N)) vector_cosine_ops).
