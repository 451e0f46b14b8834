-- Idempotent steps. Keep in step with migrations/sqlite.
--   step_key  the client's step_id (POST /builds/step) or the CI provider's step number (a
--             GitHub step's number, a GitLab job's id); NULL when none was given. A key is
--             stored once per run, so a retried or redelivered step is acknowledged, not
--             stored twice. Rows of the previous version have no key and stay as they are.
ALTER TABLE steps ADD COLUMN step_key TEXT;
CREATE UNIQUE INDEX steps_run_step_key ON steps (run_id, step_key) WHERE step_key IS NOT NULL;

-- The generation of the stored policies: every create, replace and delete moves it in the
-- same transaction, so a replica keeping the compiled policy set notices another's change
-- with one cheap read.
CREATE TABLE policy_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO policy_generation (id, generation) VALUES (1, 0);
