//! Candidate configurations: the grid around the baseline, lifted to the floors and cut at the
//! declared capacity.

use super::floors::cpu_floor;
use super::rationale::describe;
use super::{Optimizer, Request};
use crate::error::{Error, Result};
use crate::forest::Prediction;
use crate::telemetry::{BuildConfig, GIB};

/// How many candidates a request scores, roughly.
const TARGET_CANDIDATES: f64 = 150.0;

/// A configuration and its predicted duration.
pub(super) struct Candidate {
    pub(super) config: BuildConfig,
    pub(super) prediction: Prediction,
}

/// The candidates that meet every guard, and how many were generated and cut.
pub(super) struct Guarded {
    /// Distinct guarded configs, sorted.
    pub(super) configs: Vec<BuildConfig>,
    /// Candidates generated.
    pub(super) considered: usize,
    /// Candidates above capacity once lifted to the floors.
    pub(super) rejected: usize,
    /// Whether nothing near the baseline fitted, so the candidates run fewer jobs.
    pub(super) stepped_down: bool,
}

impl Optimizer {
    /// The grid around the baseline, each candidate lifted to the floors, those above capacity
    /// dropped. When none is left, the most jobs that fit the capacity, with the grid around
    /// the baseline cut to the capacity; `NoSafeConfig` only when not even one job fits.
    pub(super) fn guarded_candidates(&self, req: &Request<'_>) -> Result<Guarded> {
        let near = self.lift_all(self.grid(&req.base), req);
        if !near.configs.is_empty() {
            return Ok(near);
        }
        // Raising memory past the capacity is no way out, but fewer jobs need fewer cores and,
        // by the per-job OOM evidence, less memory.
        let Some(jobs) = self.most_jobs_that_fit(req) else {
            return Err(no_safe_config(req));
        };
        let cap = req.capacity;
        let start = BuildConfig {
            concurrency: jobs,
            cpu_cores: cap
                .cpu_cores
                .map_or(req.base.cpu_cores, |c| req.base.cpu_cores.min(c)),
            memory_bytes: cap
                .memory_bytes
                .map_or(req.base.memory_bytes, |m| req.base.memory_bytes.min(m)),
        };
        let mut grid: Vec<BuildConfig> = self
            .grid(&start)
            .into_iter()
            .filter(|c| c.concurrency <= jobs)
            .collect();
        grid.push(self.smallest(jobs));
        let fewer = self.lift_all(grid, req);
        Ok(Guarded {
            considered: near.considered + fewer.considered,
            rejected: near.rejected + fewer.rejected,
            stepped_down: true,
            ..fewer
        })
    }

    /// Lifts each candidate to the floors and drops those above capacity.
    fn lift_all(&self, grid: Vec<BuildConfig>, req: &Request<'_>) -> Guarded {
        let considered = grid.len();
        // The memory floor depends only on concurrency: compute it once per value.
        let mut floor_by_jobs: Vec<(u32, f64)> = Vec::new();
        for c in &grid {
            if !floor_by_jobs.iter().any(|(j, _)| *j == c.concurrency) {
                floor_by_jobs.push((c.concurrency, req.floors.memory(c.concurrency)));
            }
        }
        let mem_floor = |jobs: u32| {
            floor_by_jobs
                .iter()
                .find(|(j, _)| *j == jobs)
                .map_or_else(|| req.floors.memory(jobs), |(_, f)| *f)
        };
        let lifted: Vec<Option<BuildConfig>> = grid
            .iter()
            .map(|c| self.lift(c, mem_floor(c.concurrency), req))
            .collect();
        let rejected = lifted.iter().filter(|c| c.is_none()).count();
        let mut configs: Vec<BuildConfig> = lifted.into_iter().flatten().collect();
        configs.sort_by_key(config_key);
        configs.dedup();
        Guarded {
            configs,
            considered,
            rejected,
            stepped_down: false,
        }
    }

    /// The most jobs, up to the baseline's, whose floors fit the capacity; `None` when not
    /// even one job fits. The floors grow with jobs, so a binary search finds it (a baseline
    /// may declare any number of jobs).
    fn most_jobs_that_fit(&self, req: &Request<'_>) -> Option<u32> {
        let fits = |jobs: u32| {
            self.lift(&self.smallest(jobs), req.floors.memory(jobs), req)
                .is_some()
        };
        if !fits(1) {
            return None;
        }
        let (mut lo, mut hi) = (1, req.base.concurrency.max(1));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }

    /// The least a build with `jobs` jobs can be given before the floors lift it: one step of
    /// cores and one of memory.
    fn smallest(&self, jobs: u32) -> BuildConfig {
        BuildConfig {
            concurrency: jobs,
            cpu_cores: self.params.cpu_step,
            memory_bytes: self.params.memory_step_bytes,
        }
    }

