-- Vector search ranks sections on their own table (the HNSW index scan under a LIMIT, with
-- pgvector's iterative scan), so the namespace filter must live on kb_sections too: a copy of
-- the document's namespace, which never changes for a document.
ALTER TABLE kb_sections ADD COLUMN namespace TEXT;
UPDATE kb_sections s SET namespace = d.namespace FROM kb_documents d WHERE d.id = s.document_id;
ALTER TABLE kb_sections ALTER COLUMN namespace SET NOT NULL;
