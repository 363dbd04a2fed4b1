-- Agent definitions, their runs, and each run's event stream (the run's truth: its state is
-- the fold of its events; the run row is a summary kept in step with them).
CREATE TABLE agents (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE agent_runs (
    id                UUID PRIMARY KEY,    -- UUIDv7: newest first by id
    namespace         TEXT NOT NULL,
    agent             TEXT NOT NULL,
    version           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    input             TEXT NOT NULL,
    output            TEXT,
    error             JSONB,
    steps             INTEGER NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens     BIGINT NOT NULL,
    correlation_id    TEXT NOT NULL,
    events            BIGINT NOT NULL,     -- events recorded; the next is events + 1
    owner             TEXT NOT NULL,       -- the process holding the lease
    lease_until       TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX agent_runs_list ON agent_runs(namespace, id);
CREATE INDEX agent_runs_of_agent ON agent_runs(namespace, agent, id);
CREATE INDEX agent_runs_lease ON agent_runs(lease_until) WHERE status = 'running';

CREATE TABLE agent_run_events (
    run_id UUID NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    seq    BIGINT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    event  JSONB NOT NULL,
    PRIMARY KEY (run_id, seq)
);
