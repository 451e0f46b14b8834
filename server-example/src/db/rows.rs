//! Row decoding: stored rows back into the core's runs and steps (statuses are stored by
//! their [`RunStatus::as_str`] names).

use std::collections::BTreeMap;

use inframind_core::retrain::TrainingProgress;
use inframind_core::telemetry::{BuildConfig, BuildRun, BuildStep, RunStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::{AppError, Result};

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
    /// Completed runs when training was last attempted (0: never).
    pub trained_at_completed: i64,
    /// Newest model version (0: none).
    pub model_version: i64,
    /// Successful completed runs with a declared config (the runs a model learns from).
    pub successes: i64,
    /// Completion order of the newest surprising run (0: none): a surprise for the retrain
    /// policy while it is above `trained_at_completed`.
    pub surprise_at: i64,
}

impl PipelineState {
    /// What the core's retrain policy decides from.
    pub fn progress(&self) -> TrainingProgress {
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        TrainingProgress {
            completed: count(self.completed),
            successes: count(self.successes),
            trained_at: (self.trained_at_completed > 0).then(|| count(self.trained_at_completed)),
            has_model: self.model_version > 0,
            surprise: self.surprise_at > self.trained_at_completed,
        }
    }
}

/// The columns `decode_pipeline_state` reads: every query whose rows it decodes selects (or
/// returns) these.
macro_rules! pipeline_state_columns {
    () => {
        "completed, trained_at_completed, model_version, successes, surprise_at"
    };
}
pub(super) use pipeline_state_columns;

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

/// The columns `decode_run` reads: every query whose rows it decodes selects these.
macro_rules! run_columns {
    () => {
        "run_id, pipeline, tool, status, concurrency, cpu_cores, memory_bytes, labels, \
         started_at, duration_s, seq, completion_response"
    };
}
pub(super) use run_columns;

fn to_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|x| u64::try_from(x).ok())
}

pub(super) fn decode_run(r: &AnyRow) -> Result<StoredRun> {
    let status: String = r.try_get("status")?;
    let status = status
        .parse::<RunStatus>()
        .map_err(|_| AppError::Internal(format!("stored run has unknown status {status:?}")))?;
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

pub(super) fn decode_step(r: &AnyRow) -> Result<BuildStep> {
    let status: String = r.try_get("status")?;
    Ok(BuildStep {
        name: r.try_get("name")?,
        duration_s: r.try_get("duration_s")?,
        status: status.parse().unwrap_or(RunStatus::Success),
        max_rss_bytes: to_u64(r.try_get("max_rss_bytes")?),
        cpu_seconds: r.try_get("cpu_seconds")?,
        io_read_bytes: to_u64(r.try_get("io_read_bytes")?),
        io_write_bytes: to_u64(r.try_get("io_write_bytes")?),
        cache_hits: to_u64(r.try_get("cache_hits")?),
        cache_misses: to_u64(r.try_get("cache_misses")?),
    })
}

/// A database error (not an answer) when a column does not decode: the completion that
/// returns these rolls back rather than commit a counter it cannot report.
pub(super) fn decode_pipeline_state(r: &AnyRow) -> std::result::Result<PipelineState, sqlx::Error> {
    Ok(PipelineState {
        completed: r.try_get("completed")?,
        trained_at_completed: r.try_get("trained_at_completed")?,
        model_version: r.try_get("model_version")?,
        successes: r.try_get("successes")?,
        surprise_at: r.try_get("surprise_at")?,
    })
}

pub(super) fn decode_training(r: &AnyRow) -> Result<TrainingRow> {
    Ok(TrainingRow {
        pipeline: r.try_get("pipeline")?,
        replica: r.try_get("replica")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        model_version: r.try_get("model_version")?,
        outcome: r.try_get("outcome")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>().ok(), Some(s));
        }
    }

    #[test]
    fn a_surprise_counts_until_a_training_covers_it() {
        let st = PipelineState {
            completed: 12,
            trained_at_completed: 10,
            model_version: 1,
            successes: 11,
            surprise_at: 11,
        };
        let p = st.progress();
        assert_eq!((p.completed, p.successes, p.trained_at), (12, 11, Some(10)));
        assert!(p.has_model && p.surprise);
        let covered = PipelineState {
            trained_at_completed: 12,
            ..st
        };
        assert!(!covered.progress().surprise);
        assert_eq!(PipelineState::default().progress().trained_at, None);
    }
}
