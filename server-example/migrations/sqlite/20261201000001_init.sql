-- InfraMind server schema (SQLite). Keep in step with migrations/postgres.
CREATE TABLE runs (
    run_id              TEXT PRIMARY KEY,
    pipeline            TEXT NOT NULL,
    tool                TEXT NOT NULL,
    status              TEXT NOT NULL,
    concurrency         INTEGER,
    cpu_cores           REAL,
    memory_bytes        INTEGER,
    labels              TEXT NOT NULL,
    start_request       TEXT NOT NULL,
    started_at          REAL NOT NULL,
    n_steps             INTEGER NOT NULL DEFAULT 0,
    duration_s          REAL,
    completed_at        REAL,
    seq                 INTEGER,
    completion_request  TEXT,
    completion_response TEXT
);
CREATE INDEX runs_pipeline_seq ON runs (pipeline, seq);

CREATE TABLE steps (
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    step_index     INTEGER NOT NULL,
    name           TEXT NOT NULL,
    duration_s     REAL NOT NULL,
    status         TEXT NOT NULL,
    max_rss_bytes  INTEGER,
    cpu_seconds    REAL,
    io_read_bytes  INTEGER,
    io_write_bytes INTEGER,
    cache_hits     INTEGER,
    cache_misses   INTEGER,
    PRIMARY KEY (run_id, step_index)
);

CREATE TABLE pipelines (
    pipeline             TEXT PRIMARY KEY,
    completed            INTEGER NOT NULL DEFAULT 0,
    trained_at_completed INTEGER NOT NULL DEFAULT 0,
    model_version        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline      TEXT NOT NULL,
    replica       TEXT NOT NULL,
    started_at    REAL NOT NULL,
    finished_at   REAL NOT NULL,
    model_version INTEGER,
    outcome       TEXT NOT NULL
);
