//! `Optimizer` and `Suggestion`.

use std::sync::Arc;

use inframind_core::optimizer::Guard;
use inframind_core::{
    BuildConfig, DurationModel, Optimizer, OptimizerParams, RunContext, Suggestion,
};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{from_py, to_py};
use crate::errors::{guard, CoreResultExt};
use crate::history::runs_from;
use crate::model::{count, PyDurationModel};

/// A context from a dict, or from a tool name alone (`"cmake"`).
pub(crate) fn context_from(obj: &Bound<'_, PyAny>) -> PyResult<RunContext> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(RunContext::for_tool(s.to_cow()?.into_owned()));
    }
    from_py(obj, "context", "context")
}

/// Suggests the next build's config: the fastest predicted candidate that keeps every safety
/// guard, or, without a model or with too little history, the last successful config (the last
/// config when none succeeded, or the defaults) lifted to the guards. Immutable and safe to share between threads.
#[pyclass(frozen, module = "inframind", name = "Optimizer")]
pub(crate) struct PyOptimizer {
    inner: Optimizer,
    model: Option<Arc<DurationModel>>,
}

#[pymethods]
impl PyOptimizer {
    #[new]
    #[pyo3(signature = (model=None, *, exploration=0.15, bound=0.25, min_successful_runs=10, memory_step_bytes=67108864, cpu_step=0.25, defaults=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: Option<&Bound<'_, PyDurationModel>>,
        exploration: f64,
        bound: f64,
        min_successful_runs: i64,
        memory_step_bytes: i64,
        cpu_step: f64,
        defaults: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut params = OptimizerParams::default()
                .exploration(exploration)
                .bound(bound)
                .min_successful_runs(count(py, "min_successful_runs", min_successful_runs)?)
                .memory_step_bytes(count(py, "memory_step_bytes", memory_step_bytes)? as u64)
                .cpu_step(cpu_step);
            if let Some(d) = defaults {
                let d: BuildConfig = from_py(d, "defaults", "defaults")?;
                params = params.defaults(d);
            }
            let inner = Optimizer::new(params).py_err(py)?;
            Ok(PyOptimizer {
                inner,
                model: model.map(|m| Arc::clone(&m.get().inner)),
            })
        })
    }

    /// Suggests the config of the next build of the pipeline whose `history` (run dicts,
    /// oldest first) is given, for `context` (a dict like the `/optimize` request's, or a tool
    /// name). `seed` makes exploration reproducible. Releases the GIL while optimising.
    #[pyo3(signature = (history, context, *, seed=None))]
    fn suggest(
        &self,
        py: Python<'_>,
        history: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
        seed: Option<i64>,
    ) -> PyResult<PySuggestion> {
        guard(py, || {
            let history = runs_from(Some(history))?;
            let ctx = context_from(context)?;
            let seed = seed
                .map(|s| count(py, "seed", s).map(|s| s as u64))
                .transpose()?;
            let model = self.model.as_deref();
            let opt = &self.inner;
            let s = py
                .detach(|| opt.suggest(model, &history, &ctx, seed))
                .py_err(py)?;
            Ok(PySuggestion { inner: s })
        })
    }

    /// The model the optimizer scores candidates with (None: always a cold start).
    #[getter]
    fn model(&self) -> Option<PyDurationModel> {
        self.model.as_ref().map(|m| PyDurationModel {
            inner: Arc::clone(m),
        })
    }

    /// The settings as a dict.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.params())
    }

    fn __repr__(&self) -> String {
        let p = self.inner.params();
        format!(
            "Optimizer(model={}, exploration={}, bound={})",
            self.model.as_ref().map_or_else(
                || "None".to_string(),
                |m| format!("{:?}", m.metadata().model_id)
            ),
            p.exploration,
            p.bound
        )
    }
}

/// The optimizer's answer. `to_dict()` gives every field with the core's names (the body of
/// the `/optimize` response, without `pipeline` and `env`).
#[pyclass(frozen, module = "inframind", name = "Suggestion")]
pub(crate) struct PySuggestion {
    inner: Suggestion,
}

fn config_dict<'py>(py: Python<'py>, c: &BuildConfig) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, c)
}

#[pymethods]
impl PySuggestion {
    /// `{"concurrency": int, "cpu_cores": float, "memory_bytes": int}` to run the next build with.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        config_dict(py, &self.inner.config)
    }

    /// Predicted duration with `config`, seconds (None at a cold start without history).
    #[getter]
    fn predicted_duration_s(&self) -> Option<f64> {
        self.inner.predicted_duration_s
    }

    /// Spread (standard deviation) of the trees' predictions, seconds.
    #[getter]
    fn spread_s(&self) -> Option<f64> {
        self.inner.spread_s
    }

    /// The config the candidates were drawn around: the last successful one (the last one when
    /// none succeeded, or the defaults), cut down to the capacity when nothing near it fits.
    #[getter]
    fn baseline_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        config_dict(py, &self.inner.baseline_config)
    }

    /// Predicted duration with the baseline config, seconds.
    #[getter]
    fn baseline_duration_s(&self) -> Option<f64> {
        self.inner.baseline_duration_s
    }

    /// `predicted_duration_s - baseline_duration_s` (negative is faster).
    #[getter]
    fn expected_change_s(&self) -> Option<f64> {
        self.inner.expected_change_s
    }

    /// Whether this suggestion explores rather than exploits.
    #[getter]
    fn explored(&self) -> bool {
        self.inner.explored
    }

    /// Whether the model was not used (no model, or too little history).
    #[getter]
    fn cold_start(&self) -> bool {
        self.inner.cold_start
    }

    /// The guards (dicts: name, limit, unit, reason, binding).
    #[getter]
    fn guards<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py::<Vec<Guard>>(py, &self.inner.guards)
    }

    /// Candidates generated.
    #[getter]
    fn candidates_considered(&self) -> usize {
        self.inner.candidates_considered
    }

    /// Candidates rejected by capacity after lifting to the floors.
    #[getter]
    fn candidates_rejected(&self) -> usize {
        self.inner.candidates_rejected
    }

    /// Store version (`v3`) or content id of the model used.
    #[getter]
    fn model_version(&self) -> Option<String> {
        self.inner.model_version.clone()
    }

    /// Seed of the exploration draw.
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Lines a person can read.
    #[getter]
    fn rationale(&self) -> Vec<String> {
        self.inner.rationale.clone()
    }

    /// Every field as a dict, with the core's serde names.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let c = &self.inner.config;
        format!(
            "Suggestion(config={{concurrency: {}, cpu_cores: {}, memory_bytes: {}}}, predicted_duration_s={}, explored={}, cold_start={})",
            c.concurrency,
            c.cpu_cores,
            c.memory_bytes,
            self.inner
                .predicted_duration_s
                .map_or_else(|| "None".to_string(), |p| format!("{p:.1}")),
            if self.inner.explored { "True" } else { "False" },
            if self.inner.cold_start { "True" } else { "False" },
        )
    }
}
