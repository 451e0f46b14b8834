//! The rationale: the lines a person reads to see why a config was suggested.

use super::candidates::Guarded;
use super::choose::Choice;
use super::guard::{Guard, GuardKind, Unit};
use super::{model_version, OptimizerParams, Request};
use crate::model::DurationModel;
use crate::telemetry::{BuildConfig, GIB};

/// Builds the rationale in reading order: history, how the choice was made, the suggestion,
/// the binding guards, then what deserves a second look.
#[derive(Debug, Default)]
pub(super) struct Rationale {
    lines: Vec<String>,
}

impl Rationale {
    /// Starts with the history the suggestion is drawn from.
    pub(super) fn history(req: &Request<'_>) -> Self {
        Rationale {
            lines: vec![format!(
                "History: {} runs ({} successful); last successful config: {}.",
                req.history.len(),
                req.n_ok,
                describe(&req.base)
            )],
        }
    }

    /// Why the model was not used.
    pub(super) fn cold_start(mut self, req: &Request<'_>, min_successful_runs: usize) -> Self {
        self.lines.push(if req.history.is_empty() {
            "Cold start: no history for this pipeline, so the documented defaults are used."
                .to_string()
        } else if req.n_ok < min_successful_runs {
            format!(
                "Cold start: {} successful runs, fewer than the {min_successful_runs} the model \
                 needs; keeping the last successful config.",
                req.n_ok
            )
        } else {
            "Cold start: no trained model; keeping the last successful config.".to_string()
        });
        self
    }

    /// What the model scored.
    pub(super) fn scored(mut self, guarded: &Guarded, bound: f64, model: &DurationModel) -> Self {
        self.lines.push(format!(
            "Scored {} guarded candidates (of {} within ±{:.0}% of it; {} above capacity) \
             with model {}{}.",
            guarded.configs.len(),
            guarded.considered,
            bound * 100.0,
            guarded.rejected,
            model_version(model),
            model
                .metadata()
                .oob_score
                .map(|r| format!(" (out-of-bag R² {r:.3})"))
                .unwrap_or_default()
        ));
        self
    }

    /// The suggestion, against the baseline when the model predicted both.
    pub(super) fn suggestion(mut self, choice: &Choice, cold: bool) -> Self {
        let config = &choice.chosen.config;
        self.lines.push(
            match (choice.predicted_s(), choice.baseline_s(), choice.change_s()) {
                (Some(pr), Some(b), Some(ch)) if !cold => format!(
                    "Suggest {}: predicted {:.0} s ± {:.0} s against {:.0} s for the last config \
                     ({:+.0} s, {:+.1}%).",
                    describe(config),
                    pr,
                    choice.spread_s().unwrap_or(0.0),
                    b,
                    ch,
                    100.0 * ch / b.max(1e-9)
                ),
                (Some(pr), _, _) => format!(
                    "Suggest {}: recent median duration {:.0} s.",
                    describe(config),
                    pr
                ),
                _ => format!("Suggest {}.", describe(config)),
            },
        );
        self
    }

    /// One line per guard the suggestion sits on (the exploration bound is a search range,
    /// not a safety limit, so it is left out).
    pub(super) fn guards(mut self, guards: &[Guard]) -> Self {
        for g in guards
            .iter()
            .filter(|g| g.binding && g.kind != GuardKind::ExplorationBound)
        {
            self.lines.push(match g.unit {
                Unit::Bytes => {
                    format!("Guard {}: {:.2} GiB ({}).", g.kind, g.limit / GIB, g.reason)
                }
                _ => format!(
                    "Guard {}: {:.2} {} ({}).",
                    g.kind, g.limit, g.unit, g.reason
                ),
            });
        }
        self
    }

    /// Says so when the memory floor lifted `config`'s memory past the exploration bound
    /// around `base`.
    pub(super) fn memory_raised(
        mut self,
        config: &BuildConfig,
        base: &BuildConfig,
        p: &OptimizerParams,
    ) -> Self {
        let bound = base.memory_bytes as f64 * (1.0 + p.bound) + p.memory_step_bytes as f64;
        if config.memory_bytes as f64 > bound {
            self.lines.push(
                "Memory raised beyond the exploration bound to meet the memory floor: safety first."
                    .into(),
            );
        }
        self
    }

    /// Says so when the choice explores.
    pub(super) fn exploring(mut self, explored: bool, rate: f64, seed: u64) -> Self {
        if explored {
            self.lines.push(format!(
                "Exploring (rate {:.0}%, seed {seed}): this candidate's optimistic estimate beats \
                 the best mean, so trying it teaches the model.",
                rate * 100.0
            ));
        }
        self
    }

    /// The lines, in order.
    pub(super) fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

/// A config as people read it: `8 jobs, 4 cores, 10.00 GiB`.
pub(super) fn describe(c: &BuildConfig) -> String {
    format!(
        "{} jobs, {} cores, {:.2} GiB",
        c.concurrency,
        c.cpu_cores,
        c.memory_gib()
    )
}
