-- Agent contexts, PostgreSQL backend. Runs inside the configured schema (search_path).
CREATE TABLE ctx_contexts (
    id                  UUID PRIMARY KEY,      -- UUIDv7: creation order
    namespace           TEXT NOT NULL,
    agent               TEXT,
    title               TEXT,
    system_prompt       TEXT,
    metadata            JSONB NOT NULL,
    forked_from_context UUID,                  -- not a foreign key: the source may be deleted
    forked_from_message UUID,
    message_count       BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX ctx_contexts_listing ON ctx_contexts(namespace, id);

CREATE TABLE ctx_messages (
    id             UUID PRIMARY KEY,
    context_id     UUID NOT NULL REFERENCES ctx_contexts(id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    kind           TEXT NOT NULL CHECK (kind IN ('turn', 'summary')),
    content        TEXT NOT NULL,
    tool_calls     JSONB NOT NULL,
    tool_call_id   TEXT,
    covers_through BIGINT,
    metadata       JSONB NOT NULL,
    token_count    INTEGER NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    -- Also the index of the context foreign key (its leading column).
    UNIQUE (context_id, seq)
);
CREATE INDEX ctx_messages_summaries ON ctx_messages(context_id, seq) WHERE kind = 'summary';

-- Every tool call id an assistant message made, so a tool result is checked in one lookup.
CREATE TABLE ctx_tool_calls (
    context_id  UUID NOT NULL REFERENCES ctx_contexts(id) ON DELETE CASCADE,
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
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, scope_kind, scope_id, name)
);
