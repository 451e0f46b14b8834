//! Storage: SQLite or PostgreSQL through sqlx's `Any` driver, one SQL for both where possible.
//!
//! Every write goes through one **writer task** per process ([`Db`] hands it jobs over a
//! channel): it takes up to `write_batch` queued jobs, applies them in **one transaction**,
//! commits, and only then answers each request. A client is told "201" only after its row is
//! committed, so a crash loses nothing acknowledged; and one commit (one WAL sync) carries many
//! requests, which is how `/builds/step` keeps up on SQLite with `synchronous=FULL`. Consecutive
//! steps in a batch are written together (one counter update per run, one INSERT per 32
//! steps): each statement is a round trip to the database (a thread hand-off for SQLite, TCP
//! for PostgreSQL), and two per step were most of the server's time under load. If a job
//! fails in the database (not a 404/409, which writes nothing), the batch is rolled back and its
//! jobs are retried one transaction each, so one bad job never fails its neighbours.
//!
//! SQLite runs in WAL mode (readers never block the writer) with `synchronous=FULL` by default
//! (`--sqlite-synchronous normal` trades the last commits on power loss for speed). One process
//! per SQLite file: for several replicas use PostgreSQL, where row locks (`FOR UPDATE`, the
//! `pipelines` counter) order concurrent writers and a deadlock between two replicas' batches
//! is retried job by job.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inframind_core::telemetry::{BuildConfig, BuildRun, BuildStep, RunStatus};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, SqliteSync};
use crate::error::{AppError, Result};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Seconds since the Unix epoch, now.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The contract's name of a status.
pub fn status_str(s: RunStatus) -> &'static str {
    s.as_str()
}

/// A status from its stored name.
pub fn parse_status(s: &str) -> Option<RunStatus> {
    s.parse().ok()
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Run id (client's or generated).
    pub run_id: String,
    /// Pipeline.
    pub pipeline: String,
    /// Build tool.
    pub tool: String,
    /// Resources, when the client declared them (runs without are not learned from).
    pub config: Option<BuildConfig>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Canonical JSON of the start request, compared on a repeated start.
    pub canonical: String,
    /// Start time, Unix seconds.
    pub started_at: f64,
}

/// What a start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartResult {
    /// A new run.
    Created,
    /// The same start again: nothing changed.
    Same,
    /// The run id exists with another body.
    Conflict,
}

/// A completion to apply.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Run id.
    pub run_id: String,
    /// Final status (already corrected by the classification).
    pub final_status: RunStatus,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Canonical JSON of the completion request, compared on a repeated completion.
    pub canonical: String,
    /// The response body to store and answer.
    pub response: String,
}

/// What a completion did.
#[derive(Debug, Clone, PartialEq)]
pub enum CompleteResult {
    /// Applied: the pipeline now has `completed` completed runs, the last training saw
    /// `trained_at_completed`.
    Done {
        /// The stored response.
        response: String,
        /// Pipeline of the run.
        pipeline: String,
        /// Completed runs of the pipeline, this one included.
        completed: i64,
        /// Completed-run count at the last training.
        trained_at_completed: i64,
    },
    /// The same completion again: the stored response, nothing changed.
    Same(String),
}

/// A run as stored.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The run (config defaults to zeros when it was not declared: see `has_config`).
    pub run: BuildRun,
    /// Whether the client declared the config.
    pub has_config: bool,
    /// Completion order in the pipeline, once completed.
    pub seq: Option<i64>,
    /// Stored completion response.
    pub completion_response: Option<String>,
}

/// The freshness state of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipelineState {
    /// Completed runs.
    pub completed: i64,
    /// Completed runs when the last model was trained.
    pub trained_at_completed: i64,
    /// Newest model version (0: none).
    pub model_version: i64,
}

/// One audited alert decision.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// RFC 3339 time of the decision.
    pub at: String,
    /// Webhook receiver.
    pub receiver: String,
    /// Policy name.
    pub policy: String,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// Alert name.
    pub alertname: String,
    /// matched / rejected / suppressed.
    pub outcome: String,
    /// The core's audit record, JSON.
    pub record: String,
    /// What the executor did, JSON.
    pub execution: String,
}

