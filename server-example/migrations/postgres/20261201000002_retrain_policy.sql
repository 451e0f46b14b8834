-- The counts the core's retrain policy decides from (inframind_core::retrain), per pipeline.
-- Keep in step with migrations/sqlite.
--   successes    successful completed runs with a declared config: the rows a model learns from
--   surprise_at  the completion count (runs.seq) of the newest surprising run with a config (an
--                OOM kill, or a success far from its prediction); 0 when none. It is a surprise
--                for the policy while it is above trained_at_completed, so no flag needs clearing
--                after a training and one arriving during a training is not lost.
ALTER TABLE pipelines ADD COLUMN successes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pipelines ADD COLUMN surprise_at BIGINT NOT NULL DEFAULT 0;

-- A database of the previous version: count what its runs already hold.
UPDATE pipelines SET
    successes = (SELECT COUNT(*) FROM runs
                 WHERE runs.pipeline = pipelines.pipeline AND runs.status = 'success'
                   AND runs.concurrency IS NOT NULL),
    surprise_at = COALESCE((SELECT MAX(runs.seq) FROM runs
                            WHERE runs.pipeline = pipelines.pipeline
                              AND runs.status = 'oom_killed' AND runs.concurrency IS NOT NULL), 0);
