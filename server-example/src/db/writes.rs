//! The SQL of each write operation, run by the writer inside its batch's transaction.
//!
//! The outer error is a database failure (the batch rolls back); the inner one, for the
//! operations that can refuse a request, is the request's answer (404, 409, 422), decided
//! before the operation writes anything.

use std::collections::BTreeMap;

use inframind_core::telemetry::{BuildConfig, BuildRun, BuildStep, RunStatus};
use sqlx::{AnyConnection, Connection, Row};

use super::reads::STEPS_OF_RUN;
use super::rows::{
    decode_pipeline_state, decode_run, decode_step, pipeline_state_columns, run_columns,
};
use super::{now_s, Backend, PipelineState, TrainingRow};
use crate::error::{AppError, Result};

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
    /// Applied: the run is the pipeline's `completed`-th completion.
    Done {
        /// The stored response.
        response: String,
        /// Pipeline of the run.
        pipeline: String,
        /// Completed runs of the pipeline, this one included (the run's completion order).
        completed: i64,
        /// The pipeline's counters right after this completion.
        state: PipelineState,
        /// The completed run with its steps, when it declared a config (a run a model can
        /// learn from).
        run: Option<Box<BuildRun>>,
    },
    /// The same completion again: the stored response, nothing changed.
    Same(String),
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

/// How a policy is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Create; 409 when the name exists.
    Create,
    /// Create or replace.
    Upsert,
}

/// Byte counts are stored as BIGINT. The core's rules (`inframind_core::rules::MAX_BYTES`, 2^53)
/// refuse anything near `i64::MAX` before a value gets here; saturating keeps this total.
fn i64_of(v: Option<u64>) -> Option<i64> {
    v.map(|x| i64::try_from(x).unwrap_or(i64::MAX))
}

pub(super) async fn start(
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
         labels, start_request, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run.run_id.as_str())
    .bind(run.pipeline.as_str())
    .bind(run.tool.as_str())
    .bind(RunStatus::Running.as_str())
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

/// Steps one INSERT statement writes at most (12 values each).
const STEP_ROWS_PER_INSERT: usize = 32;

/// Step keys one lookup statement asks for at most.
const KEYS_PER_LOOKUP: usize = 64;

/// A step to append: its run, the step, and its idempotency key when it has one.
pub(super) type StepIn<'a> = (&'a str, &'a BuildStep, Option<&'a str>);

/// Appends steps, in order, to their runs: each running run's step counter moves once by its
/// number of new steps here, and the steps are inserted [`STEP_ROWS_PER_INSERT`] rows per
/// statement. A step whose key the run already holds (or an earlier step here holds) is not
/// stored again: its answer is the stored step's index, whatever the run's status, so a retry
/// after a lost answer is acknowledged. One answer per step: its index in its run, or why it
/// was refused (no such run, or the run is completed), decided before anything is written for
/// that run.
pub(super) async fn add_steps(
    c: &mut AnyConnection,
    backend: Backend,
    steps: &[StepIn<'_>],
) -> std::result::Result<Vec<Result<i64>>, sqlx::Error> {
    // The steps of each run, in arrival order; runs are updated in run-id order, so two
    // replicas' batches lock the same runs in the same order.
    let mut of_run: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, &(run_id, _, _)) in steps.iter().enumerate() {
        of_run.entry(run_id).or_default().push(k);
    }
    let mut answers: Vec<Result<i64>> = Vec::with_capacity(steps.len());
    answers.resize_with(steps.len(), || Ok(0));
    let mut to_insert: Vec<(usize, i64)> = Vec::with_capacity(steps.len());
    for (run_id, members) in &of_run {
        let keys: Vec<&str> = members.iter().filter_map(|&k| steps[k].2).collect();
        let mut known = if keys.is_empty() {
            BTreeMap::new()
        } else {
            stored_keys(c, backend, run_id, &keys).await?
        };
        // Steps to store, and repeats of a key first seen here (answered with its index).
        let mut fresh: Vec<usize> = Vec::with_capacity(members.len());
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        let mut first_here: BTreeMap<&str, usize> = BTreeMap::new();
        for &k in members {
            match steps[k].2 {
                Some(key) if known.contains_key(key) => answers[k] = Ok(known[key]),
                Some(key) => match first_here.get(key) {
                    Some(&first) => repeats.push((k, first)),
                    None => {
                        first_here.insert(key, k);
                        fresh.push(k);
                    }
                },
                None => fresh.push(k),
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let added = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "UPDATE runs SET n_steps = n_steps + $2 WHERE run_id = $1 AND status = $3 \
             RETURNING n_steps",
        )
        .bind(*run_id)
        .bind(added)
        .bind(RunStatus::Running.as_str())
        .fetch_optional(&mut *c)
        .await?;
        if let Some(row) = row {
            let first: i64 = row.try_get::<i64, _>(0)? - added;
            for (j, &k) in fresh.iter().enumerate() {
                let index = first + j as i64;
                answers[k] = Ok(index);
                to_insert.push((k, index));
                if let Some(key) = steps[k].2 {
                    known.insert(key, index);
                }
            }
            for (k, first) in repeats {
                if let Ok(index) = &answers[first] {
                    let index = *index;
                    answers[k] = Ok(index);
                }
            }
            continue;
        }
        let status: Option<String> = sqlx::query("SELECT status FROM runs WHERE run_id = $1")
            .bind(*run_id)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        for k in fresh.into_iter().chain(repeats.into_iter().map(|(k, _)| k)) {
            answers[k] = Err(match &status {
                None => no_run(run_id),
                Some(st) => AppError::Conflict(format!(
                    "run {run_id:?} is already completed (status {st}); steps can only be added to a running run"
                )),
            });
        }
    }
    for rows in to_insert.chunks(STEP_ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO steps (run_id, step_index, name, duration_s, status, max_rss_bytes, \
             cpu_seconds, io_read_bytes, io_write_bytes, cache_hits, cache_misses, step_key) \
             VALUES ",
        );
        for r in 0..rows.len() {
            let placeholders: Vec<String> = (1..=12).map(|i| format!("${}", r * 12 + i)).collect();
            sql.push_str(if r == 0 { "(" } else { ", (" });
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        // Safe: the statement is constant text and placeholder numbers; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &(k, index) in rows {
            let (run_id, s, key) = steps[k];
            q = q
                .bind(run_id)
                .bind(index)
                .bind(s.name.as_str())
                .bind(s.duration_s)
                .bind(s.status.as_str())
                .bind(i64_of(s.max_rss_bytes))
                .bind(s.cpu_seconds)
                .bind(i64_of(s.io_read_bytes))
                .bind(i64_of(s.io_write_bytes))
                .bind(i64_of(s.cache_hits))
                .bind(i64_of(s.cache_misses))
                .bind(key);
        }
        q.execute(&mut *c).await?;
    }
    Ok(answers)
}

