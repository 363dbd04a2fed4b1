-- Agent definitions, their runs, and each run's event stream (embedded). The run's truth is
-- its events; the run row is a summary kept in step with them.
CREATE TABLE agents (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,              -- JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE agent_runs (
    id                TEXT PRIMARY KEY,    -- UUIDv7: newest first by id
    namespace         TEXT NOT NULL,
    agent             TEXT NOT NULL,
    version           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    input             TEXT NOT NULL,
    output            TEXT,
    error             TEXT,                -- JSON
    steps             INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    correlation_id    TEXT NOT NULL,
    events            INTEGER NOT NULL,    -- events recorded; the next is events + 1
    owner             TEXT NOT NULL,       -- the process holding the lease
    lease_until       INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX agent_runs_list ON agent_runs(namespace, id);
CREATE INDEX agent_runs_of_agent ON agent_runs(namespace, agent, id);
CREATE INDEX agent_runs_lease ON agent_runs(lease_until) WHERE status = 'running';

CREATE TABLE agent_run_events (
    run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    event  TEXT NOT NULL,                  -- JSON
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
