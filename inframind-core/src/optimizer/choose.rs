//! Choosing among the guarded candidates: the baseline's neighbour at cold start, else the
//! model's fastest, or now and then the most instructive one (exploration).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::candidates::{Candidate, Guarded};
use super::{Optimizer, Request};
use crate::features::{self, HISTORY_WINDOW, N_FEATURES};
use crate::forest::Prediction;
use crate::model::DurationModel;
use crate::telemetry::BuildConfig;

/// Predictions within this relative distance of the best are ties.
const TIE_TOLERANCE: f64 = 0.005;
/// Exploration only tries candidates predicted at most this much slower than the best.
const EXPLORE_MAX_LOSS: f64 = 0.10;

/// The chosen candidate, the baseline's prediction and whether the choice explores.
pub(super) struct Choice {
    pub(super) chosen: Candidate,
    pub(super) baseline: Option<Prediction>,
    pub(super) explored: bool,
}

impl Choice {
    /// The chosen candidate's predicted duration, seconds, when there is one.
    pub(super) fn predicted_s(&self) -> Option<f64> {
        finite(self.chosen.prediction.mean)
    }

    /// How much the trees disagree on it, seconds.
    pub(super) fn spread_s(&self) -> Option<f64> {
        finite(self.chosen.prediction.spread)
    }

    /// The baseline's predicted duration, seconds.
    pub(super) fn baseline_s(&self) -> Option<f64> {
        self.baseline.and_then(|b| finite(b.mean))
    }

    /// Predicted minus baseline duration, seconds (negative is faster).
    pub(super) fn change_s(&self) -> Option<f64> {
        self.predicted_s()
            .zip(self.baseline_s())
            .map(|(a, b)| a - b)
    }
}

/// A prediction is reported only when it is a number: a cold start without history has none.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Optimizer {
    /// Cold start: the guarded candidate closest to the baseline (after an OOM kill, with the
    /// baseline's jobs when one is safe), predicted at the recent median duration when there is
    /// one.
    pub(super) fn choose_cold(&self, req: &Request<'_>, guarded: &Guarded) -> Choice {
        // An OOM kill's floor shrinks with fewer jobs, which makes fewer jobs look closer to the
        // baseline; but without a model nothing says the memory is per job, and the safe move
        // is VPA's: more memory for the same jobs. Fewer jobs only when the capacity leaves no
        // other way.
        let keep_jobs = !req.floors.ooms.is_empty();
        let other_jobs = |c: &BuildConfig| keep_jobs && c.concurrency != req.base.concurrency;
        let config = guarded
            .configs
            .iter()
            .min_by(|a, b| {
                other_jobs(a)
                    .cmp(&other_jobs(b))
                    .then_with(|| distance(a, &req.base).total_cmp(&distance(b, &req.base)))
            })
            .copied()
            .unwrap_or(req.base);
        let median = req.stats.recent_median_duration_s.map(|m| Prediction {
            mean: m,
            spread: 0.0,
        });
        Choice {
            chosen: Candidate {
                config,
                prediction: median.unwrap_or(Prediction {
                    mean: f64::NAN,
                    spread: f64::NAN,
                }),
            },
            baseline: median,
            explored: false,
        }
    }

    /// Scores every guarded candidate and the baseline with `model` in one batch, then exploits
    /// (the fastest, ties to more jobs and cores, then less memory) or, with probability
    /// [`OptimizerParams::exploration`](super::OptimizerParams::exploration), explores.
    pub(super) fn choose_with_model(
        &self,
        model: &DurationModel,
        req: &Request<'_>,
        guarded: &Guarded,
    ) -> Choice {
        let p = &self.params;
        let base = req.base;
        let mut row = [0.0; N_FEATURES];
        features::fill_context_features(&mut row, req.context, &req.stats);
        let mut rows32 = Vec::with_capacity((guarded.configs.len() + 1) * (N_FEATURES + 1));
        for cfg in guarded.configs.iter().chain(std::iter::once(&base)) {
            features::fill_config_features(&mut row, cfg, req.context, &req.stats);
            rows32.extend(row.iter().map(|&v| v as f32));
            rows32.push(f32::NAN);
        }
        // Candidates differ only in their config features: each tree decides its splits on the
        // context once for all of them and divides them only where it splits on a config
        // feature.
        let template = &rows32[rows32.len() - (N_FEATURES + 1)..];
        let mut preds =
            model
                .forest()
                .predict_shared_f32(template, &features::CONFIG_FEATURE_MASK, &rows32);
        let baseline = preds.pop();
        let mut cands: Vec<Candidate> = guarded
            .configs
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
        let mut rng = ChaCha8Rng::seed_from_u64(req.seed);
        let explore_draw: f64 = rng.random();
        // Worth trying: plausibly faster than the best (optimistic estimate), not expected much
        // slower, and not fewer cores than the baseline (fewer never helps speed).
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
            let history = req.history;
            let seen: Vec<BuildConfig> = history[history.len().saturating_sub(HISTORY_WINDOW)..]
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
        Choice {
            chosen,
            baseline,
            explored,
        }
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

/// Order among ties: more jobs, more cores, less memory.
fn tie_break(c: &BuildConfig) -> (std::cmp::Reverse<u32>, std::cmp::Reverse<u64>, u64) {
    (
        std::cmp::Reverse(c.concurrency),
        std::cmp::Reverse(c.cpu_cores.to_bits()),
        c.memory_bytes,
    )
}

/// Sum of the relative differences of the three resources.
fn distance(a: &BuildConfig, b: &BuildConfig) -> f64 {
    let rel = |x: f64, y: f64| ((x - y) / y.max(1e-9)).abs();
    rel(f64::from(a.concurrency), f64::from(b.concurrency))
        + rel(a.cpu_cores, b.cpu_cores)
        + rel(a.memory_bytes as f64, b.memory_bytes as f64)
}