    /// Candidates within ±bound of `base` on each resource.
    fn grid(&self, base: &BuildConfig) -> Vec<BuildConfig> {
        let b = self.params.bound;
        let c0 = f64::from(base.concurrency);
        // A whole job is the smallest step: small concurrencies may move by one.
        let lo =
            ((c0 * (1.0 - b)).round() as u32).clamp(1, base.concurrency.saturating_sub(1).max(1));
        let hi = ((c0 * (1.0 + b)).round() as u32).max(base.concurrency + 1);
        let conc: Vec<u32> = spread_values(lo, hi, base.concurrency, 7);
        // About 150 candidates: fewer concurrency values get finer core and memory steps.
        let levels =
            ((TARGET_CANDIDATES / conc.len() as f64).sqrt().round() as i32 | 1).clamp(3, 7);
        let half = levels / 2;
        let fractions: Vec<f64> = (-half..=half)
            .map(|k| f64::from(k) / f64::from(half))
            .collect();
        let step = self.params.cpu_step;
        let mut cpus: Vec<f64> = fractions
            .iter()
            .map(|f| ((base.cpu_cores * (1.0 + b * f)) / step).round().max(1.0) * step)
            .collect();
        cpus.dedup();
        let mstep = self.params.memory_step_bytes as f64;
        let mut mems: Vec<u64> = fractions
            .iter()
            .map(|f| {
                (((base.memory_bytes as f64 * (1.0 + b * f)) / mstep)
                    .round()
                    .max(1.0)
                    * mstep) as u64
            })
            .collect();
        mems.dedup();
        let mut out = Vec::with_capacity(conc.len() * cpus.len() * mems.len());
        for &c in &conc {
            for &cpu in &cpus {
                for &m in &mems {
                    out.push(BuildConfig {
                        concurrency: c,
                        cpu_cores: cpu,
                        memory_bytes: m,
                    });
                }
            }
        }
        out
    }

    /// Lifts a candidate to the floors; `None` when that puts it above capacity.
    fn lift(&self, c: &BuildConfig, mem_floor: f64, req: &Request<'_>) -> Option<BuildConfig> {
        let mstep = self.params.memory_step_bytes as f64;
        let cstep = self.params.cpu_step;
        let mem = (c.memory_bytes as f64).max((mem_floor / mstep).ceil() * mstep);
        let cpu = c
            .cpu_cores
            .max((cpu_floor(c.concurrency) / cstep).ceil() * cstep);
        let cap = req.capacity;
        if cap.cpu_cores.is_some_and(|m| cpu > m)
            || cap.memory_bytes.is_some_and(|m| mem > m as f64)
        {
            return None;
        }
        if !mem.is_finite() || mem > u64::MAX as f64 {
            return None;
        }
        Some(BuildConfig {
            concurrency: c.concurrency,
            cpu_cores: cpu,
            memory_bytes: mem as u64,
        })
    }
}

/// Up to `n` values from `lo` to `hi` inclusive, always including `center`.
fn spread_values(lo: u32, hi: u32, center: u32, n: u32) -> Vec<u32> {
    let mut v: Vec<u32> = if hi - lo < n {
        (lo..=hi).collect()
    } else {
        (0..n)
            .map(|k| lo + ((hi - lo) as f64 * k as f64 / (n - 1) as f64).round() as u32)
            .collect()
    };
    v.push(center);
    v.sort_unstable();
    v.dedup();
    v
}

fn config_key(c: &BuildConfig) -> (u32, u64, u64) {
    (c.concurrency, c.cpu_cores.to_bits(), c.memory_bytes)
}

/// Why nothing fits, not even one job: the floors around the baseline and at one job against
/// the declared capacity.
fn no_safe_config(req: &Request<'_>) -> Error {
    let c = req.base.concurrency;
    let mut msg = format!(
        "around {} the memory floor is {:.2} GiB ({}) and the CPU floor {:.2} cores",
        describe(&req.base),
        req.floors.memory(c) / GIB,
        req.floors.explain_memory(c),
        cpu_floor(c)
    );
    if c > 1 {
        msg.push_str(&format!(
            "; even 1 job needs {:.2} GiB ({}) and {:.2} cores",
            req.floors.memory(1) / GIB,
            req.floors.explain_memory(1),
            cpu_floor(1)
        ));
    }
    if let Some(m) = req.capacity.memory_bytes {
        msg.push_str(&format!(
            "; declared memory capacity {:.2} GiB",
            m as f64 / GIB
        ));
    }
    if let Some(cpu) = req.capacity.cpu_cores {
        msg.push_str(&format!("; declared CPU capacity {cpu} cores"));
    }
    msg.push_str(": raise the capacity");
    Error::NoSafeConfig(msg)
}
