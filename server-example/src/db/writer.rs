//! The batching writer: one task per process applies queued write jobs, up to `write_batch`
//! of them per transaction, and answers each only after the commit.

use inframind_core::telemetry::BuildStep;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::writes::{self, CompleteResult, Completion, DecisionRow, NewRun, PutMode, StartResult};
use super::{Backend, Db, TrainingRow};
use crate::error::{AppError, Result};

enum Op {
    Start(NewRun),
    Step(String, BuildStep, Option<String>),
    Complete(Completion),
    Finish(Vec<(BuildStep, Option<String>)>, Completion),
    PutPolicy(String, String, PutMode),
    DeletePolicy(String),
    Decisions(Vec<DecisionRow>),
    Model {
        pipeline: String,
        version: i64,
        trained_at_completed: i64,
    },
    Trained(String, i64),
    Surprise(String, i64),
    Training(TrainingRow),
}

enum Reply {
    Start(StartResult),
    Step(i64),
    Complete(CompleteResult),
    Unit,
}

pub(super) struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Reply>>,
}

impl Db {
    /// Queues a job; its answer arrives once the writer has committed or refused it.
    async fn enqueue(&self, op: Op) -> Result<oneshot::Receiver<Result<Reply>>> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { op, reply })
            .await
            .map_err(|_| writer_stopped())?;
        Ok(rx)
    }

    async fn submit(&self, op: Op) -> Result<Reply> {
        let rx = self.enqueue(op).await?;
        rx.await.map_err(|_| writer_stopped())?
    }

    /// Stores whole runs in order (start, steps, completion), queued back to back so the writer
    /// commits them in large batches; used by `--demo` and the benchmarks' fixtures.
    pub async fn seed_runs(&self, runs: Vec<(NewRun, Vec<BuildStep>, Completion)>) -> Result<()> {
        let mut replies = Vec::new();
        for (run, steps, completion) in runs {
            let run_id = run.run_id.clone();
            let mut ops = vec![Op::Start(run)];
            ops.extend(steps.into_iter().map(|s| Op::Step(run_id.clone(), s, None)));
            ops.push(Op::Complete(completion));
            for op in ops {
                replies.push(self.enqueue(op).await?);
            }
        }
        for rx in replies {
            rx.await.map_err(|_| writer_stopped())??;
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
        self.add_keyed_step(run_id, step, None).await
    }

    /// Appends a step to a running run, once per `key`: a key the run already holds answers
    /// the stored step's index and stores nothing (whatever the run's status).
    pub async fn add_keyed_step(
        &self,
        run_id: String,
        step: BuildStep,
        key: Option<String>,
    ) -> Result<i64> {
        match self.submit(Op::Step(run_id, step, key)).await? {
            Reply::Step(i) => Ok(i),
            _ => Err(unexpected()),
        }
    }

    /// Adds a finished job's steps (keyed as [`Db::add_keyed_step`]) and completes its run in
    /// one transaction: both or neither are stored. A run already completed is not changed;
    /// the answer is then that of a repeated completion.
    pub async fn finish_run(
        &self,
        steps: Vec<(BuildStep, Option<String>)>,
        completion: Completion,
    ) -> Result<CompleteResult> {
        match self.submit(Op::Finish(steps, completion)).await? {
            Reply::Complete(r) => Ok(r),
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

    /// Records that the pipeline's `seq`-th completion surprised its model (the retrain policy
    /// then retrains at once).
    pub async fn mark_surprise(&self, pipeline: String, seq: i64) -> Result<()> {
        self.submit(Op::Surprise(pipeline, seq)).await.map(|_| ())
    }

    /// Logs a training attempt.
    pub async fn log_training(&self, row: TrainingRow) -> Result<()> {
        self.submit(Op::Training(row)).await.map(|_| ())
    }
}

fn unexpected() -> AppError {
    AppError::Internal("the database writer answered another kind of job".into())
}

fn writer_stopped() -> AppError {
    AppError::Unavailable("the database writer has stopped".into())
}

pub(super) async fn writer_loop(
    pool: AnyPool,
    backend: Backend,
    mut rx: mpsc::Receiver<Job>,
    batch: usize,
) {
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
            let steps: Vec<writes::StepIn<'_>> = (rest[..n_steps].iter())
                .filter_map(|j| match &j.op {
                    Op::Step(run_id, step, key) => Some((run_id.as_str(), step, key.as_deref())),
                    _ => None,
                })
                .collect();
            let indices = writes::add_steps(&mut tx, backend, &steps).await?;
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
        Op::Start(run) => writes::start(c, run).await.map(|r| r.map(Reply::Start)),
        Op::Step(run_id, step, key) => {
            let mut index =
                writes::add_steps(c, backend, &[(run_id.as_str(), step, key.as_deref())]).await?;
            Ok(index.pop().map_or_else(
                || Err(AppError::Internal("no answer for a step".into())),
                |r| r.map(Reply::Step),
            ))
        }
        Op::Complete(comp) => writes::complete(c, backend, comp)
            .await
            .map(|r| r.map(Reply::Complete)),
        Op::Finish(steps, comp) => writes::finish(c, backend, steps, comp)
            .await
            .map(|r| r.map(Reply::Complete)),
        Op::PutPolicy(name, spec, mode) => writes::put_policy(c, name, spec, *mode)
            .await
            .map(|r| r.map(|()| Reply::Unit)),
        Op::DeletePolicy(name) => writes::delete_policy(c, name)
            .await
            .map(|r| r.map(|()| Reply::Unit)),
        Op::Decisions(rows) => {
            writes::insert_decisions(c, rows).await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Model {
            pipeline,
            version,
            trained_at_completed,
        } => {
            writes::record_model(c, pipeline, *version, *trained_at_completed).await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Trained(pipeline, completed) => {
            writes::mark_trained(c, pipeline, *completed).await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Surprise(pipeline, seq) => {
            writes::mark_surprise(c, pipeline, *seq).await?;
            Ok(Ok(Reply::Unit))
        }
        Op::Training(t) => {
            writes::log_training(c, t).await?;
            Ok(Ok(Reply::Unit))
        }
    }
}
