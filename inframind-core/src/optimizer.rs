//! The optimizer: the fastest safe configuration for a pipeline's next build.
//!
//! It generates candidates around the last successful configuration (each of concurrency,
//! cores and memory within ±[`OptimizerParams::bound`], 25% by default), lifts every candidate
//! to the safety floors, drops those above the declared capacity, scores the rest with the
//! duration model in one batch, and returns the fastest with the reasons a person needs.
//!
//! The guards follow the resource recommenders operators already trust (Kubernetes VPA,
//! Robusta KRR):
//! - memory ≥ max(1.2 × RSS p95 of recent successful runs, 1.1 × the largest recent peak,
//!   per-job RSS p95 × concurrency, the declared expected RSS × 1.2); a peak measured at fewer
//!   jobs than the candidate runs is first scaled up by the ratio of jobs (memory grows with
//!   jobs), so raising concurrency never outruns the memory it needs;
//! - after an OOM kill (or a failed run whose peak reached 95% of its limit: an OOM suspect,
//!   which never counts as a clean sample) memory ≥ max(1.2 × the peak it died at, that peak +
//!   100 MiB), VPA's bump;
//! - cores ≥ concurrency / 4; nothing above the capacity the caller declares.
//!
//! Predictions are made non-increasing in cores and memory (more of either never slows a
//! build). Among candidates predicted within 0.5% of the fastest, it prefers more parallel jobs and
//! cores (a forest predicts flat where it has no data, so it cannot see gains it has not
//! observed; a slower result is learned from the next build) and then the least memory. With
//! probability [`OptimizerParams::exploration`] (15%) it instead explores: it picks, with a
//! seeded RNG, among the guarded candidates whose optimistic estimate (mean − spread) beats the
//! best mean, whose mean is at most 10% slower (so a bad guess costs little) and that keep at
//! least the baseline's cores, the one least like any recent successful config (novelty
//! teaches the model most). Without a model,
//! or with fewer than [`OptimizerParams::min_successful_runs`] successful runs, it returns the last successful config (or the defaults), lifted to the
//! guards, and says so.
//!
//! ```
//! use inframind_core::{demo, forest::RandomForestParams, model::DurationModel};
//! use inframind_core::optimizer::{Optimizer, OptimizerParams};
//! use inframind_core::telemetry::RunContext;
//!
//! let history = demo::demo_history("cmake", 150, 1);
//! let model = DurationModel::train(&history, RandomForestParams::new().n_trees(40))?;
//! let opt = Optimizer::new(OptimizerParams::default())?;
//! let s = opt.suggest(Some(&model), &history, &RunContext::for_tool("cmake"), Some(7))?;
//! assert!(s.config.cpu_cores >= s.config.concurrency as f64 / 4.0);
//! for line in &s.rationale { println!("{line}"); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::{self, quantile, FeatureSchema, HistoryStats, HISTORY_WINDOW, N_FEATURES};
use crate::forest::Prediction;
use crate::model::DurationModel;
use crate::telemetry::{validate_history, BuildConfig, BuildRun, RunContext, RunStatus, GIB};

const MIB: f64 = 1024.0 * 1024.0;
/// VPA's minimum bump after an OOM kill.
const OOM_BUMP_BYTES: f64 = 100.0 * MIB;
/// A failed run whose peak reached this share of its memory limit is an OOM suspect.
const OOM_SUSPECT_RATIO: f64 = 0.95;
/// Predictions within this relative distance of the best are ties.
const TIE_TOLERANCE: f64 = 0.005;
/// Exploration only tries candidates predicted at most this much slower than the best.
const EXPLORE_MAX_LOSS: f64 = 0.10;
/// How many candidates a request scores, roughly.
const TARGET_CANDIDATES: f64 = 150.0;

/// Settings of the optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptimizerParams {
    /// Probability of exploring instead of exploiting, in [0, 1). Default 0.15.
    pub exploration: f64,
    /// Largest relative change of each resource from the last successful config, in (0, 1).
    /// Default 0.25. The safety floors may lift memory and cores past it.
    pub bound: f64,
    /// Successful runs needed before the model is trusted. Default 10.
    pub min_successful_runs: usize,
    /// Memory is suggested in multiples of this, bytes. Default 64 MiB.
    pub memory_step_bytes: u64,
    /// Cores are suggested in multiples of this. Default 0.25.
    pub cpu_step: f64,
    /// Config used when the pipeline has no history at all.
    pub defaults: BuildConfig,
}

