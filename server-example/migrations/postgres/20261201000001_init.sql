-- InfraMind server schema (PostgreSQL). Keep in step with migrations/sqlite.
CREATE TABLE runs (
    run_id              TEXT PRIMARY KEY,
    pipeline            TEXT NOT NULL,
    tool                TEXT NOT NULL,
    status              TEXT NOT NULL,
    concurrency         BIGINT,
    cpu_cores           DOUBLE PRECISION,
    memory_bytes        BIGINT,
    labels              TEXT NOT NULL,
    start_request       TEXT NOT NULL,
    started_at          DOUBLE PRECISION NOT NULL,
    n_steps             BIGINT NOT NULL DEFAULT 0,
    duration_s          DOUBLE PRECISION,
    completed_at        DOUBLE PRECISION,
    seq                 BIGINT,
    completion_request  TEXT,
    completion_response TEXT
);
CREATE INDEX runs_pipeline_seq ON runs (pipeline, seq);

CREATE TABLE steps (
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    step_index     BIGINT NOT NULL,
    name           TEXT NOT NULL,
    duration_s     DOUBLE PRECISION NOT NULL,
    status         TEXT NOT NULL,
    max_rss_bytes  BIGINT,
    cpu_seconds    DOUBLE PRECISION,
    io_read_bytes  BIGINT,
    io_write_bytes BIGINT,
    cache_hits     BIGINT,
    cache_misses   BIGINT,
    PRIMARY KEY (run_id, step_index)
);

CREATE TABLE pipelines (
    pipeline             TEXT PRIMARY KEY,
    completed            BIGINT NOT NULL DEFAULT 0,
    trained_at_completed BIGINT NOT NULL DEFAULT 0,
    model_version        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE decisions (
    id          BIGSERIAL PRIMARY KEY,
    at          TEXT NOT NULL,
    receiver    TEXT NOT NULL,
    policy      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alertname   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    record      TEXT NOT NULL,
    execution   TEXT NOT NULL
);

CREATE TABLE trainings (
    id            BIGSERIAL PRIMARY KEY,
    pipeline      TEXT NOT NULL,
    replica       TEXT NOT NULL,
    started_at    DOUBLE PRECISION NOT NULL,
    finished_at   DOUBLE PRECISION NOT NULL,
    model_version BIGINT,
    outcome       TEXT NOT NULL
);
