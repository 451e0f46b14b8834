//! Background retraining.
//!
//! When to train is the core's [`RetrainPolicy`](inframind_core::retrain::RetrainPolicy)
//! (`--retrain-every N` makes it a fixed counter): it decides from the pipeline's counters in
//! the database (completed and successful runs, the completion count at the last training,
//! whether a model exists, and whether a run since then was a surprise). A completion that
//! makes the pipeline due queues it; the queue holds a pipeline once however many completions
//! arrive, and the trainer asks the policy again when it gets to it, so a burst of completions
//! trains once, on all of them. A pipeline notified again while it trains is queued once more
//! behind the others, so the completions that landed during a training are not forgotten.
//!
//! One task per process trains, off the request path: the history is read, the forest is
//! fitted on a blocking thread, the model is saved in the
//! [`ModelStore`](inframind_core::ModelStore), its version recorded in the `pipelines` row,
//! and the cache's snapshot swapped atomically. Requests never wait for it.
//!
//! On PostgreSQL only one replica trains at a time: training holds the session advisory lock
//! `pg_try_advisory_lock(TRAINER_LOCK_KEY)`. A replica that cannot take it retries shortly, and
//! once it holds the lock it first re-reads the pipeline row, so a model another replica just
//! trained is not trained again. If a replica dies mid-training its session ends and
//! PostgreSQL releases the lock. On SQLite (one process per file) a process-wide mutex does it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inframind_core::retrain::RetrainReason;
use inframind_core::{DurationModel, RandomForestParams};
use sqlx::Row;
use tokio::sync::mpsc;

use crate::db::{now_s, Backend, TrainingRow};
use crate::error::{AppError, Result};
use crate::AppState;

/// Key of the PostgreSQL advisory lock that serializes training across replicas.
pub const TRAINER_LOCK_KEY: i64 = 0x1f_4d_1d_7a_11;

/// Most runs a training reads (the newest ones).
pub const TRAIN_MAX_RUNS: i64 = 20_000;

/// What a training attempt did.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    /// A new model version was stored and swapped in.
    Trained {
        /// Its store version.
        version: u32,
    },
    /// Nothing to do (up to date, or too little data), and why.
    Skipped(String),
    /// Another replica holds the training lock.
    Busy,
}

/// The trainer's queue.
#[derive(Clone)]
pub struct Trainer {
    tx: mpsc::UnboundedSender<String>,
    /// Queued or training pipelines; `true` once notified again after its training began.
    pending: Arc<Mutex<HashMap<String, bool>>>,
    local: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Trainer")
    }
}

impl Trainer {
    /// A trainer and the receiving end of its queue (give it to [`run`]).
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Trainer {
                tx,
                pending: Arc::new(Mutex::new(HashMap::new())),
                local: Arc::new(tokio::sync::Mutex::new(())),
            },
            rx,
        )
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a pipeline for training unless it is queued already (a pipeline being trained is
    /// queued again once that training ends). Never blocks.
    pub fn notify(&self, pipeline: &str) {
        let mut p = self.pending();
        match p.get_mut(pipeline) {
            Some(again) => *again = true,
            None => {
                if self.tx.send(pipeline.to_string()).is_ok() {
                    p.insert(pipeline.to_string(), false);
                }
            }
        }
    }

    /// Whether no pipeline is queued or being trained.
    pub fn is_idle(&self) -> bool {
        self.pending().is_empty()
    }

    /// The training of `pipeline` starts: it reads the newest counts, so earlier notifications
    /// are covered.
    fn begin(&self, pipeline: &str) {
        if let Some(again) = self.pending().get_mut(pipeline) {
            *again = false;
        }
    }

    /// The training of `pipeline` ended: queue it again if notified meanwhile, else forget it.
    fn done(&self, pipeline: &str) {
        let mut p = self.pending();
        if p.get(pipeline) == Some(&true) && self.tx.send(pipeline.to_string()).is_ok() {
            p.insert(pipeline.to_string(), false);
        } else {
            p.remove(pipeline);
        }
    }
}

/// The trainer task: trains queued pipelines one at a time until the queue closes.
pub async fn run(state: AppState, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(pipeline) = rx.recv().await {
        state.trainer.begin(&pipeline);
        let mut tries = 0u32;
        loop {
            match train_now(&state, &pipeline, false).await {
                Ok(TrainOutcome::Busy) if tries < 600 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(outcome) => {
                    tracing::info!(pipeline = %pipeline, ?outcome, "training");
                    break;
                }
                Err(e) => {
                    tracing::warn!(pipeline = %pipeline, "training failed: {e}");
                    break;
                }
            }
        }
        state.trainer.done(&pipeline);
    }
}

