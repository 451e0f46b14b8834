//! Seeded, realistic build histories and the simulated pipelines behind them.
//!
//! A [`SimPipeline`] has a true duration for every configuration: a serial part, a parallel
//! part that the build cache shortens and that scales with `min(concurrency, cpu_cores, the
//! tool's useful parallelism)`, contention when jobs outnumber cores, a slowdown when memory is
//! tight (page cache, GC) and an OOM kill when memory is below the true peak RSS, which grows
//! with concurrency. Runs add noise, flaky failures and the resource counters a collector
//! would report. The quickstart, the tests and the optimizer benchmark all use it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::telemetry::{BuildConfig, BuildRun, BuildStep, Capacity, RunStatus, GIB};

const MIB: f64 = 1024.0 * 1024.0;

/// A simulated pipeline with a known true duration for every configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimPipeline {
    /// Pipeline name.
    pub pipeline: String,
    /// Build tool.
    pub tool: String,
    /// Seconds that do not parallelise (checkout, configure, link).
    pub serial_s: f64,
    /// Seconds of parallelisable work on one core with a cold cache.
    pub parallel_work_s: f64,
    /// Most jobs that still speed the build up (the tool's / project's parallelism).
    pub max_parallelism: f64,
    /// Slowdown per extra job per core when jobs outnumber cores.
    pub contention: f64,
    /// Resident memory of the build driver, bytes.
    pub base_rss_bytes: f64,
    /// Resident memory per parallel job, bytes.
    pub per_job_rss_bytes: f64,
    /// Mean build-cache hit ratio.
    pub cache_hit_ratio: f64,
    /// Relative noise (standard deviation) of a run's duration.
    pub noise: f64,
    /// Probability that a run fails for an unrelated reason (flaky test).
    pub flaky_rate: f64,
    /// The configuration teams start from.
    pub initial: BuildConfig,
}

impl SimPipeline {
    /// A preset for `cmake`, `bazel`, `gradle`, `npm` or `cargo` (anything else gets the
    /// cmake preset under its own name).
    pub fn for_tool(tool: &str) -> Self {
        let gib = |g: f64| (g * GIB) as u64;
        let (serial, work, par, cont, base, per_job, cache, initial) = match tool {
            "bazel" => (40.0, 5400.0, 48.0, 0.04, 1.5, 0.35, 0.6, (8, 4.0, gib(8.0))),
            "gradle" => (60.0, 2400.0, 12.0, 0.06, 2.0, 0.6, 0.4, (4, 4.0, gib(8.0))),
            "npm" => (45.0, 600.0, 4.0, 0.08, 0.8, 0.5, 0.3, (2, 2.0, gib(4.0))),
            "cargo" => (30.0, 3600.0, 24.0, 0.05, 0.6, 0.9, 0.5, (4, 4.0, gib(6.0))),
            _ => (25.0, 3000.0, 32.0, 0.05, 0.4, 0.7, 0.5, (4, 4.0, gib(6.0))),
        };
        SimPipeline {
            pipeline: format!("demo/{tool}-app"),
            tool: tool.to_string(),
            serial_s: serial,
            parallel_work_s: work,
            max_parallelism: par,
            contention: cont,
            base_rss_bytes: base * GIB,
            per_job_rss_bytes: per_job * GIB,
            cache_hit_ratio: cache,
            noise: 0.04,
            flaky_rate: 0.02,
            initial: BuildConfig {
                concurrency: initial.0,
                cpu_cores: initial.1,
                memory_bytes: initial.2,
            },
        }
    }

    /// True peak RSS of a build with `config`, bytes.
    pub fn peak_rss_bytes(&self, config: &BuildConfig) -> f64 {
        self.base_rss_bytes + self.per_job_rss_bytes * f64::from(config.concurrency)
    }

