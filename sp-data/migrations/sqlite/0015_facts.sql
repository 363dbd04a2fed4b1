-- Memory that learns (embedded): the facts a context extracts from its turns. A fact is closed
-- by the one that replaces it (valid_to, superseded_by), never deleted by it; at most one
-- current fact per context, subject and attribute (the partial unique index).
ALTER TABLE ctx_contexts ADD COLUMN extract_facts BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX ctx_contexts_extracting ON ctx_contexts(namespace) WHERE extract_facts;

CREATE TABLE ctx_facts (
    id             TEXT PRIMARY KEY,
    namespace      TEXT NOT NULL,
    context_id     TEXT NOT NULL REFERENCES ctx_contexts(id) ON DELETE CASCADE,
    subject        TEXT NOT NULL,
    attribute      TEXT NOT NULL,
    value          TEXT NOT NULL,
    subject_key    TEXT NOT NULL,
    attribute_key  TEXT NOT NULL,
    value_key      TEXT NOT NULL,
    confidence     REAL NOT NULL,
    mentions       INTEGER NOT NULL,
    source_message TEXT,
    vector         BLOB,                     -- little-endian f32s, when an embedder was set
    valid_from     INTEGER NOT NULL,         -- microseconds since the epoch
    valid_to       INTEGER,
    superseded_by  TEXT,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX ctx_facts_current ON ctx_facts(context_id, subject_key, attribute_key)
    WHERE valid_to IS NULL;
CREATE INDEX ctx_facts_timeline ON ctx_facts(context_id, valid_from);