impl Default for OptimizerParams {
    fn default() -> Self {
        OptimizerParams {
            exploration: 0.15,
            bound: 0.25,
            min_successful_runs: 10,
            memory_step_bytes: 64 << 20,
            cpu_step: 0.25,
            defaults: BuildConfig {
                concurrency: 4,
                cpu_cores: 2.0,
                memory_bytes: 4 << 30,
            },
        }
    }
}

impl OptimizerParams {
    /// Sets the exploration rate.
    pub fn exploration(mut self, rate: f64) -> Self {
        self.exploration = rate;
        self
    }
    /// Sets the exploration bound around the last successful config.
    pub fn bound(mut self, bound: f64) -> Self {
        self.bound = bound;
        self
    }
    /// Sets the successful runs needed before the model is trusted.
    pub fn min_successful_runs(mut self, n: usize) -> Self {
        self.min_successful_runs = n;
        self
    }
    /// Sets the config used when a pipeline has no history.
    pub fn defaults(mut self, config: BuildConfig) -> Self {
        self.defaults = config;
        self
    }
    /// Sets the memory granularity, bytes.
    pub fn memory_step_bytes(mut self, bytes: u64) -> Self {
        self.memory_step_bytes = bytes;
        self
    }
    /// Sets the core granularity.
    pub fn cpu_step(mut self, cores: f64) -> Self {
        self.cpu_step = cores;
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<()> {
        let bad = |param: &'static str, value: String, reason: &str| {
            Err(Error::InvalidParams {
                param,
                value,
                reason: reason.into(),
            })
        };
        if !(0.0..1.0).contains(&self.exploration) {
            return bad(
                "exploration",
                self.exploration.to_string(),
                "must be in [0, 1)",
            );
        }
        if !(self.bound > 0.0 && self.bound < 1.0) {
            return bad("bound", self.bound.to_string(), "must be in (0, 1)");
        }
        if self.memory_step_bytes == 0 {
            return bad("memory_step_bytes", "0".into(), "must be at least 1 byte");
        }
        if !(self.cpu_step.is_finite() && self.cpu_step > 0.0) {
            return bad("cpu_step", self.cpu_step.to_string(), "must be above 0");
        }
        self.defaults.validate("defaults")
    }
}

/// A safety guard and how it bounded the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    /// `memory_floor`, `cpu_floor`, `cpu_capacity`, `memory_capacity` or `exploration_bound`.
    pub name: String,
    /// The limit, in `unit`.
    pub limit: f64,
    /// `bytes`, `cores` or `ratio`.
    pub unit: String,
    /// Where the limit comes from.
    pub reason: String,
    /// Whether the suggestion sits on this limit.
    pub binding: bool,
}

/// The optimizer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Suggestion {
    /// The configuration to run the next build with.
    pub config: BuildConfig,
    /// Predicted duration with `config` (mean over trees), seconds; `None` at cold start
    /// without history.
    pub predicted_duration_s: Option<f64>,
    /// Spread of the trees' predictions, seconds.
    pub spread_s: Option<f64>,
    /// The last successful config the candidates were drawn around.
    pub baseline_config: BuildConfig,
    /// Predicted duration with the baseline config.
    pub baseline_duration_s: Option<f64>,
    /// `predicted_duration_s - baseline_duration_s` (negative is faster).
    pub expected_change_s: Option<f64>,
    /// Whether this suggestion explores rather than exploits.
    pub explored: bool,
    /// Whether the model was not used (no model or too little history).
    pub cold_start: bool,
    /// Guards and whether they bound the choice.
    pub guards: Vec<Guard>,
    /// Candidates generated.
    pub candidates_considered: usize,
    /// Candidates rejected by capacity after lifting to the floors.
    pub candidates_rejected: usize,
    /// Store version (`v3`) or content id of the model used.
    pub model_version: Option<String>,
    /// Seed of the exploration draw (reproduces the suggestion).
    pub seed: u64,
    /// Lines a person can read.
    pub rationale: Vec<String>,
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

/// The optimizer. Cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Optimizer {
    params: OptimizerParams,
}