/// Trains `pipeline` now if the retrain policy says it is due (or always, with `force`),
/// holding the training lock.
pub async fn train_now(state: &AppState, pipeline: &str, force: bool) -> Result<TrainOutcome> {
    let _local = state.trainer.local.lock().await;
    let mut conn = None;
    if state.db.backend() == Backend::Postgres {
        let mut c = state.db.pool().acquire().await?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(TRAINER_LOCK_KEY)
            .fetch_one(&mut *c)
            .await?
            .try_get(0)?;
        if !got {
            return Ok(TrainOutcome::Busy);
        }
        conn = Some(c);
    }
    let result = train_locked(state, pipeline, force).await;
    if let Some(mut c) = conn {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(TRAINER_LOCK_KEY)
            .execute(&mut *c)
            .await;
        if unlocked.is_err() {
            // Never hand a connection that may still hold the lock back to the pool.
            let _ = c.close().await;
        }
    }
    result
}

async fn train_locked(state: &AppState, pipeline: &str, force: bool) -> Result<TrainOutcome> {
    let st = state.db.pipeline_state(pipeline).await?.unwrap_or_default();
    let progress = st.progress();
    let reason = match (state.config.retrain.is_due(&progress), force) {
        (Some(reason), _) => reason,
        // A forced training (`--demo`, tests) is labelled as what it does.
        (None, true) if progress.has_model => RetrainReason::Growth,
        (None, true) => RetrainReason::FirstModel,
        (None, false) => {
            state.metrics.observe_training("skipped");
            return Ok(TrainOutcome::Skipped(format!(
                "up to date: {} completed runs ({} successful), last training at {}",
                st.completed, st.successes, st.trained_at_completed
            )));
        }
    };
    state.metrics.observe_training_reason(reason);
    tracing::debug!(pipeline, reason = reason.as_str(), "training due");
    let started = now_s();
    let history: Vec<_> = state
        .db
        .history(pipeline, 0, st.completed, TRAIN_MAX_RUNS)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let store = Arc::clone(&state.store);
    let (p, n_trees, keep) = (
        pipeline.to_string(),
        state.config.n_trees,
        state.config.keep_models,
    );
    let trained = tokio::task::spawn_blocking(move || -> inframind_core::Result<_> {
        // A stored run that the rules now refuse (written before they did) is skipped and
        // reported, so one bad value cannot stop the pipeline from ever training again.
        let (model, skipped) =
            DurationModel::train_usable(&history, RandomForestParams::new().n_trees(n_trees))?;
        for (i, e) in skipped.iter().take(5) {
            tracing::warn!(pipeline = %p, run = i, error = %e, "training skipped a stored run");
        }
        let version = store.save(&p, &model)?;
        if let Err(e) = store.prune(&p, keep) {
            tracing::warn!(pipeline = %p, error = %e, "pruning old model versions failed");
        }
        // Loaded back so the in-memory model carries its store version ("v3").
        Ok((version, store.load(&p, version)?, skipped.len()))
    })
    .await
    .map_err(|e| AppError::Internal(format!("training task failed: {e}")))?;
    let mut row = TrainingRow {
        pipeline: pipeline.to_string(),
        replica: state.replica.to_string(),
        started_at: started,
        finished_at: now_s(),
        model_version: None,
        outcome: String::new(),
    };
    match trained {
        Ok((version, model, skipped_runs)) => {
            if skipped_runs > 0 {
                tracing::warn!(
                    pipeline,
                    skipped_runs,
                    "trained without runs the rules refuse"
                );
            }
            state
                .db
                .record_model(pipeline.to_string(), i64::from(version), st.completed)
                .await?;
            state
                .cache
                .set_model(pipeline, i64::from(version), Arc::new(model));
            row.model_version = Some(i64::from(version));
            row.outcome = "trained".into();
            state.db.log_training(row).await?;
            state.metrics.observe_training("trained");
            Ok(TrainOutcome::Trained { version })
        }
        Err(e) => {
            // Recorded as an attempt: the policy waits for new completions before the next one.
            state
                .db
                .mark_trained(pipeline.to_string(), st.completed)
                .await?;
            let skipped = matches!(e, inframind_core::Error::NotEnoughData(_));
            row.outcome = if skipped { "skipped" } else { "failed" }.into();
            state.db.log_training(row).await?;
            state
                .metrics
                .observe_training(if skipped { "skipped" } else { "failed" });
            if skipped {
                Ok(TrainOutcome::Skipped(e.to_string()))
            } else {
                Err(AppError::Internal(format!("training {pipeline}: {e}")))
            }
        }
    }
}