    /// Expected duration without noise; `None` when the build is OOM-killed.
    pub fn expected_duration(&self, config: &BuildConfig, cache_hit: f64) -> Option<f64> {
        let need = self.peak_rss_bytes(config);
        let mem = config.memory_bytes as f64;
        if mem < need {
            return None;
        }
        let c = f64::from(config.concurrency);
        let eff = c.min(config.cpu_cores).min(self.max_parallelism).max(0.25);
        let over = (c / config.cpu_cores - 1.0).max(0.0);
        let contention = 1.0 + self.contention * over;
        let pressure = 1.0 + 1.5 * (1.25 - mem / need).max(0.0);
        let work = self.parallel_work_s * (1.0 - 0.8 * cache_hit);
        Some((self.serial_s + work / eff * contention) * pressure)
    }

    /// The fastest configuration within `capacity` on a fine grid (the oracle of the
    /// optimizer benchmark), and its expected duration.
    pub fn oracle(&self, capacity: &Capacity) -> (BuildConfig, f64) {
        let max_cpu = capacity.cpu_cores.unwrap_or(64.0);
        let max_mem = capacity.memory_bytes.map_or(128.0 * GIB, |m| m as f64);
        let mut best = (self.initial, f64::INFINITY);
        let mut cpu = 0.5;
        while cpu <= max_cpu + 1e-9 {
            for c in 1..=(4.0 * cpu).floor() as u32 {
                let mut cfg = BuildConfig {
                    concurrency: c,
                    cpu_cores: cpu,
                    memory_bytes: 0,
                };
                // Memory beyond 1.25x the peak buys nothing: take the least that is enough.
                let mem = (self.peak_rss_bytes(&cfg) * 1.25).min(max_mem);
                cfg.memory_bytes = mem.ceil() as u64;
                if let Some(d) = self.expected_duration(&cfg, self.cache_hit_ratio) {
                    if d < best.1 {
                        best = (cfg, d);
                    }
                }
            }
            cpu += 0.5;
        }
        best
    }

    /// Runs one build with `config`: the outcome a CI system would report.
    pub fn run<R: Rng>(&self, index: usize, config: BuildConfig, rng: &mut R) -> BuildRun {
        let cache_hit = (self.cache_hit_ratio + 0.15 * (rng.random::<f64>() - 0.5)).clamp(0.0, 1.0);
        let noise = 1.0 + self.noise * gaussian(rng);
        let peak = self.peak_rss_bytes(&config) * (0.97 + 0.06 * rng.random::<f64>());
        let (status, duration, rss) = match self.expected_duration(&config, cache_hit) {
            None => {
                // Killed part-way through compilation, at its memory limit.
                let full =
                    self.serial_s + self.parallel_work_s / f64::from(config.concurrency.max(1));
                (
                    RunStatus::OomKilled,
                    full * (0.2 + 0.5 * rng.random::<f64>()),
                    config.memory_bytes as f64,
                )
            }
            Some(d) if rng.random::<f64>() < self.flaky_rate => {
                (RunStatus::Failure, d * noise * 0.9, peak)
            }
            Some(d) => (RunStatus::Success, (d * noise).max(1.0), peak),
        };
        let fractions = [
            ("checkout", 0.03),
            ("configure", 0.07),
            ("compile", 0.6),
            ("test", 0.25),
            ("package", 0.05),
        ];
        let objects = 1000.0;
        let mut steps = Vec::new();
        for (name, frac) in fractions {
            let mut s = BuildStep::new(name, duration * frac);
            // A CPU-bound build keeps its useful cores busy.
            let busy = f64::from(config.concurrency)
                .min(config.cpu_cores)
                .min(self.max_parallelism);
            s.cpu_seconds = Some(s.duration_s * busy * 0.95);
            s.max_rss_bytes = Some(if name == "compile" {
                rss as u64
            } else {
                (self.base_rss_bytes * 0.5) as u64
            });
            s.io_read_bytes = Some((s.duration_s * 20.0 * MIB) as u64);
            s.io_write_bytes = Some((s.duration_s * 8.0 * MIB) as u64);
            if name == "compile" {
                s.cache_hits = Some((objects * cache_hit) as u64);
                s.cache_misses = Some((objects * (1.0 - cache_hit)) as u64);
            }
            steps.push(s);
            if status == RunStatus::OomKilled && name == "compile" {
                break;
            }
        }
        // The step that was running when the build ended carries its status.
        if let Some(last) = steps.last_mut() {
            last.status = status;
        }
        // The run lasts as long as its steps.
        let duration = steps.iter().map(|s| s.duration_s).sum::<f64>();
        BuildRun {
            run_id: format!("{}-{index}", self.tool),
            pipeline: self.pipeline.clone(),
            tool: self.tool.clone(),
            status,
            duration_s: duration,
            config,
            steps,
            max_rss_bytes: Some(rss as u64),
            started_at: Some(1_767_225_600.0 + index as f64 * 900.0),
            labels: Default::default(),
        }
    }

