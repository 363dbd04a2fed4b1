-- Which documents changed since the vector index's snapshot (`sp.db.kb-index/`) was saved:
-- written by triggers in the transaction of each change, so no write path can forget it. An
-- open replays the documents listed past the snapshot's position from their rows; a save
-- removes the entries it covers. One row per document: a later change moves it to the end.
CREATE TABLE kb_index_journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  TEXT NOT NULL UNIQUE
);
CREATE TRIGGER kb_index_journal_section_insert AFTER INSERT ON kb_sections BEGIN
    INSERT OR REPLACE INTO kb_index_journal (document_id) VALUES (new.document_id);
END;
CREATE TRIGGER kb_index_journal_section_update AFTER UPDATE ON kb_sections BEGIN
    INSERT OR REPLACE INTO kb_index_journal (document_id) VALUES (new.document_id);
END;
CREATE TRIGGER kb_index_journal_section_delete AFTER DELETE ON kb_sections BEGIN
    INSERT OR REPLACE INTO kb_index_journal (document_id) VALUES (old.document_id);
END;
CREATE TRIGGER kb_index_journal_document_update AFTER UPDATE ON kb_documents BEGIN
    INSERT OR REPLACE INTO kb_index_journal (document_id) VALUES (new.id);
END;
CREATE TRIGGER kb_index_journal_document_delete AFTER DELETE ON kb_documents BEGIN
    INSERT OR REPLACE INTO kb_index_journal (document_id) VALUES (old.id);
END;

-- A random name of this database, written into the snapshot's manifest: a snapshot saved
-- beside another database (a restored or copied file) is never read as this one's.
CREATE TABLE kb_index_identity (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    token  TEXT NOT NULL
);
INSERT INTO kb_index_identity (id, token) VALUES (1, lower(hex(randomblob(16))));
