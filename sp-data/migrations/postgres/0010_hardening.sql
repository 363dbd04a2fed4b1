-- How often a step's attempt was cut short by a stopped process: a step resumed more
-- often than `workflows.max_step_resumes` fails instead of crash-looping its processes.
ALTER TABLE workflow_steps ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;

-- Audit retention deletes by answer time.
CREATE INDEX audit_log_at ON audit_log(at);
