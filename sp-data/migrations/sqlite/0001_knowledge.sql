-- Knowledge store, embedded backend.
CREATE TABLE kb_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    dimensions  INTEGER NOT NULL
);

CREATE TABLE kb_namespaces (
    name        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE kb_documents (
    id            TEXT PRIMARY KEY,            -- UUIDv7: text order is creation order
    namespace     TEXT NOT NULL REFERENCES kb_namespaces(name),
    external_id   TEXT,
    title         TEXT NOT NULL,
    source_uri    TEXT,
    metadata      TEXT NOT NULL,               -- JSON object
    content       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    section_count INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,            -- microseconds since the epoch
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE UNIQUE INDEX kb_documents_external ON kb_documents(namespace, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX kb_documents_content ON kb_documents(namespace, content_hash)
    WHERE external_id IS NULL;
CREATE INDEX kb_documents_listing ON kb_documents(namespace, id);

CREATE TABLE kb_sections (
    rowid        INTEGER PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES kb_documents(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    heading_path TEXT NOT NULL,                -- JSON array of strings
    text         TEXT NOT NULL,
    token_count  INTEGER NOT NULL,
    embedding    BLOB NOT NULL,                -- little-endian f32 × dimensions
    UNIQUE (document_id, ordinal)
);

CREATE VIRTUAL TABLE kb_sections_fts USING fts5(
    text, content = 'kb_sections', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER kb_sections_ai AFTER INSERT ON kb_sections BEGIN
    INSERT INTO kb_sections_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER kb_sections_ad AFTER DELETE ON kb_sections BEGIN
    INSERT INTO kb_sections_fts(kb_sections_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