/// One training attempt, for the audit trail (and the one-trainer-at-a-time test).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    /// Pipeline.
    pub pipeline: String,
    /// Replica that trained.
    pub replica: String,
    /// Start, Unix seconds.
    pub started_at: f64,
    /// End, Unix seconds.
    pub finished_at: f64,
    /// Version stored, when trained.
    pub model_version: Option<i64>,
    /// trained / failed.
    pub outcome: String,
}

/// How a policy is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Create; 409 when the name exists.
    Create,
    /// Create or replace.
    Upsert,
}

enum Op {
    Start(NewRun),
    Step(String, BuildStep),
    Complete(Completion),
    PutPolicy(String, String, PutMode),
    DeletePolicy(String),
    Decisions(Vec<DecisionRow>),
    Model {
        pipeline: String,
        version: i64,
        trained_at_completed: i64,
    },
    Trained(String, i64),
    Training(TrainingRow),
}

enum Reply {
    Start(StartResult),
    Step(i64),
    Complete(CompleteResult),
    Unit,
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Reply>>,
}

/// The database: a read pool and the writer task's queue.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Connects, applies the embedded migrations and starts the writer task.
    pub async fn connect(config: &Config) -> Result<Db> {
        let url = config.db_url.as_str();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(AppError::invalid(
                "db",
                format!(
                    "unsupported database URL {:?}: use sqlite://FILE or postgres://...",
                    redact(url)
                ),
            ));
        };
        if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
            return Err(AppError::invalid(
                "db",
                "in-memory SQLite is not supported (each pooled connection would see its own \
                 database): give a file, e.g. --db /tmp/inframind.db",
            ));
        }
        sqlx::any::install_default_drivers();
        let sync = match config.sqlite_sync {
            SqliteSync::Full => "PRAGMA synchronous=FULL",
            SqliteSync::Normal => "PRAGMA synchronous=NORMAL",
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute(sync).await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                        conn.execute("PRAGMA busy_timeout=5000").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| {
                AppError::Unavailable(format!("cannot connect to {}: {e}", redact(url)))
            })?;
        let migrated = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await,
        };
        migrated.map_err(|e| AppError::Unavailable(format!("database migration failed: {e}")))?;
        let (tx, rx) = mpsc::channel(config.write_batch.max(1) * 8);
        tokio::spawn(writer_loop(
            pool.clone(),
            backend,
            rx,
            config.write_batch.max(1),
        ));
        Ok(Db {
            pool,
            backend,
            writer: tx,
        })
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The read pool (the trainer takes its advisory-lock connection from it).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        let fut = sqlx::query("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(Duration::from_secs(2), fut).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(AppError::Unavailable(format!("database unreachable: {e}"))),
            Err(_) => Err(AppError::Unavailable(
                "database did not answer within 2 s".into(),
            )),
        }
    }

    /// Closes the pool (the writer finishes its queue first when the last `Db` is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn submit(&self, op: Op) -> Result<Reply> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { op, reply })
            .await
            .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?
    }

    /// Stores whole runs in order (start, steps, completion), queued back to back so the writer
    /// commits them in large batches; used by `--demo` and the benchmarks' fixtures.
    pub async fn seed_runs(&self, runs: Vec<(NewRun, Vec<BuildStep>, Completion)>) -> Result<()> {
        let mut replies = Vec::new();
        for (run, steps, completion) in runs {
            let run_id = run.run_id.clone();
            let mut ops = vec![Op::Start(run)];
            ops.extend(steps.into_iter().map(|s| Op::Step(run_id.clone(), s)));
            ops.push(Op::Complete(completion));
            for op in ops {
                let (reply, rx) = oneshot::channel();
                self.writer
                    .send(Job { op, reply })
                    .await
                    .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?;
                replies.push(rx);
            }
        }
        for rx in replies {
            rx.await
                .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))??;
        }
        Ok(())
    }

    /// Starts a run (idempotent on the run id and body).
    pub async fn start_run(&self, run: NewRun) -> Result<StartResult> {
        match self.submit(Op::Start(run)).await? {
            Reply::Start(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    /// Appends a step to a running run; returns its index.
    pub async fn add_step(&self, run_id: String, step: BuildStep) -> Result<i64> {
        match self.submit(Op::Step(run_id, step)).await? {
            Reply::Step(i) => Ok(i),
            _ => Err(unexpected()),
        }
    }

    /// Completes a run (idempotent on the same completion; 409 on another).
    pub async fn complete_run(&self, c: Completion) -> Result<CompleteResult> {
        match self.submit(Op::Complete(c)).await? {
            Reply::Complete(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    /// Creates or replaces a policy (the spec already validated by the core).
    pub async fn put_policy(&self, name: String, spec_json: String, mode: PutMode) -> Result<()> {
        self.submit(Op::PutPolicy(name, spec_json, mode))
            .await
            .map(|_| ())
    }

    /// Deletes a policy; 404 when it does not exist.
    pub async fn delete_policy(&self, name: String) -> Result<()> {
        self.submit(Op::DeletePolicy(name)).await.map(|_| ())
    }

    /// Audits decisions.
    pub async fn insert_decisions(&self, rows: Vec<DecisionRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.submit(Op::Decisions(rows)).await.map(|_| ())
    }

    /// Records a newly stored model version.
    pub async fn record_model(
        &self,
        pipeline: String,
        version: i64,
        trained_at_completed: i64,
    ) -> Result<()> {
        self.submit(Op::Model {
            pipeline,
            version,
            trained_at_completed,
        })
        .await
        .map(|_| ())
    }

    /// Records that a training attempt saw `completed` runs (even when it stored nothing).
    pub async fn mark_trained(&self, pipeline: String, completed: i64) -> Result<()> {
        self.submit(Op::Trained(pipeline, completed))
            .await
            .map(|_| ())
    }

    /// Logs a training attempt.
    pub async fn log_training(&self, row: TrainingRow) -> Result<()> {
        self.submit(Op::Training(row)).await.map(|_| ())
    }

    /// A run with its steps.
    pub async fn run(&self, run_id: &str) -> Result<Option<StoredRun>> {
        let row = sqlx::query(RUN_SELECT_BY_ID)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut stored = decode_run(&row)?;
        let steps = sqlx::query(STEPS_OF_RUN)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        for s in &steps {
            stored.run.steps.push(decode_step(s)?);
        }
        Ok(Some(stored))
    }

    /// The freshness state of a pipeline (`None` when it has never had a run).
    pub async fn pipeline_state(&self, pipeline: &str) -> Result<Option<PipelineState>> {
        let row = sqlx::query(
            "SELECT completed, trained_at_completed, model_version FROM pipelines WHERE pipeline = $1",
        )
        .bind(pipeline)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(PipelineState {
                completed: r.try_get(0)?,
                trained_at_completed: r.try_get(1)?,
                model_version: r.try_get(2)?,
            }),
            None => None,
        })
    }

    /// Every pipeline with runs.
    pub async fn pipelines(&self) -> Result<Vec<(String, PipelineState)>> {
        let rows = sqlx::query(
            "SELECT pipeline, completed, trained_at_completed, model_version FROM pipelines ORDER BY pipeline",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    PipelineState {
                        completed: r.try_get(1)?,
                        trained_at_completed: r.try_get(2)?,
                        model_version: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }

    /// Completed runs of `pipeline` with a declared config whose completion order is in
    /// `(after_seq, up_to_seq]`, the newest `limit` of them, oldest first, with their steps.
    pub async fn history(
        &self,
        pipeline: &str,
        after_seq: i64,
        up_to_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, BuildRun)>> {
        if up_to_seq <= after_seq || limit <= 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(HISTORY_RUNS)
            .bind(pipeline)
            .bind(after_seq)
            .bind(up_to_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut runs: Vec<(i64, BuildRun)> = Vec::with_capacity(rows.len());
        for r in rows.iter().rev() {
            let stored = decode_run(r)?;
            runs.push((stored.seq.unwrap_or(0), stored.run));
        }
        let Some(min_seq) = runs.first().map(|(s, _)| *s) else {
            return Ok(runs);
        };
        let steps = sqlx::query(HISTORY_STEPS)
            .bind(pipeline)
            .bind(min_seq)
            .bind(up_to_seq)
            .fetch_all(&self.pool)
            .await?;
        let index: std::collections::HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, (_, r))| (r.run_id.clone(), i))
            .collect();
        for s in &steps {
            let run_id: String = s.try_get("run_id")?;
            if let Some(&i) = index.get(&run_id) {
                runs[i].1.steps.push(decode_step(s)?);
            }
        }
        Ok(runs)
    }

    /// Stored policies as (name, spec JSON), by name.
    pub async fn policies(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, spec FROM policies ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The newest audited decisions, newest first: (id, record JSON, execution JSON).
    pub async fn decisions(&self, limit: i64) -> Result<Vec<(i64, String, String)>> {
        let rows =
            sqlx::query("SELECT id, record, execution FROM decisions ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Training attempts of a pipeline, oldest first.
    pub async fn trainings(&self, pipeline: &str) -> Result<Vec<TrainingRow>> {
        let rows = sqlx::query(
            "SELECT pipeline, replica, started_at, finished_at, model_version, outcome \
             FROM trainings WHERE pipeline = $1 ORDER BY id",
        )
        .bind(pipeline)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TrainingRow {
                    pipeline: r.try_get(0)?,
                    replica: r.try_get(1)?,
                    started_at: r.try_get(2)?,
                    finished_at: r.try_get(3)?,
                    model_version: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Rows in `steps` (the load benchmark counts them after a run).
    pub async fn count_steps(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM steps")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

fn unexpected() -> AppError {
    AppError::Internal("the database writer answered another kind of job".into())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

const RUN_SELECT_BY_ID: &str = "SELECT run_id, pipeline, tool, status, concurrency, cpu_cores, \
     memory_bytes, labels, started_at, duration_s, seq, completion_response FROM runs WHERE run_id = $1";

const STEPS_OF_RUN: &str = "SELECT run_id, step_index, name, duration_s, status, max_rss_bytes, \
     cpu_seconds, io_read_bytes, io_write_bytes, cache_hits, cache_misses FROM steps \
     WHERE run_id = $1 ORDER BY step_index";

const HISTORY_RUNS: &str = "SELECT run_id, pipeline, tool, status, concurrency, cpu_cores, \
     memory_bytes, labels, started_at, duration_s, seq, completion_response FROM runs \
     WHERE pipeline = $1 AND seq > $2 AND seq <= $3 AND concurrency IS NOT NULL \
     ORDER BY seq DESC LIMIT $4";

const HISTORY_STEPS: &str = "SELECT s.run_id, s.step_index, s.name, s.duration_s, s.status, \
     s.max_rss_bytes, s.cpu_seconds, s.io_read_bytes, s.io_write_bytes, s.cache_hits, \
     s.cache_misses FROM steps s JOIN runs r ON r.run_id = s.run_id \
     WHERE r.pipeline = $1 AND r.seq >= $2 AND r.seq <= $3 AND r.concurrency IS NOT NULL \
     ORDER BY s.run_id, s.step_index";

fn to_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|x| u64::try_from(x).ok())
}

fn decode_run(r: &AnyRow) -> Result<StoredRun> {
    let status: String = r.try_get("status")?;
    let status = parse_status(&status)
        .ok_or_else(|| AppError::Internal(format!("stored run has unknown status {status:?}")))?;
    let concurrency: Option<i64> = r.try_get("concurrency")?;
    let cpu_cores: Option<f64> = r.try_get("cpu_cores")?;
    let memory_bytes: Option<i64> = r.try_get("memory_bytes")?;
    let config = match (concurrency, cpu_cores, to_u64(memory_bytes)) {
        (Some(c), Some(cpu), Some(mem)) => Some(BuildConfig {
            concurrency: u32::try_from(c).unwrap_or(u32::MAX),
            cpu_cores: cpu,
            memory_bytes: mem,
        }),
        _ => None,
    };
    let labels: String = r.try_get("labels")?;
    let labels: BTreeMap<String, String> = serde_json::from_str(&labels).unwrap_or_default();
    let duration: Option<f64> = r.try_get("duration_s")?;
    Ok(StoredRun {
        has_config: config.is_some(),
        run: BuildRun {
            run_id: r.try_get("run_id")?,
            pipeline: r.try_get("pipeline")?,
            tool: r.try_get("tool")?,
            status,
            duration_s: duration.unwrap_or(0.0),
            config: config.unwrap_or(BuildConfig {
                concurrency: 0,
                cpu_cores: 0.0,
                memory_bytes: 0,
            }),
            steps: Vec::new(),
            max_rss_bytes: None,
            started_at: Some(r.try_get("started_at")?),
            labels,
        },
        seq: r.try_get("seq")?,
        completion_response: r.try_get("completion_response")?,
    })
}

fn decode_step(r: &AnyRow) -> Result<BuildStep> {
    let status: String = r.try_get("status")?;
    Ok(BuildStep {
        name: r.try_get("name")?,
        duration_s: r.try_get("duration_s")?,
        status: parse_status(&status).unwrap_or(RunStatus::Success),
        max_rss_bytes: to_u64(r.try_get("max_rss_bytes")?),
        cpu_seconds: r.try_get("cpu_seconds")?,
        io_read_bytes: to_u64(r.try_get("io_read_bytes")?),
        io_write_bytes: to_u64(r.try_get("io_write_bytes")?),
        cache_hits: to_u64(r.try_get("cache_hits")?),
        cache_misses: to_u64(r.try_get("cache_misses")?),
    })
}

/// Byte counts are stored as BIGINT; values past `i64::MAX` are refused at the door.
fn i64_of(v: Option<u64>) -> Option<i64> {
    v.map(|x| i64::try_from(x).unwrap_or(i64::MAX))
}

async fn writer_loop(pool: AnyPool, backend: Backend, mut rx: mpsc::Receiver<Job>, batch: usize) {
    let mut conn: Option<PoolConnection<Any>> = None;
    let mut jobs: Vec<Job> = Vec::with_capacity(batch);
    while rx.recv_many(&mut jobs, batch).await > 0 {
        run_batch(&pool, backend, &mut conn, &mut jobs).await;
        jobs.clear();
        if rx.is_empty() {
            // Idle: give the connection back, so closing the pool never waits on the writer.
            conn = None;
        }
    }
}

async fn take_conn<'a>(
    pool: &AnyPool,
    conn: &'a mut Option<PoolConnection<Any>>,
) -> Result<&'a mut PoolConnection<Any>> {
    if conn.is_none() {
        *conn = Some(pool.acquire().await?);
    }
    conn.as_mut()
        .ok_or_else(|| AppError::Unavailable("no database connection".into()))
}

fn fail_all(jobs: &mut Vec<Job>, e: &AppError) {
    for job in jobs.drain(..) {
        let _ = job.reply.send(Err(clone_err(e)));
    }
}

fn clone_err(e: &AppError) -> AppError {
    match e {
        AppError::Unavailable(m) => AppError::Unavailable(m.clone()),
        other => AppError::Internal(other.to_string()),
    }
}

async fn run_batch(
    pool: &AnyPool,
    backend: Backend,
    conn: &mut Option<PoolConnection<Any>>,
    jobs: &mut Vec<Job>,
) {
    let c = match take_conn(pool, conn).await {
        Ok(c) => c,
        Err(e) => return fail_all(jobs, &e),
    };
    let batch_result: std::result::Result<Vec<Result<Reply>>, sqlx::Error> = async {
        let mut tx = c.begin().await?;
        let mut replies = Vec::with_capacity(jobs.len());
        let mut rest = &jobs[..];
        while let Some(first) = rest.first() {
            // Consecutive steps are written together: one counter update per run and one
            // INSERT per STEP_ROWS_PER_INSERT steps, not two statements (two round trips to
            // the database) per step.
            let n_steps = rest
                .iter()
                .position(|j| !matches!(j.op, Op::Step(..)))
                .unwrap_or(rest.len());
            if n_steps == 0 {
                replies.push(apply(&mut tx, backend, &first.op).await?);
                rest = &rest[1..];
                continue;
            }
            let steps: Vec<(&str, &BuildStep)> = (rest[..n_steps].iter())
                .filter_map(|j| match &j.op {
                    Op::Step(run_id, step) => Some((run_id.as_str(), step)),
                    _ => None,
                })
                .collect();
            let indices = add_steps(&mut tx, &steps).await?;
            replies.extend(indices.into_iter().map(|r| r.map(Reply::Step)));
            rest = &rest[n_steps..];
        }
        tx.commit().await?;
        Ok(replies)
    }
    .await;
    match batch_result {
        Ok(replies) => {
            for (job, r) in jobs.drain(..).zip(replies) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) if jobs.len() == 1 => {
            *conn = None;
            fail_all(jobs, &AppError::from(e));
        }
        Err(e) => {
            tracing::warn!(
                "write batch of {} rolled back ({e}); retrying one by one",
                jobs.len()
            );
            *conn = None;
            for job in jobs.drain(..) {
                let r = one_job(pool, backend, conn, &job.op).await;
                let _ = job.reply.send(r);
            }
        }
    }
}

async fn one_job(
    pool: &AnyPool,
    backend: Backend,
    conn: &mut Option<PoolConnection<Any>>,
    op: &Op,
) -> Result<Reply> {
    let c = take_conn(pool, conn).await?;
    let r: std::result::Result<Result<Reply>, sqlx::Error> = async {
        let mut tx = c.begin().await?;
        let r = apply(&mut tx, backend, op).await?;
        tx.commit().await?;
        Ok(r)
    }
    .await;
    match r {
        Ok(r) => r,
        Err(e) => {
            *conn = None;
            Err(e.into())
        }
    }
}

/// Applies one job inside the batch's transaction. The outer error is a database failure
/// (the batch rolls back); the inner one is the request's answer (404, 409, 422), decided
/// before the job writes anything.
async fn apply(
    c: &mut AnyConnection,
    backend: Backend,
    op: &Op,
) -> std::result::Result<Result<Reply>, sqlx::Error> {
    match op {
        Op::Start(run) => start(c, run).await.map(|r| r.map(Reply::Start)),
        Op::Step(run_id, step) => {
            let mut index = add_steps(c, &[(run_id.as_str(), step)]).await?;
            Ok(index.pop().map_or_else(
                || Err(AppError::Internal("no answer for a step".into())),
                |r| r.map(Reply::Step),
            ))
        }
        Op::Complete(comp) => complete(c, backend, comp)
            .await
            .map(|r| r.map(Reply::Complete)),
        Op::PutPolicy(name, spec, mode) => put_policy(c, name, spec, *mode).await,
        Op::DeletePolicy(name) => {
            let done = sqlx::query("DELETE FROM policies WHERE name = $1")
                .bind(name.as_str())
                .execute(&mut *c)
                .await?;
            Ok(if done.rows_affected() == 0 {
                Err(AppError::NotFound(format!("no policy named {name:?}")))
            } else {
                Ok(Reply::Unit)
            })
        }
        Op::Decisions(rows) => {
            for d in rows {
                sqlx::query(
                    "INSERT INTO decisions (at, receiver, policy, fingerprint, alertname, outcome, \
                     record, execution) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(d.at.as_str())
                .bind(d.receiver.as_str())
                .bind(d.policy.as_str())
                .bind(d.fingerprint.as_str())
                .bind(d.alertname.as_str())
                .bind(d.outcome.as_str())
                .bind(d.record.as_str())
                .bind(d.execution.as_str())
                .execute(&mut *c)
                .await?;
            }
            Ok(Ok(Reply::Unit))
        }
        Op::Model {
            pipeline,
            version,
            trained_at_completed,
        } => {
            sqlx::query(
                "UPDATE pipelines SET model_version = $2, trained_at_completed = $3 \
                 WHERE pipeline = $1 AND model_version < $2",
            )
            .bind(pipeline.as_str())
            .bind(*version)
            .bind(*trained_at_completed)
            .execute(&mut *c)
            .await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Trained(pipeline, completed) => {
            sqlx::query(
                "UPDATE pipelines SET trained_at_completed = $2 \
                 WHERE pipeline = $1 AND trained_at_completed < $2",
            )
            .bind(pipeline.as_str())
            .bind(*completed)
            .execute(&mut *c)
            .await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Training(t) => {
            sqlx::query(
                "INSERT INTO trainings (pipeline, replica, started_at, finished_at, model_version, \
                 outcome) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(t.pipeline.as_str())
            .bind(t.replica.as_str())
            .bind(t.started_at)
            .bind(t.finished_at)
            .bind(t.model_version)
            .bind(t.outcome.as_str())
            .execute(&mut *c)
            .await?;
            Ok(Ok(Reply::Unit))
        }
    }
}

async fn start(
    c: &mut AnyConnection,
    run: &NewRun,
) -> std::result::Result<Result<StartResult>, sqlx::Error> {
    sqlx::query("INSERT INTO pipelines (pipeline) VALUES ($1) ON CONFLICT (pipeline) DO NOTHING")
        .bind(run.pipeline.as_str())
        .execute(&mut *c)
        .await?;
    let labels = serde_json::to_string(&run.labels).unwrap_or_else(|_| "{}".into());
    let inserted = sqlx::query(
        "INSERT INTO runs (run_id, pipeline, tool, status, concurrency, cpu_cores, memory_bytes, \
         labels, start_request, started_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run.run_id.as_str())
    .bind(run.pipeline.as_str())
    .bind(run.tool.as_str())
    .bind(run.config.map(|c| i64::from(c.concurrency)))
    .bind(run.config.map(|c| c.cpu_cores))
    .bind(i64_of(run.config.map(|c| c.memory_bytes)))
    .bind(labels)
    .bind(run.canonical.as_str())
    .bind(run.started_at)
    .execute(&mut *c)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Ok(StartResult::Created));
    }
    let existing: String = sqlx::query("SELECT start_request FROM runs WHERE run_id = $1")
        .bind(run.run_id.as_str())
        .fetch_one(&mut *c)
        .await?
        .try_get(0)?;
    Ok(Ok(if existing == run.canonical {
        StartResult::Same
    } else {
        StartResult::Conflict
    }))
}

/// Steps one INSERT statement writes at most (11 values each).
const STEP_ROWS_PER_INSERT: usize = 32;

/// Appends steps, in order, to their runs: each running run's step counter moves once by its
/// number of steps here, and the steps are inserted [`STEP_ROWS_PER_INSERT`] rows per
/// statement. One answer per step: its index in its run, or why it was refused (no such
/// run, or the run is completed), decided before anything is written for that run.
async fn add_steps(
    c: &mut AnyConnection,
    steps: &[(&str, &BuildStep)],
) -> std::result::Result<Vec<Result<i64>>, sqlx::Error> {
    // The steps of each run, in arrival order; runs are updated in run-id order, so two
    // replicas' batches lock the same runs in the same order.
    let mut of_run: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, &(run_id, _)) in steps.iter().enumerate() {
        of_run.entry(run_id).or_default().push(k);
    }
    let mut answers: Vec<Result<i64>> = Vec::with_capacity(steps.len());
    answers.resize_with(steps.len(), || Ok(0));
    let mut to_insert: Vec<(usize, i64)> = Vec::with_capacity(steps.len());
    for (run_id, members) in &of_run {
        let added = i64::try_from(members.len()).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "UPDATE runs SET n_steps = n_steps + $2 WHERE run_id = $1 AND status = 'running' \
             RETURNING n_steps",
        )
        .bind(*run_id)
        .bind(added)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(row) = row {
            let first: i64 = row.try_get::<i64, _>(0)? - added;
            for (j, &k) in members.iter().enumerate() {
                let index = first + j as i64;
                answers[k] = Ok(index);
                to_insert.push((k, index));
            }
            continue;
        }
        let status: Option<String> = sqlx::query("SELECT status FROM runs WHERE run_id = $1")
            .bind(*run_id)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        for &k in members {
            answers[k] = Err(match &status {
                None => AppError::NotFound(format!(
                    "no run {run_id:?}: start it with POST /builds/start first"
                )),
                Some(st) => AppError::Conflict(format!(
                    "run {run_id:?} is already completed (status {st}); steps can only be added to a running run"
                )),
            });
        }
    }
    for rows in to_insert.chunks(STEP_ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO steps (run_id, step_index, name, duration_s, status, max_rss_bytes, \
             cpu_seconds, io_read_bytes, io_write_bytes, cache_hits, cache_misses) VALUES ",
        );
        for r in 0..rows.len() {
            let placeholders: Vec<String> = (1..=11).map(|i| format!("${}", r * 11 + i)).collect();
            sql.push_str(if r == 0 { "(" } else { ", (" });
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        // Safe: the statement is constant text and placeholder numbers; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &(k, index) in rows {
            let (run_id, s) = steps[k];
            q = q
                .bind(run_id)
                .bind(index)
                .bind(s.name.as_str())
                .bind(s.duration_s)
                .bind(status_str(s.status))
                .bind(i64_of(s.max_rss_bytes))
                .bind(s.cpu_seconds)
                .bind(i64_of(s.io_read_bytes))
                .bind(i64_of(s.io_write_bytes))
                .bind(i64_of(s.cache_hits))
                .bind(i64_of(s.cache_misses));
        }
        q.execute(&mut *c).await?;
    }
    Ok(answers)
}

async fn complete(
    c: &mut AnyConnection,
    backend: Backend,
    comp: &Completion,
) -> std::result::Result<Result<CompleteResult>, sqlx::Error> {
    let select = match backend {
        Backend::Postgres => {
            "SELECT run_id, pipeline, tool, status, concurrency, cpu_cores, memory_bytes, labels, \
             started_at, duration_s, seq, completion_response, completion_request FROM runs \
             WHERE run_id = $1 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT run_id, pipeline, tool, status, concurrency, cpu_cores, memory_bytes, labels, \
             started_at, duration_s, seq, completion_response, completion_request FROM runs \
             WHERE run_id = $1"
        }
    };
    let Some(row) = sqlx::query(select)
        .bind(comp.run_id.as_str())
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(Err(AppError::NotFound(format!(
            "no run {:?}: start it with POST /builds/start first",
            comp.run_id
        ))));
    };
    let mut stored = match decode_run(&row) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    if stored.run.status != RunStatus::Running {
        let request: Option<String> = row.try_get("completion_request")?;
        return Ok(match (request, stored.completion_response) {
            (Some(req), Some(resp)) if req == comp.canonical => Ok(CompleteResult::Same(resp)),
            _ => Err(AppError::Conflict(format!(
                "run {:?} is already completed with status {} and another completion; \
                 a completion can only be repeated exactly",
                comp.run_id,
                status_str(stored.run.status)
            ))),
        });
    }
    // The run must be one the optimizer can read back: the core validates it whole.
    let steps = sqlx::query(STEPS_OF_RUN)
        .bind(comp.run_id.as_str())
        .fetch_all(&mut *c)
        .await?;
    for s in &steps {
        match decode_step(s) {
            Ok(step) => stored.run.steps.push(step),
            Err(e) => return Ok(Err(e)),
        }
    }
    stored.run.status = comp.final_status;
    stored.run.duration_s = comp.duration_s;
    if stored.has_config {
        if let Err(e) = stored.run.validate() {
            return Ok(Err(e.into()));
        }
    }
    let counter = sqlx::query(
        "UPDATE pipelines SET completed = completed + 1 WHERE pipeline = $1 \
         RETURNING completed, trained_at_completed",
    )
    .bind(stored.run.pipeline.as_str())
    .fetch_one(&mut *c)
    .await?;
    let completed: i64 = counter.try_get(0)?;
    let trained_at_completed: i64 = counter.try_get(1)?;
    sqlx::query(
        "UPDATE runs SET status = $2, duration_s = $3, completed_at = $4, seq = $5, \
         completion_request = $6, completion_response = $7 WHERE run_id = $1",
    )
    .bind(comp.run_id.as_str())
    .bind(status_str(comp.final_status))
    .bind(comp.duration_s)
    .bind(now_s())
    .bind(completed)
    .bind(comp.canonical.as_str())
    .bind(comp.response.as_str())
    .execute(&mut *c)
    .await?;
    Ok(Ok(CompleteResult::Done {
        response: comp.response.clone(),
        pipeline: stored.run.pipeline,
        completed,
        trained_at_completed,
    }))
}

async fn put_policy(
    c: &mut AnyConnection,
    name: &str,
    spec: &str,
    mode: PutMode,
) -> std::result::Result<Result<Reply>, sqlx::Error> {
    let exists = sqlx::query("SELECT name FROM policies WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?
        .is_some();
    if mode == PutMode::Create && exists {
        return Ok(Err(AppError::Conflict(format!(
            "a policy named {name:?} exists: PUT /policies/{name} replaces it"
        ))));
    }
    sqlx::query(
        "INSERT INTO policies (name, spec, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(spec)
    .bind(now_s())
    .execute(&mut *c)
    .await?;
    Ok(Ok(Reply::Unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Failure,
            RunStatus::OomKilled,
            RunStatus::Timeout,
            RunStatus::Cancelled,
        ] {
            assert_eq!(parse_status(status_str(s)), Some(s));
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://im:secret@127.0.0.1:5432/db"),
            "postgres://im:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