struct Candidate {
    config: BuildConfig,
    prediction: Prediction,
}

impl Optimizer {
    /// An optimizer with checked settings.
    pub fn new(params: OptimizerParams) -> Result<Self> {
        params.check()?;
        Ok(Optimizer { params })
    }

    /// The settings.
    pub fn params(&self) -> &OptimizerParams {
        &self.params
    }

    /// Suggests the configuration of the next build of the pipeline whose `history` (oldest
    /// first) is given. `seed` makes exploration reproducible; without it the seed is derived
    /// from the pipeline, the newest run's id and the history length, so the same inputs give
    /// the same answer, and a host that passes a sliding window of recent runs still gets a
    /// new draw after every build.
    pub fn suggest(
        &self,
        model: Option<&DurationModel>,
        history: &[BuildRun],
        context: &RunContext,
        seed: Option<u64>,
    ) -> Result<Suggestion> {
        context.validate()?;
        // Only the recent window (and the base config) shapes a suggestion: validate those, so
        // a long history costs nothing per request.
        let first = history.len().saturating_sub(HISTORY_WINDOW);
        validate_history(&history[first..], first)?;
        if let Some(m) = model {
            m.check_schema(FeatureSchema::current_cached())?;
        }
        let p = &self.params;
        let seed = seed.unwrap_or_else(|| default_seed(history));
        let stats = HistoryStats::from_history(history);
        let floors = Floors::learn(history, &stats, context);
        let n_ok = history.iter().filter(|r| r.status.is_success()).count();
        let base = history
            .iter()
            .rev()
            .find(|r| r.status.is_success())
            .or(history.last())
            .map_or(p.defaults, |r| r.config);
        base.validate("baseline config")?;
        let capacity = context.capacity.unwrap_or_default();

        let grid = self.grid(&base);
        let considered = grid.len();
        // The memory floor depends only on concurrency: compute it once per value.
        let mut floor_by_jobs: Vec<(u32, f64)> = Vec::new();
        for c in &grid {
            if !floor_by_jobs.iter().any(|(j, _)| *j == c.concurrency) {
                floor_by_jobs.push((c.concurrency, floors.memory(c.concurrency)));
            }
        }
        let mem_floor = |jobs: u32| {
            floor_by_jobs
                .iter()
                .find(|(j, _)| *j == jobs)
                .map_or_else(|| floors.memory(jobs), |(_, f)| *f)
        };
        let lifted: Vec<Option<BuildConfig>> = grid
            .iter()
            .map(|c| self.lift(c, mem_floor(c.concurrency), context))
            .collect();
        let rejected = lifted.iter().filter(|c| c.is_none()).count();
        let guarded: Vec<BuildConfig> = {
            let mut v: Vec<BuildConfig> = lifted.into_iter().flatten().collect();
            v.sort_by_key(config_key);
            v.dedup();
            v
        };
        if guarded.is_empty() {
            return Err(no_safe_config(&base, &floors, &capacity, context));
        }

        let mut rationale = vec![format!(
            "History: {} runs ({} successful); last successful config: {}.",
            history.len(),
            n_ok,
            describe(&base)
        )];
        let cold = model.is_none() || n_ok < p.min_successful_runs;
        let model = model.filter(|_| !cold);
        let (chosen, baseline, explored) = match model {
            None => {
                // Cold start: the guarded candidate closest to the baseline.
                let chosen = guarded
                    .iter()
                    .min_by(|a, b| distance(a, &base).total_cmp(&distance(b, &base)))
                    .copied()
                    .unwrap_or(base);
                rationale.push(if history.is_empty() {
                    "Cold start: no history for this pipeline, so the documented defaults are used."
                        .to_string()
                } else if n_ok < p.min_successful_runs {
                    format!(
                        "Cold start: {n_ok} successful runs, fewer than the {} the model needs; \
                         keeping the last successful config.",
                        p.min_successful_runs
                    )
                } else {
                    "Cold start: no trained model; keeping the last successful config.".to_string()
                });
                let median = stats.recent_median_duration_s.map(|m| Prediction {
                    mean: m,
                    spread: 0.0,
                });
                (
                    Candidate {
                        config: chosen,
                        prediction: median.unwrap_or(Prediction {
                            mean: f64::NAN,
                            spread: f64::NAN,
                        }),
                    },
                    median,
                    false,
                )
            }
            Some(model) => {
                let mut row = [0.0; N_FEATURES];
                features::fill_context_features(&mut row, context, &stats);
                let mut rows32 = Vec::with_capacity((guarded.len() + 1) * (N_FEATURES + 1));
                for cfg in guarded.iter().chain(std::iter::once(&base)) {
                    features::fill_config_features(&mut row, cfg, context, &stats);
                    rows32.extend(row.iter().map(|&v| v as f32));
                    rows32.push(f32::NAN);
                }
                // Candidates differ only in their config features: each tree decides its splits
                // on the context once for all of them and divides them only where it splits
                // on a config feature.
                let template = &rows32[rows32.len() - (N_FEATURES + 1)..];
                let mut preds = model.forest().predict_shared_f32(
                    template,
                    &features::CONFIG_FEATURE_MASK,
                    &rows32,
                );
                let baseline = preds.pop();
                let mut cands: Vec<Candidate> = guarded
                    .iter()
                    .zip(preds)
                    .map(|(c, pr)| Candidate {
                        config: *c,
                        prediction: pr,
                    })
                    .collect();
                make_monotone(&mut cands);
                let best_mean = cands
                    .iter()
                    .map(|c| c.prediction.mean)
                    .fold(f64::INFINITY, f64::min);
                let exploit = cands
                    .iter()
                    .filter(|c| c.prediction.mean <= best_mean + TIE_TOLERANCE * best_mean.abs())
                    .min_by(|a, b| tie_break(&a.config).cmp(&tie_break(&b.config)))
                    .map(|c| c.config);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let explore_draw: f64 = rng.random();
                // Worth trying: plausibly faster than the best (optimistic estimate), not expected
                // much slower, and not fewer cores than the baseline (fewer never helps speed).
                let eligible: Vec<&Candidate> = cands
                    .iter()
                    .filter(|c| {
                        Some(c.config) != exploit
                            && c.prediction.mean - c.prediction.spread < best_mean
                            && c.prediction.mean <= best_mean * (1.0 + EXPLORE_MAX_LOSS)
                            && c.config.cpu_cores >= base.cpu_cores
                    })
                    .collect();
                let (pick, explored) = if explore_draw < p.exploration && !eligible.is_empty() {
                    // The candidate least like anything already run teaches the model most.
                    let seen: Vec<BuildConfig> = history
                        [history.len().saturating_sub(HISTORY_WINDOW)..]
                        .iter()
                        .filter(|r| r.status.is_success())
                        .map(|r| r.config)
                        .collect();
                    let novelty = |c: &BuildConfig| {
                        seen.iter()
                            .map(|s| distance(c, s))
                            .fold(f64::INFINITY, f64::min)
                    };
                    let top = eligible
                        .iter()
                        .map(|c| novelty(&c.config))
                        .fold(0.0, f64::max);
                    let most_novel: Vec<&&Candidate> = eligible
                        .iter()
                        .filter(|c| novelty(&c.config) >= top * 0.95)
                        .collect();
                    (
                        most_novel[rng.random_range(0..most_novel.len())].config,
                        true,
                    )
                } else {
                    (exploit.unwrap_or(base), false)
                };
                let chosen = cands
                    .into_iter()
                    .find(|c| c.config == pick)
                    .unwrap_or(Candidate {
                        config: pick,
                        prediction: Prediction {
                            mean: best_mean,
                            spread: 0.0,
                        },
                    });
                let meta = model.metadata();
                rationale.push(format!(
                    "Scored {} guarded candidates (of {considered} within ±{:.0}% of it; {rejected} above capacity) \
                     with model {}{}.",
                    guarded.len(),
                    p.bound * 100.0,
                    model_version(model),
                    meta.oob_score.map(|r| format!(" (out-of-bag R² {r:.3})")).unwrap_or_default()
                ));
                (chosen, baseline, explored)
            }
        };

        let mem_floor = floors.memory(chosen.config.concurrency);
        let cpu_floor = f64::from(chosen.config.concurrency) / 4.0;
        let mem_step = p.memory_step_bytes as f64;
        let mut guards = vec![
            Guard {
                name: "memory_floor".into(),
                limit: mem_floor,
                unit: "bytes".into(),
                reason: floors.explain_memory(chosen.config.concurrency),
                binding: (chosen.config.memory_bytes as f64) < mem_floor + mem_step,
            },
            Guard {
                name: "cpu_floor".into(),
                limit: cpu_floor,
                unit: "cores".into(),
                reason: format!("concurrency {} / 4", chosen.config.concurrency),
                binding: chosen.config.cpu_cores < cpu_floor + p.cpu_step,
            },
            Guard {
                name: "exploration_bound".into(),
                limit: p.bound,
                unit: "ratio".into(),
                reason: format!(
                    "each resource within ±{:.0}% of {}",
                    p.bound * 100.0,
                    describe(&base)
                ),
                binding: !within(&chosen.config, &base, p.bound * 0.999),
            },
        ];
        if let Some(c) = capacity.cpu_cores {
            guards.push(Guard {
                name: "cpu_capacity".into(),
                limit: c,
                unit: "cores".into(),
                reason: "declared capacity".into(),
                binding: chosen.config.cpu_cores + p.cpu_step > c,
            });
        }
        if let Some(m) = capacity.memory_bytes {
            guards.push(Guard {
                name: "memory_capacity".into(),
                limit: m as f64,
                unit: "bytes".into(),
                reason: "declared capacity".into(),
                binding: chosen.config.memory_bytes as f64 + mem_step > m as f64,
            });
        }

        let predicted = chosen
            .prediction
            .mean
            .is_finite()
            .then_some(chosen.prediction.mean);
        let spread = chosen
            .prediction
            .spread
            .is_finite()
            .then_some(chosen.prediction.spread);
        let baseline_s = baseline.map(|b| b.mean).filter(|m| m.is_finite());
        let change = predicted.zip(baseline_s).map(|(a, b)| a - b);
        rationale.push(match (predicted, baseline_s, change) {
            (Some(pr), Some(b), Some(ch)) if !cold => format!(
                "Suggest {}: predicted {:.0} s ± {:.0} s against {:.0} s for the last config ({:+.0} s, {:+.1}%).",
                describe(&chosen.config),
                pr,
                spread.unwrap_or(0.0),
                b,
                ch,
                100.0 * ch / b.max(1e-9)
            ),
            (Some(pr), _, _) => format!("Suggest {}: recent median duration {:.0} s.", describe(&chosen.config), pr),
            _ => format!("Suggest {}.", describe(&chosen.config)),
        });
        for g in guards
            .iter()
            .filter(|g| g.binding && g.name != "exploration_bound")
        {
            rationale.push(match g.unit.as_str() {
                "bytes" => format!("Guard {}: {:.2} GiB ({}).", g.name, g.limit / GIB, g.reason),
                _ => format!(
                    "Guard {}: {:.2} {} ({}).",
                    g.name, g.limit, g.unit, g.reason
                ),
            });
        }
        if (chosen.config.memory_bytes as f64)
            > base.memory_bytes as f64 * (1.0 + p.bound) + mem_step
        {
            rationale.push("Memory raised beyond the exploration bound to meet the memory floor: safety first.".into());
        }
        if explored {
            rationale.push(format!(
                "Exploring (rate {:.0}%, seed {seed}): this candidate's optimistic estimate beats the best mean, \
                 so trying it teaches the model.",
                p.exploration * 100.0
            ));
        }

        Ok(Suggestion {
            config: chosen.config,
            predicted_duration_s: predicted,
            spread_s: spread,
            baseline_config: base,
            baseline_duration_s: baseline_s,
            expected_change_s: change,
            explored,
            cold_start: cold,
            guards,
            candidates_considered: considered,
            candidates_rejected: rejected,
            model_version: model.map(model_version),
            seed,
            rationale,
        })
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
    fn lift(&self, c: &BuildConfig, mem_floor: f64, context: &RunContext) -> Option<BuildConfig> {
        let mstep = self.params.memory_step_bytes as f64;
        let cstep = self.params.cpu_step;
        let mem = (c.memory_bytes as f64).max((mem_floor / mstep).ceil() * mstep);
        let cpu_floor = f64::from(c.concurrency) / 4.0;
        let cpu = c.cpu_cores.max((cpu_floor / cstep).ceil() * cstep);
        let cap = context.capacity.unwrap_or_default();
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

/// Makes predictions non-increasing in cores and memory at each concurrency (a monotone
/// constraint, as LightGBM offers): more cores or memory never make a build slower, and without
/// it a forest's noise could pick the leaner of two configs for a speed it does not have.
fn make_monotone(cands: &mut [Candidate]) {
    let adjusted: Vec<f64> = cands
        .iter()
        .map(|c| {
            cands
                .iter()
                .filter(|d| {
                    d.config.concurrency == c.config.concurrency
                        && d.config.cpu_cores <= c.config.cpu_cores
                        && d.config.memory_bytes <= c.config.memory_bytes
                })
                .map(|d| d.prediction.mean)
                .fold(c.prediction.mean, f64::min)
        })
        .collect();
    for (c, m) in cands.iter_mut().zip(adjusted) {
        c.prediction.mean = m;
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

/// Order among ties: more jobs, more cores, less memory.
fn tie_break(c: &BuildConfig) -> (std::cmp::Reverse<u32>, std::cmp::Reverse<u64>, u64) {
    (
        std::cmp::Reverse(c.concurrency),
        std::cmp::Reverse(c.cpu_cores.to_bits()),
        c.memory_bytes,
    )
}

fn distance(a: &BuildConfig, b: &BuildConfig) -> f64 {
    let rel = |x: f64, y: f64| ((x - y) / y.max(1e-9)).abs();
    rel(f64::from(a.concurrency), f64::from(b.concurrency))
        + rel(a.cpu_cores, b.cpu_cores)
        + rel(a.memory_bytes as f64, b.memory_bytes as f64)
}

fn within(a: &BuildConfig, b: &BuildConfig, bound: f64) -> bool {
    let ok = |x: f64, y: f64| ((x - y) / y.max(1e-9)).abs() <= bound;
    ok(f64::from(a.concurrency), f64::from(b.concurrency))
        && ok(a.cpu_cores, b.cpu_cores)
        && ok(a.memory_bytes as f64, b.memory_bytes as f64)
}

fn describe(c: &BuildConfig) -> String {
    format!(
        "{} jobs, {} cores, {:.2} GiB",
        c.concurrency,
        c.cpu_cores,
        c.memory_gib()
    )
}

fn model_version(m: &DurationModel) -> String {
    let meta = m.metadata();
    meta.version
        .map_or_else(|| meta.model_id.clone(), |v| format!("v{v}"))
}

fn default_seed(history: &[BuildRun]) -> u64 {
    let text = match history.last() {
        Some(r) => format!("{}\u{1f}{}\u{1f}{}", r.pipeline, r.run_id, history.len()),
        None => String::new(),
    };
    crate::forest::fnv1a64(text.as_bytes())
}

fn no_safe_config(
    base: &BuildConfig,
    floors: &Floors,
    cap: &crate::telemetry::Capacity,
    _ctx: &RunContext,
) -> Error {
    let c = base.concurrency;
    let mut msg = format!(
        "around {} the memory floor is {:.2} GiB ({}) and the CPU floor {:.2} cores",
        describe(base),
        floors.memory(c) / GIB,
        floors.explain_memory(c),
        f64::from(c) / 4.0
    );
    if let Some(m) = cap.memory_bytes {
        msg.push_str(&format!(
            "; declared memory capacity {:.2} GiB",
            m as f64 / GIB
        ));
    }
    if let Some(cpu) = cap.cpu_cores {
        msg.push_str(&format!("; declared CPU capacity {cpu} cores"));
    }
    msg.push_str(": raise the capacity or lower the build's concurrency");
    Error::NoSafeConfig(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_history;
    use crate::forest::RandomForestParams;
    use crate::telemetry::Capacity;

    fn trained(tool: &str, n: usize) -> (DurationModel, Vec<BuildRun>) {
        let h = demo_history(tool, n, 11);
        (
            DurationModel::train(&h, RandomForestParams::new().n_trees(30)).unwrap(),
            h,
        )
    }

    #[test]
    fn cold_start_without_history_uses_defaults() {
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let s = opt
            .suggest(None, &[], &RunContext::for_tool("cmake"), Some(1))
            .unwrap();
        assert!(s.cold_start);
        assert_eq!(s.config, OptimizerParams::default().defaults);
        assert!(
            s.rationale.iter().any(|l| l.contains("defaults")),
            "{:?}",
            s.rationale
        );
    }

    #[test]
    fn cold_start_with_short_history_says_why() {
        let (m, h) = trained("npm", 80);
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let s = opt
            .suggest(Some(&m), &h[..5], &RunContext::for_tool("npm"), Some(1))
            .unwrap();
        assert!(s.cold_start);
        assert!(
            s.rationale.iter().any(|l| l.contains("fewer than the 10")),
            "{:?}",
            s.rationale
        );
    }

    #[test]
    fn suggestion_respects_capacity_and_floors() {
        let (m, h) = trained("cargo", 120);
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let ctx = RunContext {
            tool: "cargo".into(),
            capacity: Some(Capacity {
                cpu_cores: Some(4.0),
                memory_bytes: Some(16 << 30),
            }),
            ..Default::default()
        };
        for seed in 0..20 {
            let s = opt.suggest(Some(&m), &h, &ctx, Some(seed)).unwrap();
            assert!(s.config.cpu_cores <= 4.0);
            assert!(s.config.cpu_cores >= f64::from(s.config.concurrency) / 4.0);
            let stats = HistoryStats::from_history(&h);
            let floors = Floors::learn(&h, &stats, &ctx);
            assert!(s.config.memory_bytes as f64 >= floors.memory(s.config.concurrency));
            assert!(
                s.candidates_considered >= 100,
                "{}",
                s.candidates_considered
            );
        }
    }

    #[test]
    fn oom_kill_raises_the_memory_floor_vpa_style() {
        let (m, mut h) = trained("cmake", 60);
        let mut oom = h.last().unwrap().clone();
        oom.run_id = "boom".into();
        oom.status = RunStatus::OomKilled;
        oom.config.memory_bytes = 20 << 30;
        oom.max_rss_bytes = Some(20 << 30);
        h.push(oom);
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let s = opt
            .suggest(Some(&m), &h, &RunContext::for_tool("cmake"), Some(3))
            .unwrap();
        assert!(s.config.memory_bytes as f64 >= 1.2 * (20u64 << 30) as f64);
        assert!(
            s.rationale.iter().any(|l| l.contains("boom")),
            "{:?}",
            s.rationale
        );
    }

    #[test]
    fn impossible_capacity_is_an_error_naming_the_floor() {
        let (m, h) = trained("gradle", 60);
        let ctx = RunContext {
            tool: "gradle".into(),
            capacity: Some(Capacity {
                cpu_cores: None,
                memory_bytes: Some(1 << 20),
            }),
            ..Default::default()
        };
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let msg = opt
            .suggest(Some(&m), &h, &ctx, Some(1))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("memory floor") && msg.contains("capacity"),
            "{msg}"
        );
    }

    #[test]
    fn default_seed_moves_with_a_sliding_window() {
        let h = demo_history("cmake", 60, 3);
        let (a, b) = (&h[0..50], &h[10..60]);
        assert_eq!(a.len(), b.len());
        assert_ne!(default_seed(a), default_seed(b));
        assert_eq!(default_seed(a), default_seed(&h[0..50]));
    }

    #[test]
    fn same_seed_same_suggestion() {
        let (m, h) = trained("bazel", 100);
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let ctx = RunContext::for_tool("bazel");
        let a = opt.suggest(Some(&m), &h, &ctx, Some(9)).unwrap();
        let b = opt.suggest(Some(&m), &h, &ctx, Some(9)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_model_of_another_schema_is_refused() {
        let x = ndarray::Array2::from_shape_fn((30, 3), |(i, j)| (i + j) as f64);
        let y: Vec<f64> = (0..30).map(f64::from).collect();
        let m =
            DurationModel::fit(x.view(), &y, None, RandomForestParams::new().n_trees(3)).unwrap();
        let h = demo_history("npm", 30, 1);
        let opt = Optimizer::new(OptimizerParams::default()).unwrap();
        let err = opt
            .suggest(Some(&m), &h, &RunContext::for_tool("npm"), None)
            .unwrap_err();
        assert!(matches!(err, Error::SchemaMismatch { .. }), "{err}");
    }

    #[test]
    fn bad_params_are_rejected() {
        let p = OptimizerParams {
            exploration: 1.5,
            ..Default::default()
        };
        assert!(Optimizer::new(p)
            .unwrap_err()
            .to_string()
            .contains("exploration"));
    }
}