/// The indices of the steps of `run_id` already stored under these keys. On PostgreSQL the
/// run's row is locked first, so two replicas adding the same key take turns and the second
/// finds the first's step instead of failing on the unique index.
async fn stored_keys<'k>(
    c: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    keys: &[&'k str],
) -> std::result::Result<BTreeMap<&'k str, i64>, sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT run_id FROM runs WHERE run_id = $1 FOR UPDATE")
            .bind(run_id)
            .fetch_optional(&mut *c)
            .await?;
    }
    let mut found = BTreeMap::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT step_key, step_index FROM steps WHERE run_id = $1 AND step_key IN ({})",
            placeholders.join(", ")
        );
        // Safe: constant text and placeholder numbers; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run_id);
        for key in chunk {
            q = q.bind(*key);
        }
        for row in q.fetch_all(&mut *c).await? {
            let key: String = row.try_get(0)?;
            let index: i64 = row.try_get(1)?;
            if let Some(k) = chunk.iter().find(|k| **k == key) {
                found.insert(*k, index);
            }
        }
    }
    Ok(found)
}

/// Adds a finished job's steps and completes its run as one unit: both or neither are
/// written, so a redelivery finds the job either whole or absent. A run already completed is
/// not touched: the completion answers as a repeated one does (the stored answer, or 409).
pub(super) async fn finish(
    c: &mut AnyConnection,
    backend: Backend,
    steps: &[(BuildStep, Option<String>)],
    comp: &Completion,
) -> std::result::Result<Result<CompleteResult>, sqlx::Error> {
    let status: Option<String> = sqlx::query("SELECT status FROM runs WHERE run_id = $1")
        .bind(comp.run_id.as_str())
        .fetch_optional(&mut *c)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    match status {
        None => return Ok(Err(no_run(&comp.run_id))),
        Some(st) if st != RunStatus::Running.as_str() => return complete(c, backend, comp).await,
        Some(_) => {}
    }
    // A savepoint: a refusal after the steps are written takes them back, while the rest of
    // the writer's batch stays.
    let mut unit = c.begin().await?;
    let refs: Vec<StepIn<'_>> = steps
        .iter()
        .map(|(s, key)| (comp.run_id.as_str(), s, key.as_deref()))
        .collect();
    let answers = add_steps(&mut unit, backend, &refs).await?;
    if let Some(Err(e)) = answers.into_iter().find(Result::is_err) {
        unit.rollback().await?;
        return Ok(Err(e));
    }
    match complete(&mut unit, backend, comp).await? {
        Ok(done) => {
            unit.commit().await?;
            Ok(Ok(done))
        }
        Err(e) => {
            unit.rollback().await?;
            Ok(Err(e))
        }
    }
}

