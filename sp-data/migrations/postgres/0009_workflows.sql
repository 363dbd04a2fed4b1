-- Workflow definitions, their runs and the runs' steps.
CREATE TABLE workflows (
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    version     INTEGER NOT NULL,
    steps       JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE workflow_runs (
    id             UUID PRIMARY KEY,       -- UUIDv7: newest first by id
    namespace      TEXT NOT NULL,
    workflow       TEXT NOT NULL,
    version        INTEGER NOT NULL,
    definition     JSONB NOT NULL,         -- the steps as they were when the run started
    input          JSONB NOT NULL,
    status         TEXT NOT NULL,
    output         JSONB,
    error          JSONB,
    correlation_id TEXT NOT NULL,
    owner          TEXT NOT NULL,          -- the process holding the lease
    lease_until    TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ
);
CREATE INDEX workflow_runs_list ON workflow_runs(namespace, id);
CREATE INDEX workflow_runs_of_workflow ON workflow_runs(namespace, workflow, id);
CREATE INDEX workflow_runs_lease ON workflow_runs(lease_until) WHERE status = 'running';
CREATE INDEX workflow_runs_owner ON workflow_runs(owner) WHERE status = 'running';

CREATE TABLE workflow_steps (
    run_id      UUID NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    ordinal     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    output      JSONB,
    error       JSONB,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (run_id, step_id)
);
