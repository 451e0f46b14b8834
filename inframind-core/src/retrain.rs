//! When a pipeline's model should be trained again.
//!
//! Training 50-500 runs takes milliseconds, so a model should never lag its history by much:
//! the first model is trained as soon as there are enough successful runs, later ones after a
//! small share of new completions, and at once after a surprise (an OOM kill, or a duration
//! outside what the model predicted). Every host (the server, the Python example service, the
//! command line) asks [`RetrainPolicy::is_due`] instead of keeping its own counter rule.
//!
//! The decision is made from counts the host keeps, so it debounces by itself: a burst of
//! completions marks the pipeline due once, the host trains once on the whole burst and
//! records `trained_at`, and the next call finds nothing new.
//!
//! ```
//! use inframind_core::retrain::{RetrainPolicy, RetrainReason, TrainingProgress};
//! let policy = RetrainPolicy::default();
//! let mut p = TrainingProgress { completed: 2, successes: 2, ..Default::default() };
//! assert_eq!(policy.is_due(&p), Some(RetrainReason::FirstModel));
//! // Trained at 40 completions: one more is not yet 5% new...
//! p = TrainingProgress { completed: 41, successes: 38, trained_at: Some(40), has_model: true, ..p };
//! assert_eq!(policy.is_due(&p), None); // 41 × 5% rounds up to 3 new runs
//! // ...three are, and a surprise is at once.
//! assert_eq!(policy.is_due(&TrainingProgress { completed: 43, ..p }), Some(RetrainReason::Growth));
//! assert_eq!(policy.is_due(&TrainingProgress { surprise: true, ..p }), Some(RetrainReason::Surprise));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, Result};
use crate::forest::Prediction;
use crate::telemetry::RunStatus;

/// Fewest successful runs a [`DurationModel`](crate::DurationModel) trains on.
pub const MIN_TRAINING_RUNS: u64 = 2;

/// What a host knows about a pipeline's runs and its last training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrainingProgress {
    /// Runs of the pipeline that have completed (any status).
    pub completed: u64,
    /// Of those, the successful ones (the rows a model trains on).
    pub successes: u64,
    /// `completed` when training was last attempted (successful or not); `None` if never.
    pub trained_at: Option<u64>,
    /// Whether a model is being served for the pipeline.
    pub has_model: bool,
    /// Whether a run completed since the last attempt was a surprise (see
    /// [`RetrainPolicy::is_surprise`]).
    pub surprise: bool,
}

/// Why a model is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetrainReason {
    /// The pipeline has no model yet and now has enough successful runs for one.
    FirstModel,
    /// Enough runs completed since the last training.
    Growth,
    /// A run since the last training was OOM-killed or took a duration the model did not
    /// expect.
    Surprise,
}

impl RetrainReason {
    /// A stable lower-case name (`first_model`, `growth`, `surprise`), e.g. for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RetrainReason::FirstModel => "first_model",
            RetrainReason::Growth => "growth",
            RetrainReason::Surprise => "surprise",
        }
    }
}

/// The rule deciding when to train a pipeline's model again.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetrainPolicy {
    /// Successful runs needed for the first model (at least [`MIN_TRAINING_RUNS`]).
    pub min_successes: u64,
    /// Share of the history that must be new before retraining, e.g. 0.05 for 5%.
    pub growth: f64,
    /// New completions always needed, whatever the share.
    pub min_new: u64,
    /// New completions always enough to retrain, whatever the share (caps the wait on long
    /// histories).
    pub max_new: u64,
    /// A duration further than this many spreads (tree standard deviations) from the
    /// prediction is a surprise.
    pub surprise_spreads: f64,
    /// ...and further than this share of the prediction (so a model with a tiny spread is not
    /// retrained on noise).
    pub surprise_share: f64,
}

impl Default for RetrainPolicy {
    fn default() -> Self {
        RetrainPolicy {
            min_successes: MIN_TRAINING_RUNS,
            growth: 0.05,
            min_new: 1,
            max_new: 50,
            surprise_spreads: 3.0,
            surprise_share: 0.15,
        }
    }
}

