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
    /// when memory is a base plus a per-job part). With fewer jobs it scales down to the base
    /// every build needs plus the remaining jobs' shares, when the base is known; otherwise it
    /// stays as it is.
    fn scaled_to(&self, concurrency: u32, base_bytes: Option<f64>) -> f64 {
        let ratio = f64::from(concurrency) / f64::from(self.concurrency.max(1));
        if ratio >= 1.0 {
            return self.bytes * ratio;
        }
        match base_bytes {
            Some(base) => {
                let base = base.max(0.0).min(self.bytes);
                base + (self.bytes - base) * ratio
            }
            None => self.bytes,
        }
    }
}

/// A run that died of memory: OOM-killed, or failed with its peak at 95% of its limit (an OOM
/// suspect).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OomKill {
    /// The run's id.
    pub run_id: String,
    /// What it needed at least: its peak, or its limit when that is larger, bytes.
    pub died_at_bytes: f64,
    /// Parallel jobs of the run.
    pub concurrency: u32,
}

impl OomKill {
    /// What a build with `concurrency` jobs needs by this run's evidence, bytes.
    ///
    /// The peak it died at is a base that every build needs (`base_bytes`, at most the peak)
    /// plus an equal share per job. With fewer jobs the build needs the base and its jobs'
    /// shares, so stepping concurrency down escapes an OOM that raising memory past the
    /// capacity cannot; with more jobs the whole peak scales by the ratio of jobs, as any other
    /// peak does (an upper bound of base plus shares).
    pub fn need(&self, concurrency: u32, base_bytes: f64) -> f64 {
        let ratio = f64::from(concurrency) / f64::from(self.concurrency.max(1));
        if concurrency >= self.concurrency {
            return self.died_at_bytes * ratio;
        }
        let base = base_bytes.max(0.0).min(self.died_at_bytes);
        base + (self.died_at_bytes - base) * ratio
    }

    /// Each job's share of the peak above `base_bytes`, bytes.
    pub fn per_job_bytes(&self, base_bytes: f64) -> f64 {
        (self.died_at_bytes - base_bytes.max(0.0).min(self.died_at_bytes))
            / f64::from(self.concurrency.max(1))
    }

    /// VPA's bump over [`OomKill::need`]: max(1.2 × need, need + 100 MiB).
    pub fn floor(&self, concurrency: u32, base_bytes: f64) -> f64 {
        let need = self.need(concurrency, base_bytes);
        (1.2 * need).max(need + OOM_BUMP_BYTES)
    }
}

/// The safety floors learned from a pipeline's history and the caller's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Floors {
    /// Peaks of the recent runs that report one and did not die of memory (those are in
    /// `ooms`, whose bump is larger).
    pub peaks: Vec<Peak>,
    /// Per-job RSS p95 (bytes a job), multiplied by the concurrency in [`Floors::memory`].
    pub per_job_bytes: Option<f64>,
    /// The recent runs that died of memory, oldest first.
    pub ooms: Vec<OomKill>,
    /// Memory a build needs whatever its jobs, bytes: the intercept of a least-squares line
    /// through the successful runs' peaks against their jobs, within [0, the smallest of those
    /// peaks]. `None` (taken as 0) until successful runs with two different job counts report
    /// a peak.
    pub base_bytes: Option<f64>,
    /// 1.2 x the expected RSS the caller declared, bytes.
    pub declared_floor: Option<f64>,
    /// The recent successful runs' jobs and memory: a build with at most those jobs is known to
    /// fit in that memory, which caps the floors learned from peaks (their headroom) so that a
    /// config that succeeded is never refused for the margin alone.
    pub proven: Vec<Proven>,
}

/// A recent successful run's jobs and the memory it succeeded with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proven {
    /// The run's id.
    pub run_id: String,
    /// Parallel jobs of the run.
    pub concurrency: u32,
    /// Memory it had, bytes.
    pub memory_bytes: f64,
}

impl Floors {
    /// Computes the floors from the last [`HISTORY_WINDOW`] runs and the context.
    pub fn learn(history: &[BuildRun], stats: &HistoryStats, context: &RunContext) -> Self {
        let recent = &history[history.len().saturating_sub(HISTORY_WINDOW)..];
        let mut ooms = Vec::new();
        let mut peaks = Vec::with_capacity(recent.len());
        let mut proven = Vec::new();
        for r in recent {
            if r.status.is_success() {
                proven.push(Proven {
                    run_id: r.run_id.clone(),
                    concurrency: r.config.concurrency,
                    memory_bytes: r.config.memory_bytes as f64,
                });
            }
            let limit = r.config.memory_bytes as f64;
            let peak = r.peak_rss_bytes().map(|b| b as f64);
            let died_at = match r.status {
                // Killed at its limit: the peak it needed was at least the limit.
                RunStatus::OomKilled => Some(peak.unwrap_or(limit).max(limit)),
                RunStatus::Failure => peak
                    .filter(|&p| p >= OOM_SUSPECT_RATIO * limit)
                    .map(|p| p.max(limit)),
                _ => None,
            };
            match (died_at, peak) {
                (Some(p), _) => ooms.push(OomKill {
                    run_id: r.run_id.clone(),
                    died_at_bytes: p,
                    concurrency: r.config.concurrency,
                }),
                (None, Some(bytes)) => peaks.push(Peak {
                    bytes,
                    concurrency: r.config.concurrency,
                    success: r.status.is_success(),
                }),
                (None, None) => {}
            }
        }
        Floors {
            base_bytes: base_rss(&peaks),
            peaks,
            per_job_bytes: stats.rss_per_job_p95_bytes,
            ooms,
            declared_floor: context.rss_bytes().map(|b| 1.2 * b as f64),
            proven,
        }
    }

