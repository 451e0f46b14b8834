//! `RetrainPolicy`: the core's rule for when a pipeline's model is trained again.

use inframind_core::{Prediction, RetrainPolicy, RunStatus, TrainingProgress};
use pyo3::prelude::*;

use crate::errors::{guard, invalid_input, CoreResultExt};
use crate::model::count;

/// When to train a pipeline's model again: the first model as soon as there are enough
/// successful runs, later ones after a share of new completions, and at once after a surprise
/// (an OOM kill, or a duration far from the prediction). The host keeps the counts; the policy
/// decides.
#[pyclass(frozen, module = "inframind", name = "RetrainPolicy")]
pub(crate) struct PyRetrainPolicy {
    inner: RetrainPolicy,
}

/// A count as the core's `u64`.
fn count_u64(py: Python<'_>, name: &str, v: i64) -> PyResult<u64> {
    Ok(count(py, name, v)? as u64)
}

#[pymethods]
impl PyRetrainPolicy {
    /// The core's default policy, with any of its values overridden: `min_successes` (at least
    /// 2), `growth` (a share in [0, 1]), `max_new` (at least 1), `surprise_spreads` and
    /// `surprise_share` (finite, above 0). Raises InvalidInputError naming a bad value.
    #[new]
    #[pyo3(signature = (
        *,
        min_successes=None,
        growth=None,
        max_new=None,
        surprise_spreads=None,
        surprise_share=None,
    ))]
    fn new(
        py: Python<'_>,
        min_successes: Option<i64>,
        growth: Option<f64>,
        max_new: Option<i64>,
        surprise_spreads: Option<f64>,
        surprise_share: Option<f64>,
    ) -> PyResult<Self> {
        guard(py, || {
            let d = RetrainPolicy::default();
            let min_successes = match min_successes {
                Some(v) => count_u64(py, "min_successes", v)?,
                None => d.min_successes,
            };
            let max_new = match max_new {
                Some(v) => count_u64(py, "max_new", v)?,
                None => d.max_new,
            };
            let inner = RetrainPolicy::new(
                min_successes,
                growth.unwrap_or(d.growth),
                max_new,
                surprise_spreads.unwrap_or(d.surprise_spreads),
                surprise_share.unwrap_or(d.surprise_share),
            )
            .py_err(py)?;
            Ok(PyRetrainPolicy { inner })
        })
    }

    /// A policy that retrains after every `n` completions and never early (the rule of a fixed
    /// counter).
    #[staticmethod]
    fn every(py: Python<'_>, n: i64) -> PyResult<Self> {
        guard(py, || {
            Ok(PyRetrainPolicy {
                inner: RetrainPolicy::every(count_u64(py, "n", n)?),
            })
        })
    }

    /// Successful runs needed for the first model.
    #[getter]
    fn min_successes(&self) -> u64 {
        self.inner.min_successes
    }

    /// Share of the history that must be new before retraining.
    #[getter]
    fn growth(&self) -> f64 {
        self.inner.growth
    }

    /// New completions always needed, whatever the share.
    #[getter]
    fn min_new(&self) -> u64 {
        self.inner.min_new
    }

    /// New completions always enough, whatever the share.
    #[getter]
    fn max_new(&self) -> u64 {
        self.inner.max_new
    }

    /// A duration further than this many spreads from the prediction is a surprise...
    #[getter]
    fn surprise_spreads(&self) -> f64 {
        self.inner.surprise_spreads
    }

    /// ...and further than this share of the prediction.
    #[getter]
    fn surprise_share(&self) -> f64 {
        self.inner.surprise_share
    }

    /// New completions needed since the last training when the pipeline has `completed` runs.
    fn new_runs_needed(&self, py: Python<'_>, completed: i64) -> PyResult<u64> {
        guard(py, || {
            Ok(self
                .inner
                .new_runs_needed(count_u64(py, "completed", completed)?))
        })
    }

    /// Whether the pipeline's model should be trained now: `None`, or why (`first_model`,
    /// `growth`, `surprise`). `completed` counts the pipeline's completed runs (any status),
    /// `successes` the successful ones; `trained_at` is `completed` when training was last
    /// attempted (None if never), `has_model` whether a model is served, `surprise` whether a
    /// run since that attempt was a surprise (see `is_surprise`).
    #[pyo3(signature = (completed, successes, trained_at=None, has_model=false, surprise=false))]
    fn is_due(
        &self,
        py: Python<'_>,
        completed: i64,
        successes: i64,
        trained_at: Option<i64>,
        has_model: bool,
        surprise: bool,
    ) -> PyResult<Option<&'static str>> {
        guard(py, || {
            let progress = TrainingProgress {
                completed: count_u64(py, "completed", completed)?,
                successes: count_u64(py, "successes", successes)?,
                trained_at: trained_at
                    .map(|v| count_u64(py, "trained_at", v))
                    .transpose()?,
                has_model,
                surprise,
            };
            Ok(self.inner.is_due(&progress).map(|r| r.as_str()))
        })
    }

    /// Whether a completed run should trigger a retraining at once: `status` is `oom_killed`,
    /// or `success` in a `duration_s` far (in spreads and in share) from what the model
    /// predicted for it (`predicted_mean`, `predicted_spread`; None when nothing was
    /// predicted).
    #[pyo3(signature = (status, duration_s, predicted_mean=None, predicted_spread=None))]
    fn is_surprise(
        &self,
        py: Python<'_>,
        status: &str,
        duration_s: f64,
        predicted_mean: Option<f64>,
        predicted_spread: Option<f64>,
    ) -> PyResult<bool> {
        guard(py, || {
            let status: RunStatus = status.parse().py_err(py)?;
            let predicted = match (predicted_mean, predicted_spread) {
                (Some(mean), Some(spread)) => Some(Prediction { mean, spread }),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(invalid_input(
                        py,
                        Some("predicted_spread"),
                        "invalid predicted_spread = None: give it with predicted_mean".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(invalid_input(
                        py,
                        Some("predicted_mean"),
                        "invalid predicted_mean = None: give it with predicted_spread".into(),
                    ))
                }
            };
            Ok(self.inner.is_surprise(status, duration_s, predicted))
        })
    }

    fn __repr__(&self) -> String {
        let p = &self.inner;
        format!(
            "RetrainPolicy(min_successes={}, growth={}, min_new={}, max_new={}, \
             surprise_spreads={}, surprise_share={})",
            p.min_successes, p.growth, p.min_new, p.max_new, p.surprise_spreads, p.surprise_share
        )
    }
}
