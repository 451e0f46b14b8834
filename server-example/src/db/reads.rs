//! Reads: straight from the pool, never through the writer (SQLite's WAL lets them run beside
//! its transaction).

use std::collections::HashMap;

use inframind_core::telemetry::BuildRun;
use sqlx::Row;

use super::rows::{
    decode_pipeline_state, decode_run, decode_step, decode_training, pipeline_state_columns,
    run_columns,
};
use super::{Db, PipelineState, StoredRun, TrainingRow};
use crate::error::Result;

impl Db {
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
        let row = sqlx::query(PIPELINE_STATE_BY_NAME)
            .bind(pipeline)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(decode_pipeline_state).transpose()?)
    }

    /// Every pipeline with runs.
    pub async fn pipelines(&self) -> Result<Vec<(String, PipelineState)>> {
        let rows = sqlx::query(PIPELINES_ALL).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, decode_pipeline_state(r)?)))
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
        let index: HashMap<String, usize> = runs
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
        rows.iter().map(decode_training).collect()
    }

    /// Rows in `steps` (the load benchmark counts them after a run).
    pub async fn count_steps(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM steps")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

const PIPELINE_STATE_BY_NAME: &str = concat!(
    "SELECT ",
    pipeline_state_columns!(),
    " FROM pipelines WHERE pipeline = $1"
);

const PIPELINES_ALL: &str = concat!(
    "SELECT pipeline, ",
    pipeline_state_columns!(),
    " FROM pipelines ORDER BY pipeline"
);

const RUN_SELECT_BY_ID: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE run_id = $1");

/// The steps of one run, in order (completing a run reads them too, to validate it whole).
pub(super) const STEPS_OF_RUN: &str =
    "SELECT run_id, step_index, name, duration_s, status, max_rss_bytes, \
     cpu_seconds, io_read_bytes, io_write_bytes, cache_hits, cache_misses FROM steps \
     WHERE run_id = $1 ORDER BY step_index";

const HISTORY_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs \
     WHERE pipeline = $1 AND seq > $2 AND seq <= $3 AND concurrency IS NOT NULL \
     ORDER BY seq DESC LIMIT $4"
);

const HISTORY_STEPS: &str = "SELECT s.run_id, s.step_index, s.name, s.duration_s, s.status, \
     s.max_rss_bytes, s.cpu_seconds, s.io_read_bytes, s.io_write_bytes, s.cache_hits, \
     s.cache_misses FROM steps s JOIN runs r ON r.run_id = s.run_id \
     WHERE r.pipeline = $1 AND r.seq >= $2 AND r.seq <= $3 AND r.concurrency IS NOT NULL \
     ORDER BY s.run_id, s.step_index";