    /// 1.2 x the p95 of the successful runs' peaks, scaled to `concurrency`.
    pub fn rss_p95_floor(&self, concurrency: u32) -> Option<f64> {
        let mut v: Vec<f64> = self
            .peaks
            .iter()
            .filter(|p| p.success)
            .map(|p| p.scaled_to(concurrency, self.base_bytes))
            .collect();
        quantile(&mut v, 0.95).map(|b| 1.2 * b)
    }

    /// 1.1 x the largest recent peak (any status but a death of memory), scaled to
    /// `concurrency`.
    pub fn max_peak_floor(&self, concurrency: u32) -> Option<f64> {
        self.peaks
            .iter()
            .map(|p| p.scaled_to(concurrency, self.base_bytes))
            .reduce(f64::max)
            .map(|b| 1.1 * b)
    }

    /// The most memory a recent successful run with at least `concurrency` jobs had, and that
    /// run (the newest among equals): enough for `concurrency` jobs by its evidence.
    pub fn proven_cap(&self, concurrency: u32) -> Option<(f64, &Proven)> {
        self.proven
            .iter()
            .filter(|p| p.concurrency >= concurrency)
            .reduce(|a, b| {
                if b.memory_bytes >= a.memory_bytes {
                    b
                } else {
                    a
                }
            })
            .map(|p| (p.memory_bytes, p))
    }

    /// The floor learned from peaks: RSS p95, max peak, per-job p95 (`None` when no peak is
    /// known).
    fn learned_floor(&self, concurrency: u32) -> Option<f64> {
        [
            self.rss_p95_floor(concurrency),
            self.max_peak_floor(concurrency),
            self.per_job_bytes.map(|b| b * f64::from(concurrency)),
        ]
        .into_iter()
        .flatten()
        .reduce(f64::max)
    }

    /// The floor learned from peaks before and after [`Floors::proven_cap`] (0 when no peak
    /// is known).
    pub fn learned_and_capped(&self, concurrency: u32) -> (f64, f64) {
        (
            self.learned_floor(concurrency).unwrap_or(0.0),
            self.peak_floor(concurrency).unwrap_or(0.0),
        )
    }

    /// [`Floors::learned_floor`] capped by [`Floors::proven_cap`].
    fn peak_floor(&self, concurrency: u32) -> Option<f64> {
        let learned = self.learned_floor(concurrency)?;
        Some(match self.proven_cap(concurrency) {
            Some((cap, _)) => learned.min(cap),
            None => learned,
        })
    }

    /// The highest OOM floor at `concurrency` and the run that sets it (the oldest among
    /// equals).
    pub fn oom_floor(&self, concurrency: u32) -> Option<(f64, &OomKill)> {
        let base = self.base_bytes.unwrap_or(0.0);
        self.ooms
            .iter()
            .map(|o| (o.floor(concurrency, base), o))
            .reduce(|a, b| if b.0 > a.0 { b } else { a })
    }

    /// The memory floor for a build with `concurrency` jobs, bytes (0 when nothing is known).
    pub fn memory(&self, concurrency: u32) -> f64 {
        [
            self.peak_floor(concurrency),
            self.oom_floor(concurrency).map(|(b, _)| b),
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
        if let (Some(learned), Some((cap, run))) = (
            self.learned_floor(concurrency),
            self.proven_cap(concurrency),
        ) {
            if learned > cap && !parts.is_empty() {
                let peaks = parts.join(", ");
                parts = vec![format!(
                    "min(max({peaks}), {} that run {} with {} jobs succeeded in)",
                    gib(cap),
                    run.run_id,
                    run.concurrency
                )];
            }
        }
        if let Some((b, oom)) = self.oom_floor(concurrency) {
            let run = &oom.run_id;
            if concurrency >= oom.concurrency {
                parts.push(format!("OOM kill in run {run} -> {}", gib(b)));
            } else {
                let base = self.base_bytes.unwrap_or(0.0);
                let base_part = if base > 0.0 {
                    format!("{} + ", gib(base.min(oom.died_at_bytes)))
                } else {
                    String::new()
                };
                parts.push(format!(
                    "OOM kill in run {run} at {} with {} jobs, {base_part}{} per job x {concurrency} -> {}",
                    gib(oom.died_at_bytes),
                    oom.concurrency,
                    gib(oom.per_job_bytes(base)),
                    gib(b)
                ));
            }
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

/// The intercept of the least-squares line through the successful peaks against their jobs,
/// within [0, the smallest successful peak]: memory no build of this pipeline went without.
fn base_rss(peaks: &[Peak]) -> Option<f64> {
    let ok: Vec<(f64, f64)> = peaks
        .iter()
        .filter(|p| p.success)
        .map(|p| (f64::from(p.concurrency), p.bytes))
        .collect();
    let n = ok.len() as f64;
    let mean_x = ok.iter().map(|(x, _)| x).sum::<f64>() / n;
    let mean_y = ok.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = ok.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    // One job count (or none) says nothing about what the jobs share.
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = ok.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let intercept = mean_y - sxy / sxx * mean_x;
    let smallest = ok.iter().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
    let base = intercept.max(0.0).min(smallest);
    base.is_finite().then_some(base)
}