pub(super) async fn complete(
    c: &mut AnyConnection,
    backend: Backend,
    comp: &Completion,
) -> std::result::Result<Result<CompleteResult>, sqlx::Error> {
    let select = match backend {
        Backend::Postgres => concat!(
            "SELECT ",
            run_columns!(),
            ", completion_request FROM runs WHERE run_id = $1 FOR UPDATE"
        ),
        Backend::Sqlite => concat!(
            "SELECT ",
            run_columns!(),
            ", completion_request FROM runs WHERE run_id = $1"
        ),
    };
    let Some(row) = sqlx::query(select)
        .bind(comp.run_id.as_str())
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(Err(no_run(&comp.run_id)));
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
                stored.run.status.as_str()
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
    // The retrain policy's counts move in the same transaction as the completion, so every
    // replica's trainer reads them consistent with the runs. Only runs with a config count:
    // the others are kept for the record and never learned from.
    let learnable = stored.has_config;
    let success = i64::from(learnable && comp.final_status == RunStatus::Success);
    let oom = i64::from(learnable && comp.final_status == RunStatus::OomKilled);
    let counter = sqlx::query(concat!(
        "UPDATE pipelines SET completed = completed + 1, successes = successes + $2, \
         surprise_at = CASE WHEN $3 > 0 THEN completed + 1 ELSE surprise_at END \
         WHERE pipeline = $1 RETURNING ",
        pipeline_state_columns!()
    ))
    .bind(stored.run.pipeline.as_str())
    .bind(success)
    .bind(oom)
    .fetch_one(&mut *c)
    .await?;
    let state = decode_pipeline_state(&counter)?;
    let completed = state.completed;
    sqlx::query(
        "UPDATE runs SET status = $2, duration_s = $3, completed_at = $4, seq = $5, \
         completion_request = $6, completion_response = $7 WHERE run_id = $1",
    )
    .bind(comp.run_id.as_str())
    .bind(comp.final_status.as_str())
    .bind(comp.duration_s)
    .bind(now_s())
    .bind(completed)
    .bind(comp.canonical.as_str())
    .bind(comp.response.as_str())
    .execute(&mut *c)
    .await?;
    Ok(Ok(CompleteResult::Done {
        response: comp.response.clone(),
        pipeline: stored.run.pipeline.clone(),
        completed,
        state,
        run: learnable.then(|| Box::new(stored.run)),
    }))
}

pub(super) async fn put_policy(
    c: &mut AnyConnection,
    name: &str,
    spec: &str,
    mode: PutMode,
) -> std::result::Result<Result<()>, sqlx::Error> {
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
    bump_policy_generation(c).await?;
    Ok(Ok(()))
}

/// Moves the policies' generation, in the transaction that changes them.
async fn bump_policy_generation(c: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("UPDATE policy_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(super) async fn delete_policy(
    c: &mut AnyConnection,
    name: &str,
) -> std::result::Result<Result<()>, sqlx::Error> {
    let done = sqlx::query("DELETE FROM policies WHERE name = $1")
        .bind(name)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(Err(AppError::NotFound(format!("no policy named {name:?}"))));
    }
    bump_policy_generation(c).await?;
    Ok(Ok(()))
}

pub(super) async fn insert_decisions(
    c: &mut AnyConnection,
    rows: &[DecisionRow],
) -> std::result::Result<(), sqlx::Error> {
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
    Ok(())
}

pub(super) async fn record_model(
    c: &mut AnyConnection,
    pipeline: &str,
    version: i64,
    trained_at_completed: i64,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pipelines SET model_version = $2, trained_at_completed = $3 \
         WHERE pipeline = $1 AND model_version < $2",
    )
    .bind(pipeline)
    .bind(version)
    .bind(trained_at_completed)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(super) async fn mark_trained(
    c: &mut AnyConnection,
    pipeline: &str,
    completed: i64,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pipelines SET trained_at_completed = $2 \
         WHERE pipeline = $1 AND trained_at_completed < $2",
    )
    .bind(pipeline)
    .bind(completed)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(super) async fn mark_surprise(
    c: &mut AnyConnection,
    pipeline: &str,
    seq: i64,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("UPDATE pipelines SET surprise_at = $2 WHERE pipeline = $1 AND surprise_at < $2")
        .bind(pipeline)
        .bind(seq)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(super) async fn log_training(
    c: &mut AnyConnection,
    t: &TrainingRow,
) -> std::result::Result<(), sqlx::Error> {
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
    Ok(())
}

/// The 404 of a step or a completion for a run that was never started.
fn no_run(run_id: &str) -> AppError {
    AppError::NotFound(format!(
        "no run {run_id:?}: start it with POST /builds/start first"
    ))
}