    /// A config within +-25% of `base` (teams tweak their settings), rounded like a person would.
    pub fn jitter<R: Rng>(&self, base: &BuildConfig, rng: &mut R) -> BuildConfig {
        let f = |rng: &mut R| 0.75 + 0.5 * rng.random::<f64>();
        BuildConfig {
            concurrency: ((f64::from(base.concurrency) * f(rng)).round() as u32).max(1),
            cpu_cores: ((base.cpu_cores * f(rng)) * 2.0).round().max(1.0) / 2.0,
            memory_bytes: ((base.memory_bytes as f64 * f(rng) / (256.0 * MIB))
                .round()
                .max(1.0)
                * 256.0
                * MIB) as u64,
        }
    }
}

/// Standard normal variate (Box-Muller).
fn gaussian<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` runs of a demo pipeline for `tool` (oldest first), reproducible from `seed`: configs
/// jittered around the tool's usual one, with noise, flaky failures and OOM kills where memory
/// runs short.
///
/// ```
/// let h = inframind_core::demo::demo_history("gradle", 50, 42);
/// assert_eq!(h.len(), 50);
/// assert!(h.iter().all(|r| r.validate().is_ok()));
/// assert_eq!(h, inframind_core::demo::demo_history("gradle", 50, 42));
/// ```
pub fn demo_history(tool: &str, n: usize, seed: u64) -> Vec<BuildRun> {
    let sim = SimPipeline::for_tool(tool);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let cfg = sim.jitter(&sim.initial, &mut rng);
            sim.run(i, cfg, &mut rng)
        })
        .collect()
}

/// The tools with a demo preset.
pub const DEMO_TOOLS: [&str; 5] = ["cmake", "bazel", "gradle", "npm", "cargo"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_memory_gets_oom_killed() {
        let sim = SimPipeline::for_tool("cargo");
        let mut cfg = sim.initial;
        cfg.memory_bytes = (sim.peak_rss_bytes(&cfg) * 0.9) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sim.run(0, cfg, &mut rng).status, RunStatus::OomKilled);
    }

    #[test]
    fn oracle_beats_the_initial_config() {
        for tool in DEMO_TOOLS {
            let sim = SimPipeline::for_tool(tool);
            let cap = Capacity {
                cpu_cores: Some(16.0),
                memory_bytes: Some(32 << 30),
            };
            let (cfg, d) = sim.oracle(&cap);
            let init = sim
                .expected_duration(&sim.initial, sim.cache_hit_ratio)
                .unwrap_or(f64::INFINITY);
            assert!(d <= init, "{tool}: oracle {d} vs initial {init}");
            assert!(cfg.cpu_cores <= 16.0);
        }
    }

    #[test]
    fn histories_contain_ooms_and_successes() {
        let h = demo_history("cargo", 200, 5);
        assert!(h.iter().any(|r| r.status == RunStatus::OomKilled));
        assert!(h.iter().filter(|r| r.status.is_success()).count() > 100);
    }
}
