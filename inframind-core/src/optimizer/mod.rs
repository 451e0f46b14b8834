//! The optimizer: the fastest safe configuration for a pipeline's next build.
//!
//! It generates candidates around the last successful configuration (each of concurrency,
//! cores and memory within ±[`OptimizerParams::bound`], 25% by default), lifts every candidate
//! to the safety floors, drops those above the declared capacity, scores the rest with the
//! duration model in one batch, and returns the fastest with the reasons a person needs.
//!
//! The guards follow the resource recommenders operators already trust (Kubernetes VPA,
//! Robusta KRR):
//! - memory ≥ max(1.2 × RSS p95 of recent successful runs, 1.1 × the largest recent peak of a
//!   run that did not die of memory, per-job RSS p95 × concurrency, the declared expected RSS ×
//!   1.2); a peak measured at fewer jobs than the candidate runs is first scaled up by the ratio
//!   of jobs (memory grows with jobs), so raising concurrency never outruns the memory it needs;
//! - after an OOM kill (or a failed run whose peak reached 95% of its limit: an OOM suspect,
//!   which never counts as a clean sample) memory ≥ max(1.2 × need, need + 100 MiB), VPA's
//!   bump, where need is the peak it died at scaled to the candidate's jobs: a base RSS (the
//!   intercept of the successful runs' peaks against their jobs, 0 when unknown) plus
//!   (peak − base) ÷ its jobs per job for fewer jobs, the peak × the ratio of jobs for more
//!   ([`OomKill::need`]);
//! - cores ≥ concurrency × [`CORES_PER_JOB`] (a quarter core a job); nothing above the capacity
//!   the caller declares.
//!
//! When no candidate within the bound fits the capacity, it steps concurrency down (memory is
//! never raised past the capacity) to the most jobs whose floors fit, and says why; it refuses
//! with [`Error::NoSafeConfig`](crate::Error::NoSafeConfig) only when not even one job fits.
//!
//! Predictions are made non-increasing in cores and memory (more of either never slows a
//! build). Among candidates predicted within 0.5% of the fastest, it prefers more parallel jobs and
//! cores (a forest predicts flat where it has no data, so it cannot see gains it has not
//! observed; a slower result is learned from the next build) and then the least memory. With
//! probability [`OptimizerParams::exploration`] (15%) it instead explores: it picks, with a
//! seeded RNG, among the guarded candidates whose optimistic estimate (mean − spread) beats the
//! best mean, whose mean is at most 10% slower (so a bad guess costs little) and that keep at
//! least the baseline's cores, the one least like any recent successful config (novelty
//! teaches the model most). Without a model, or with fewer than
//! [`OptimizerParams::min_successful_runs`] successful runs, it returns the last successful
//! config (else the last config, else the defaults), lifted to the guards (after an OOM kill
//! with the same jobs and more memory when the capacity allows), and says so.
//!
//! ```
//! use inframind_core::{demo, forest::RandomForestParams, model::DurationModel};
//! use inframind_core::optimizer::{cpu_floor, Optimizer, OptimizerParams};
//! use inframind_core::telemetry::RunContext;
//!
//! let history = demo::demo_history("cmake", 150, 1);
//! let model = DurationModel::train(&history, RandomForestParams::new().n_trees(40))?;
//! let opt = Optimizer::new(OptimizerParams::default())?;
//! let s = opt.suggest(Some(&model), &history, &RunContext::for_tool("cmake"), Some(7))?;
//! assert!(s.config.cpu_cores >= cpu_floor(s.config.concurrency));
//! for line in &s.rationale { println!("{line}"); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod candidates;
mod choose;
mod floors;
mod guard;
mod params;
mod rationale;

pub use floors::{cpu_floor, Floors, OomKill, Peak, CORES_PER_JOB};
pub use guard::{Guard, GuardKind, Unit};
pub use params::OptimizerParams;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::features::{FeatureSchema, HistoryStats, HISTORY_WINDOW};
use crate::model::DurationModel;
use crate::telemetry::{validate_history, BuildConfig, BuildRun, Capacity, RunContext};
use rationale::Rationale;

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
    /// The last successful config (else the last config, else the defaults) the candidates
    /// were drawn around.
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

/// The optimizer. Cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Optimizer {
    params: OptimizerParams,
}

/// One request's checked inputs and what the history tells about them.
struct Request<'a> {
    history: &'a [BuildRun],
    context: &'a RunContext,
    capacity: Capacity,
    stats: HistoryStats,
    floors: Floors,
    /// Successful runs in the history.
    n_ok: usize,
    /// The last successful config (else the last config, else the defaults).
    base: BuildConfig,
    seed: u64,
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
        let p = &self.params;
        let req = self.request(model, history, context, seed)?;
        let guarded = self.guarded_candidates(&req)?;
        let model = model.filter(|_| req.n_ok >= p.min_successful_runs);
        let choice = match model {
            None => self.choose_cold(&req, &guarded),
            Some(m) => self.choose_with_model(m, &req, &guarded),
        };
        let config = choice.chosen.config;
        let guards = self.guards_for(&config, &req);
        let rationale = Rationale::history(&req).fewer_jobs(&guarded, &config, &req, p);
        let rationale = match model {
            None => rationale.cold_start(&req, p.min_successful_runs),
            Some(m) => rationale.scored(&guarded, p.bound, m),
        };
        let rationale = rationale
            .suggestion(&choice, model.is_none())
            .guards(&guards)
            .memory_raised(&config, &req.base, p)
            .exploring(choice.explored, p.exploration, req.seed)
            .into_lines();
        Ok(Suggestion {
            config,
            predicted_duration_s: choice.predicted_s(),
            spread_s: choice.spread_s(),
            baseline_config: req.base,
            baseline_duration_s: choice.baseline_s(),
            expected_change_s: choice.change_s(),
            explored: choice.explored,
            cold_start: model.is_none(),
            guards,
            candidates_considered: guarded.considered,
            candidates_rejected: guarded.rejected,
            model_version: model.map(model_version),
            seed: req.seed,
            rationale,
        })
    }

    /// Checks the inputs and learns the floors and the baseline from the history.
    fn request<'a>(
        &self,
        model: Option<&DurationModel>,
        history: &'a [BuildRun],
        context: &'a RunContext,
        seed: Option<u64>,
    ) -> Result<Request<'a>> {
        context.validate()?;
        // Only the recent window (and the base config) shapes a suggestion: validate those, so
        // a long history costs nothing per request.
        let first = history.len().saturating_sub(HISTORY_WINDOW);
        validate_history(&history[first..], first)?;
        if let Some(m) = model {
            m.check_schema(FeatureSchema::current_cached())?;
        }
        let stats = HistoryStats::from_history(history);
        let floors = Floors::learn(history, &stats, context);
        let base = history
            .iter()
            .rev()
            .find(|r| r.status.is_success())
            .or(history.last())
            .map_or(self.params.defaults, |r| r.config);
        base.validate("baseline config")?;
        Ok(Request {
            history,
            context,
            capacity: context.capacity.unwrap_or_default(),
            stats,
            floors,
            n_ok: history.iter().filter(|r| r.status.is_success()).count(),
            base,
            seed: seed.unwrap_or_else(|| default_seed(history)),
        })
    }
}

/// The store version (`v3`) of a model, else its content id.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_history;
    use crate::error::Error;
    use crate::forest::RandomForestParams;
    use crate::telemetry::RunStatus;

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
