//! Python bindings of inframind-core: the native module `inframind._inframind`.
//!
//! Every class and function translates Python objects into the core's types (dicts with the
//! core's serde field names, NumPy arrays as ndarray views), calls the core, and translates
//! the answer back. Nothing is decided here. Heavy work (training, batch prediction,
//! optimisation, model I/O, log classification) runs with the GIL released; every class is
//! immutable (`frozen`) over `Arc`s, so objects are shared freely between threads. Errors
//! become the class `inframind.exceptions` maps their core kind to (`InframindError`
//! subclasses, `OSError`s for I/O), and a Rust panic becomes an `InframindError` instead of
//! pyo3's `PanicException`.
//!
//! The Python package (`bindings/python/python/inframind/`) re-exports this module; its stubs
//! (`_inframind.pyi`) are checked against it with `mypy.stubtest`.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod collect;
mod convert;
mod errors;
mod healing;
mod history;
mod model;
mod optimizer;
mod retrain;
mod store;

use inframind_core::features::{self, FeatureSchema, FEATURE_NAMES};
use inframind_core::telemetry::validate_history;
use inframind_core::{demo, rules, tool_env, BuildConfig, BuildRun, RunContext, RunStatus};
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use convert::{from_py, to_py};
use errors::{guard, CoreResultExt};

/// The features of a historical `run` (a run dict), computed from its config, tool and step
/// count and the `history` before it (never from its own outcome), by feature name.
#[pyfunction(name = "features")]
#[pyo3(signature = (run, history=None))]
fn run_features<'py>(
    py: Python<'py>,
    run: &Bound<'py, PyAny>,
    history: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(py, || {
        let run: BuildRun = from_py(run, "run", "")?;
        run.validate().py_err(py)?;
        let history = history::runs_from(history)?;
        let row = features::run_features(&run, &history);
        let d = PyDict::new(py);
        for (name, value) in FEATURE_NAMES.iter().zip(row) {
            d.set_item(*name, value)?;
        }
        Ok(d)
    })
}

/// `(X, y)` of [`training_data`].
type TrainingData<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>);

/// The training data the core builds from a pipeline's history (runs, oldest first): `(X, y)`
/// as float64 arrays, one row per successful run built from the runs before it, exactly what
/// `DurationModel.train` fits. Use it to fit other models on the same rows.
#[pyfunction]
fn training_data<'py>(py: Python<'py>, runs: &Bound<'py, PyAny>) -> PyResult<TrainingData<'py>> {
    guard(py, || {
        let history = history::runs_from(Some(runs))?;
        validate_history(&history, 0).py_err(py)?;
        let (rows, y) = py.detach(|| features::training_rows(&history));
        let n = rows.len();
        let x = ndarray::Array2::from_shape_vec((n, features::N_FEATURES), rows.concat())
            .map_err(|e| errors::invalid_input(py, None, e.to_string()))?;
        Ok((x.into_pyarray(py), PyArray1::from_vec(py, y)))
    })
}

/// The feature schema of this build: `{"names": [...], "fingerprint": "..."}`. Models record
/// the fingerprint and refuse features of another schema.
#[pyfunction]
fn feature_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &FeatureSchema::current())
}

/// A simulated pipeline's history: `n` runs (dicts, oldest first) of the demo pipeline of
/// `tool` (cmake, bazel, gradle, npm, cargo; other names get a generic pipeline),
/// reproducible from `seed`.
#[pyfunction]
#[pyo3(signature = (tool, n, seed=0))]
fn demo_history<'py>(
    py: Python<'py>,
    tool: String,
    n: i64,
    seed: i64,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let n = model::count(py, "n", n)?;
        let seed = model::count(py, "seed", seed)? as u64;
        let runs = py.detach(|| demo::demo_history(&tool, n, seed));
        to_py(py, &runs)
    })
}

