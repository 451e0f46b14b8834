//! The rationale: the lines a person reads to see why a config was suggested.

use super::candidates::Guarded;
use super::choose::Choice;
use super::floors::cpu_floor;
use super::guard::{Guard, GuardKind, Unit};
use super::{model_version, OptimizerParams, Request};
use crate::model::DurationModel;
use crate::telemetry::{BuildConfig, BuildRun, RunStatus, GIB};

/// Builds the rationale in reading order: history, how the choice was made, the suggestion,
/// the binding guards, then what deserves a second look.
#[derive(Debug, Default)]
pub(super) struct Rationale {
    lines: Vec<String>,
}

impl Rationale {
    /// Starts with the history the suggestion is drawn from. A config that never succeeded is
    /// not called the last successful one.
    pub(super) fn history(req: &Request<'_>) -> Self {
        let n = req.history.len();
        let line = if n == 0 {
            format!("History: 0 runs; the defaults: {}.", describe(&req.base))
        } else if req.n_ok == 0 {
            format!(
                "History: {n} runs (0 successful); last config (all {n} runs failed: {}): {}.",
                failures(req.history),
                describe(&req.base)
            )
        } else {
            format!(
                "History: {n} runs ({} successful); last successful config: {}.",
                req.n_ok,
                describe(&req.base)
            )
        };
        Rationale { lines: vec![line] }
    }

    /// Why the candidates were drawn away from the baseline when nothing near it fitted, or
    /// why the suggestion runs fewer jobs than the baseline when an OOM kill priced the
    /// baseline's jobs out of the capacity.
    pub(super) fn fewer_jobs(
        mut self,
        guarded: &Guarded,
        config: &BuildConfig,
        req: &Request<'_>,
        p: &OptimizerParams,
    ) -> Self {
        if !guarded.stepped_down && config.concurrency >= req.base.concurrency {
            return self;
        }
        let jobs = req.base.concurrency;
        let mut why = Vec::new();
        let mut oom_bound = false;
        let need = req.floors.memory(jobs);
        let mstep = p.memory_step_bytes as f64;
        if let Some(cap) = req.capacity.memory_bytes {
            if (need / mstep).ceil() * mstep > cap as f64 {
                let cause = match req.floors.oom_floor(jobs) {
                    Some((b, oom)) if b >= need => {
                        oom_bound = true;
                        format!(
                            "OOM-killed at {:.2} GiB with {} jobs in run {}",
                            oom.died_at_bytes / GIB,
                            oom.concurrency,
                            oom.run_id
                        )
                    }
                    _ => req.floors.explain_memory(jobs),
                };
                why.push(format!(
                    "{jobs} jobs need ~{:.2} GiB ({cause}), more than the {:.2} GiB capacity",
                    need / GIB,
                    cap as f64 / GIB
                ));
            }
        }
        if let Some(cap) = req.capacity.cpu_cores {
            let cores = cpu_floor(jobs);
            if (cores / p.cpu_step).ceil() * p.cpu_step > cap {
                why.push(format!(
                    "{jobs} jobs need {cores:.2} cores, more than the {cap} cores capacity"
                ));
            }
        }
        if !guarded.stepped_down && !oom_bound {
            return self;
        }
        if why.is_empty() {
            why.push(format!(
                "Nothing within ±{:.0}% of {} fits the declared capacity",
                p.bound * 100.0,
                describe(&req.base)
            ));
        }
        self.lines.push(format!(
            "{}; {} jobs fit in {:.2} GiB with {} cores.",
            why.join("; "),
            config.concurrency,
            config.memory_gib(),
            config.cpu_cores
        ));
        self
    }

    /// Why the model was not used.
    pub(super) fn cold_start(mut self, req: &Request<'_>, min_successful_runs: usize) -> Self {
        let kept = if req.n_ok == 0 {
            "the last config"
        } else {
            "the last successful config"
        };
        self.lines.push(if req.history.is_empty() {
            "Cold start: no history for this pipeline, so the documented defaults are used."
                .to_string()
        } else if req.n_ok < min_successful_runs {
            format!(
                "Cold start: {} successful runs, fewer than the {min_successful_runs} the model \
                 needs; keeping {kept}.",
                req.n_ok
            )
        } else {
            format!("Cold start: no trained model; keeping {kept}.")
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

/// How the runs of a history without a success ended: `OOM`, or `3 OOM, 1 timeout` when
/// they differ.
fn failures(history: &[BuildRun]) -> String {
    let kinds = [
        (RunStatus::OomKilled, "OOM"),
        (RunStatus::Failure, "failure"),
        (RunStatus::Timeout, "timeout"),
        (RunStatus::Cancelled, "cancelled"),
        (RunStatus::Running, "running"),
        (RunStatus::Success, "success"),
    ];
    let counts: Vec<(usize, &str)> = kinds
        .iter()
        .map(|(status, word)| {
            (
                history.iter().filter(|r| r.status == *status).count(),
                *word,
            )
        })
        .filter(|(n, _)| *n > 0)
        .collect();
    match counts.as_slice() {
        [(_, word)] => (*word).to_string(),
        _ => counts
            .iter()
            .map(|(n, word)| format!("{n} {word}"))
            .collect::<Vec<_>>()
            .join(", "),
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
