//! The safety floors: the least memory and the fewest cores a build may be given.

use serde::{Deserialize, Serialize};

use crate::features::{quantile, HistoryStats, HISTORY_WINDOW};
use crate::telemetry::{BuildRun, RunContext, RunStatus, GIB};

/// Cores each parallel job gets at least: a build with `concurrency` jobs is never given fewer
/// than `concurrency` × this many cores. Jobs wait on I/O and on each other, so up to four may
/// share a core; more only queue.
pub const CORES_PER_JOB: f64 = 0.25;

const MIB: f64 = 1024.0 * 1024.0;
/// VPA's minimum bump after an OOM kill.
const OOM_BUMP_BYTES: f64 = 100.0 * MIB;
/// A failed run whose peak reached this share of its memory limit is an OOM suspect.
const OOM_SUSPECT_RATIO: f64 = 0.95;

/// The CPU floor of a build with `concurrency` jobs, cores.
pub fn cpu_floor(concurrency: u32) -> f64 {
    f64::from(concurrency) * CORES_PER_JOB
}

/// A recent run's peak memory and the concurrency it ran with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// Peak RSS, bytes.
    pub bytes: f64,
    /// Parallel jobs of the run.
    pub concurrency: u32,
    /// Whether the run succeeded (only clean samples enter the p95).
    pub success: bool,
}

impl Peak {
    /// This peak as a bound for a build with `concurrency` jobs. Memory grows with jobs; if a
    /// build runs more jobs than this run did, the peak scales up by the ratio (an upper bound
    /// when memory is a base plus a per-job part); with fewer jobs the peak stays as it is.
    fn scaled_to(&self, concurrency: u32) -> f64 {
        self.bytes * (f64::from(concurrency) / f64::from(self.concurrency.max(1))).max(1.0)
    }
}

/// The safety floors learned from a pipeline's history and the caller's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Floors {
    /// Peaks of the recent runs that report one.
    pub peaks: Vec<Peak>,
    /// Per-job RSS p95 (bytes a job), multiplied by the concurrency in [`Floors::memory`].
    pub per_job_bytes: Option<f64>,
    /// VPA bump over the largest peak an OOM-killed or OOM-suspect run died at, bytes.
    pub oom_floor: Option<f64>,
    /// Run id of the OOM that set `oom_floor`.
    pub oom_run: Option<String>,
    /// 1.2 x the expected RSS the caller declared, bytes.
    pub declared_floor: Option<f64>,
}

impl Floors {
    /// Computes the floors from the last [`HISTORY_WINDOW`] runs and the context.
    pub fn learn(history: &[BuildRun], stats: &HistoryStats, context: &RunContext) -> Self {
        let recent = &history[history.len().saturating_sub(HISTORY_WINDOW)..];
        let mut oom: Option<(f64, &str)> = None;
        let mut peaks = Vec::with_capacity(recent.len());
        for r in recent {
            let limit = r.config.memory_bytes as f64;
            let peak = r.peak_rss_bytes().map(|b| b as f64);
            if let Some(bytes) = peak {
                peaks.push(Peak {
                    bytes,
                    concurrency: r.config.concurrency,
                    success: r.status.is_success(),
                });
            }
            let died_at = match r.status {
                // Killed at its limit: the peak it needed was at least the limit.
                RunStatus::OomKilled => Some(peak.unwrap_or(limit).max(limit)),
                RunStatus::Failure => peak
                    .filter(|&p| p >= OOM_SUSPECT_RATIO * limit)
                    .map(|p| p.max(limit)),
                _ => None,
            };
            if let Some(p) = died_at {
                if oom.is_none_or(|(q, _)| p > q) {
                    oom = Some((p, &r.run_id));
                }
            }
        }
        Floors {
            peaks,
            per_job_bytes: stats.rss_per_job_p95_bytes,
            oom_floor: oom.map(|(p, _)| (1.2 * p).max(p + OOM_BUMP_BYTES)),
            oom_run: oom.map(|(_, id)| id.to_string()),
            declared_floor: context.rss_bytes().map(|b| 1.2 * b as f64),
        }
    }

    /// 1.2 x the p95 of the successful runs' peaks, scaled to `concurrency`.
    pub fn rss_p95_floor(&self, concurrency: u32) -> Option<f64> {
        let mut v: Vec<f64> = self
            .peaks
            .iter()
            .filter(|p| p.success)
            .map(|p| p.scaled_to(concurrency))
            .collect();
        quantile(&mut v, 0.95).map(|b| 1.2 * b)
    }

    /// 1.1 x the largest recent peak (any status), scaled to `concurrency`.
    pub fn max_peak_floor(&self, concurrency: u32) -> Option<f64> {
        self.peaks
            .iter()
            .map(|p| p.scaled_to(concurrency))
            .reduce(f64::max)
            .map(|b| 1.1 * b)
    }

    /// The memory floor for a build with `concurrency` jobs, bytes (0 when nothing is known).
    pub fn memory(&self, concurrency: u32) -> f64 {
        [
            self.rss_p95_floor(concurrency),
            self.max_peak_floor(concurrency),
            self.per_job_bytes.map(|b| b * f64::from(concurrency)),
            self.oom_floor,
            self.declared_floor,
        ]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
    }

    /// What sets the memory floor at `concurrency`, for people.
    pub fn explain_memory(&self, concurrency: u32) -> String {
        let mut parts = Vec::new();
        let gib = |b: f64| format!("{:.2} GiB", b / GIB);
        if let Some(b) = self.rss_p95_floor(concurrency) {
            parts.push(format!("1.2 x RSS p95 = {}", gib(b)));
        }
        if let Some(b) = self.max_peak_floor(concurrency) {
            parts.push(format!("1.1 x max peak = {}", gib(b)));
        }
        if let Some(b) = self.per_job_bytes {
            parts.push(format!(
                "{} per job x {concurrency} = {}",
                gib(b),
                gib(b * f64::from(concurrency))
            ));
        }
        if let (Some(b), Some(run)) = (self.oom_floor, &self.oom_run) {
            parts.push(format!("OOM kill in run {run} -> {}", gib(b)));
        }
        if let Some(b) = self.declared_floor {
            parts.push(format!("1.2 x declared RSS = {}", gib(b)));
        }
        if parts.is_empty() {
            "no memory data yet".into()
        } else {
            format!("max({})", parts.join(", "))
        }
    }
}
