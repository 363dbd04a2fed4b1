-- Agent contexts, embedded backend.
CREATE TABLE ctx_contexts (
    id                  TEXT PRIMARY KEY,      -- UUIDv7: text order is creation order
    namespace           TEXT NOT NULL,
    agent               TEXT,
    title               TEXT,
    system_prompt       TEXT,
    metadata            TEXT NOT NULL,         -- JSON object
    forked_from_context TEXT,                  -- not a foreign key: the source may be deleted
    forked_from_message TEXT,
    message_count       INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,      -- microseconds since the epoch
    updated_at          INTEGER NOT NULL
);
CREATE INDEX ctx_contexts_listing ON ctx_contexts(namespace, id);

CREATE TABLE ctx_messages (
    id             TEXT PRIMARY KEY,
    context_id     TEXT NOT NULL REFERENCES ctx_contexts(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    kind           TEXT NOT NULL CHECK (kind IN ('turn', 'summary')),
    content        TEXT NOT NULL,
    tool_calls     TEXT NOT NULL,              -- JSON array
    tool_call_id   TEXT,
    covers_through INTEGER,
    metadata       TEXT NOT NULL,
    token_count    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    -- Also the index of the context foreign key (its leading column).
    UNIQUE (context_id, seq)
);
CREATE INDEX ctx_messages_summaries ON ctx_messages(context_id, seq) WHERE kind = 'summary';

-- Every tool call id an assistant message made, so a tool result is checked in one lookup.
CREATE TABLE ctx_tool_calls (
    context_id  TEXT NOT NULL REFERENCES ctx_contexts(id) ON DELETE CASCADE,
    call_id     TEXT NOT NULL,
    PRIMARY KEY (context_id, call_id)
);

CREATE TABLE ctx_memory (
    namespace   TEXT NOT NULL,
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('context', 'agent')),
    scope_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    content     TEXT NOT NULL,
    limit_chars INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (namespace, scope_kind, scope_id, name)
);