impl RetrainPolicy {
    /// The default policy with other values, checked: `min_successes` ≥ 2, `growth` in
    /// `[0, 1]`, `max_new` ≥ 1, the surprise thresholds finite and above 0.
    pub fn new(
        min_successes: u64,
        growth: f64,
        max_new: u64,
        surprise_spreads: f64,
        surprise_share: f64,
    ) -> Result<Self> {
        if min_successes < MIN_TRAINING_RUNS {
            return Err(Error::InvalidParams {
                param: "min_successes",
                value: min_successes.to_string(),
                reason: format!("a model needs at least {MIN_TRAINING_RUNS} successful runs"),
            });
        }
        if !(0.0..=1.0).contains(&growth) {
            return Err(Error::InvalidParams {
                param: "growth",
                value: growth.to_string(),
                reason: "must be a share between 0 and 1".into(),
            });
        }
        if max_new == 0 {
            return Err(Error::InvalidParams {
                param: "max_new",
                value: "0".into(),
                reason: "must be at least 1 run".into(),
            });
        }
        for (param, v) in [
            ("surprise_spreads", surprise_spreads),
            ("surprise_share", surprise_share),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(Error::InvalidParams {
                    param,
                    value: v.to_string(),
                    reason: "must be a finite number above 0".into(),
                });
            }
        }
        Ok(RetrainPolicy {
            min_successes,
            growth,
            min_new: 1,
            max_new,
            surprise_spreads,
            surprise_share,
        })
    }

    /// A policy that retrains after every `n` completions and never early (the rule of a
    /// fixed counter). `n` of 0 is taken as 1.
    pub fn every(n: u64) -> Self {
        RetrainPolicy {
            growth: 0.0,
            min_new: n.max(1),
            max_new: n.max(1),
            surprise_spreads: f64::INFINITY,
            surprise_share: f64::INFINITY,
            ..RetrainPolicy::default()
        }
    }

    /// New completions needed since the last training when the pipeline has `completed` runs:
    /// `ceil(growth × completed)`, at least `min_new` (and 1), at most `max_new`.
    pub fn new_runs_needed(&self, completed: u64) -> u64 {
        // The small tolerance keeps 5% of 20 at 1 (0.05 × 20 is 1.0000000000000002 in f64).
        let share = (self.growth * completed as f64 - 1e-9).ceil().max(0.0);
        let floor = self.min_new.max(1);
        // `share` is finite and ≥ 0 (growth is in [0, 1]); the cast saturates.
        (share as u64).clamp(floor, self.max_new.max(floor))
    }

    /// Whether the pipeline's model should be trained now, and why.
    pub fn is_due(&self, p: &TrainingProgress) -> Option<RetrainReason> {
        let enough = p.successes >= self.min_successes.max(MIN_TRAINING_RUNS);
        let new_runs = p.completed.saturating_sub(p.trained_at.unwrap_or(0));
        let untried = p.trained_at.is_none();
        if !enough || (new_runs == 0 && !untried) {
            return None;
        }
        if !p.has_model && (untried || new_runs >= 1) {
            // A failed attempt (too few usable rows) is retried on the next completion:
            // training is cheap, and a cold answer is the costliest outcome.
            return Some(RetrainReason::FirstModel);
        }
        if p.surprise {
            return Some(RetrainReason::Surprise);
        }
        (new_runs >= self.new_runs_needed(p.completed)).then_some(RetrainReason::Growth)
    }

    /// Whether a completed run should trigger a retraining at once: it was OOM-killed, or it
    /// succeeded in a duration further than `surprise_spreads` spreads and `surprise_share` of
    /// the prediction from what the model predicted for it.
    pub fn is_surprise(
        &self,
        status: RunStatus,
        duration_s: f64,
        predicted: Option<Prediction>,
    ) -> bool {
        if status == RunStatus::OomKilled {
            return true;
        }
        let Some(p) = predicted else {
            return false;
        };
        if status != RunStatus::Success || !duration_s.is_finite() {
            return false;
        }
        let off = (duration_s - p.mean).abs();
        off > self.surprise_spreads * p.spread && off > self.surprise_share * p.mean.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trained(completed: u64, at: u64) -> TrainingProgress {
        TrainingProgress {
            completed,
            successes: completed,
            trained_at: Some(at),
            has_model: true,
            surprise: false,
        }
    }

    #[test]
    fn the_first_model_comes_at_the_minimum_of_successes() {
        let policy = RetrainPolicy::default();
        let mut p = TrainingProgress {
            completed: 5,
            successes: 1,
            ..Default::default()
        };
        assert_eq!(policy.is_due(&p), None, "one success is too few");
        p.successes = 2;
        assert_eq!(policy.is_due(&p), Some(RetrainReason::FirstModel));
        // Attempted at 5 and failed (no model): nothing new, not due; one more run, due again.
        p.trained_at = Some(5);
        assert_eq!(policy.is_due(&p), None);
        p.completed = 6;
        assert_eq!(policy.is_due(&p), Some(RetrainReason::FirstModel));
    }

    #[test]
    fn growth_is_five_percent_of_the_history_at_least_one_at_most_max_new() {
        let policy = RetrainPolicy::default();
        assert_eq!(policy.new_runs_needed(0), 1);
        assert_eq!(policy.new_runs_needed(10), 1);
        assert_eq!(policy.new_runs_needed(21), 2);
        assert_eq!(policy.new_runs_needed(200), 10);
        assert_eq!(policy.new_runs_needed(100_000), 50);
        assert_eq!(policy.new_runs_needed(210), 11);
        assert_eq!(policy.is_due(&trained(210, 200)), None);
        assert_eq!(
            policy.is_due(&trained(211, 200)),
            Some(RetrainReason::Growth)
        );
        assert_eq!(policy.is_due(&trained(20, 19)), Some(RetrainReason::Growth));
    }

    #[test]
    fn a_surprise_retrains_at_once_but_only_on_something_new() {
        let policy = RetrainPolicy::default();
        let mut p = trained(201, 200);
        p.surprise = true;
        assert_eq!(policy.is_due(&p), Some(RetrainReason::Surprise));
        p.completed = 200;
        assert_eq!(
            policy.is_due(&p),
            None,
            "nothing completed since the training"
        );
    }

    #[test]
    fn the_fixed_counter_rule_is_a_policy_too() {
        let every20 = RetrainPolicy::every(20);
        assert_eq!(every20.is_due(&trained(219, 200)), None);
        assert_eq!(
            every20.is_due(&trained(220, 200)),
            Some(RetrainReason::Growth)
        );
        let p = Prediction {
            mean: 100.0,
            spread: 1.0,
        };
        assert!(!every20.is_surprise(RunStatus::Success, 500.0, Some(p)));
        assert!(
            every20.is_surprise(RunStatus::OomKilled, 5.0, None),
            "an OOM always is"
        );
    }

    #[test]
    fn surprise_needs_both_spreads_and_share() {
        let policy = RetrainPolicy::default();
        let p = Some(Prediction {
            mean: 100.0,
            spread: 2.0,
        });
        assert!(
            !policy.is_surprise(RunStatus::Success, 110.0, p),
            "5 spreads but 10%"
        );
        assert!(
            policy.is_surprise(RunStatus::Success, 120.0, p),
            "10 spreads and 20%"
        );
        let wide = Some(Prediction {
            mean: 100.0,
            spread: 30.0,
        });
        assert!(
            !policy.is_surprise(RunStatus::Success, 160.0, wide),
            "2 spreads"
        );
        assert!(
            !policy.is_surprise(RunStatus::Failure, 500.0, p),
            "a failure's time says little"
        );
        assert!(
            !policy.is_surprise(RunStatus::Success, 500.0, None),
            "nothing predicted"
        );
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let e = RetrainPolicy::new(1, 0.05, 50, 3.0, 0.15).unwrap_err();
        assert_eq!(e.field(), Some("min_successes"));
        let e = RetrainPolicy::new(2, 1.5, 50, 3.0, 0.15).unwrap_err();
        assert_eq!(e.field(), Some("growth"));
        let e = RetrainPolicy::new(2, 0.05, 0, 3.0, 0.15).unwrap_err();
        assert_eq!(e.field(), Some("max_new"));
        let e = RetrainPolicy::new(2, 0.05, 1, f64::NAN, 0.15).unwrap_err();
        assert_eq!(e.field(), Some("surprise_spreads"));
        assert!(RetrainPolicy::new(2, 0.0, 1, 3.0, 0.15).is_ok());
    }
}