/// The environment variables that make `tool` run with `config` (a config dict), by name:
/// `INFRAMIND_CONCURRENCY`, `INFRAMIND_CPU_CORES`, `INFRAMIND_MEMORY_MB` and the tool's own
/// (`MAKEFLAGS`, `CARGO_BUILD_JOBS`, `GRADLE_OPTS`...).
#[pyfunction(name = "tool_env")]
fn env_for<'py>(
    py: Python<'py>,
    tool: String,
    config: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let config: BuildConfig = from_py(config, "config", "config")?;
        config.validate("config").py_err(py)?;
        to_py(py, &tool_env::env_for(&tool, &config))
    })
}

/// Checks a run dict the way the core checks every run, and returns it normalised (defaults
/// filled in, the core's field names). Raises InvalidInputError naming the first bad field.
#[pyfunction]
fn validate_run<'py>(py: Python<'py>, run: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let run: BuildRun = from_py(run, "run", "")?;
        run.validate().py_err(py)?;
        to_py(py, &run)
    })
}

/// Checks a context dict (the `context` of an `/optimize` request) and returns it normalised.
/// Raises InvalidInputError naming the first bad field (`context.num_steps`).
#[pyfunction]
fn validate_context<'py>(
    py: Python<'py>,
    context: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let ctx: RunContext = optimizer::context_from(context)?;
        ctx.validate().py_err(py)?;
        to_py(py, &ctx)
    })
}

/// Checks a name (`field` says which: `pipeline`, `run_id`, `tool`, a step name, a label) by
/// the core's rule: not blank, at most 512 bytes, no NUL byte. Raises InvalidInputError naming
/// `field` when it is not.
#[pyfunction]
fn check_name(py: Python<'_>, field: &str, value: &str) -> PyResult<()> {
    guard(py, || rules::check_name(field, value).py_err(py))
}

/// Panics in Rust with `message`. It exists only so the test suite can prove that a Rust
/// panic reaches Python as an `InframindError`, like every other failure.
#[pyfunction]
fn _debug_panic(py: Python<'_>, message: String) -> PyResult<()> {
    guard(py, || -> PyResult<()> { std::panic::panic_any(message) })
}

/// Native module of the `inframind` package: use `import inframind`.
#[pymodule]
fn _inframind(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The exception classes live in `inframind.exceptions`; a package without them is broken,
    // and import time is the moment to say so, not the first error.
    errors::classes(py)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FEATURE_NAMES", FEATURE_NAMES.to_vec())?;
    m.add(
        "RUN_STATUSES",
        PyTuple::new(py, RunStatus::ALL.map(RunStatus::as_str))?,
    )?;
    m.add_class::<history::PyHistory>()?;
    m.add_class::<model::PyDurationModel>()?;
    m.add_class::<model::PyPrediction>()?;
    m.add_class::<optimizer::PyOptimizer>()?;
    m.add_class::<optimizer::PySuggestion>()?;
    m.add_class::<store::PyModelStore>()?;
    m.add_class::<healing::PyClassification>()?;
    m.add_class::<healing::PyPolicySet>()?;
    m.add_class::<retrain::PyRetrainPolicy>()?;
    m.add_function(wrap_pyfunction!(run_features, m)?)?;
    m.add_function(wrap_pyfunction!(feature_schema, m)?)?;
    m.add_function(wrap_pyfunction!(training_data, m)?)?;
    m.add_function(wrap_pyfunction!(demo_history, m)?)?;
    m.add_function(wrap_pyfunction!(env_for, m)?)?;
    m.add_function(wrap_pyfunction!(validate_run, m)?)?;
    m.add_function(wrap_pyfunction!(validate_context, m)?)?;
    m.add_function(wrap_pyfunction!(check_name, m)?)?;
    m.add_function(wrap_pyfunction!(healing::classify_log, m)?)?;
    m.add_function(wrap_pyfunction!(healing::final_status, m)?)?;
    m.add_function(wrap_pyfunction!(_debug_panic, m)?)?;
    collect::register(m)?;
    Ok(())
}
