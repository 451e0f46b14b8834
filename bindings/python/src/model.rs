//! `DurationModel` and `Prediction`.

use std::path::PathBuf;
use std::sync::Arc;

use inframind_core::features::{self, FeatureSchema, HistoryStats, N_FEATURES};
use inframind_core::forest::LeafSize;
use inframind_core::{
    BuildConfig, BuildRun, DurationModel, Prediction, RandomForestParams, RunContext,
};
use ndarray::Array2;
use numpy::{AllowTypeChange, PyArray1, PyArrayLike1, PyArrayLike2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple, PyType};

use crate::convert::{from_py, to_py};
use crate::errors::{guard, invalid_input, CoreResultExt};
use crate::history::runs_from;

/// A count given from Python: negative values are an input error, not an OverflowError.
pub(crate) fn count(py: Python<'_>, name: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| {
        invalid_input(
            py,
            Some(name),
            format!("invalid {name} = {v}: must be 0 or more"),
        )
    })
}

fn seed_value(py: Python<'_>, v: i64) -> PyResult<u64> {
    u64::try_from(v).map_err(|_| {
        invalid_input(
            py,
            Some("seed"),
            format!("invalid seed = {v}: must be 0 or more"),
        )
    })
}

/// The forest settings shared by `train` and `fit`.
#[allow(clippy::too_many_arguments)]
fn forest_params(
    py: Python<'_>,
    n_trees: i64,
    seed: i64,
    max_depth: Option<i64>,
    min_samples_leaf: Option<i64>,
    max_features: f64,
    bootstrap: bool,
) -> PyResult<RandomForestParams> {
    let leaf = match min_samples_leaf {
        None => LeafSize::Auto,
        Some(n) => LeafSize::Fixed(count(py, "min_samples_leaf", n)?),
    };
    let depth = max_depth.map(|d| count(py, "max_depth", d)).transpose()?;
    Ok(RandomForestParams::new()
        .n_trees(count(py, "n_trees", n_trees)?)
        .seed(seed_value(py, seed)?)
        .max_depth(depth)
        .leaf_size(leaf)
        .max_features(max_features)
        .bootstrap(bootstrap))
}

/// A prediction: the mean over the trees and their spread (standard deviation), in seconds
/// for duration models.
#[pyclass(frozen, module = "inframind", name = "Prediction")]
#[derive(Clone)]
pub(crate) struct PyPrediction {
    /// Mean of the trees' predictions.
    #[pyo3(get)]
    mean: f64,
    /// Standard deviation of the trees' predictions.
    #[pyo3(get)]
    spread: f64,
}

impl From<Prediction> for PyPrediction {
    fn from(p: Prediction) -> Self {
        PyPrediction {
            mean: p.mean,
            spread: p.spread,
        }
    }
}

#[pymethods]
impl PyPrediction {
    /// `{"mean": ..., "spread": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("mean", self.mean)?;
        d.set_item("spread", self.spread)?;
        Ok(d)
    }

    fn __float__(&self) -> f64 {
        self.mean
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyPrediction>()
            .map(|o| {
                let o = o.get();
                o.mean.to_bits() == self.mean.to_bits()
                    && o.spread.to_bits() == self.spread.to_bits()
            })
            .unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!("Prediction(mean={}, spread={})", self.mean, self.spread)
    }
}

/// A trained random-forest duration model. Immutable, shareable between threads.
#[pyclass(frozen, module = "inframind", name = "DurationModel")]
pub(crate) struct PyDurationModel {
    pub(crate) inner: Arc<DurationModel>,
}

impl PyDurationModel {
    pub(crate) fn new(model: DurationModel) -> Self {
        PyDurationModel {
            inner: Arc::new(model),
        }
    }
}

/// What a dict given to `predict` describes.
enum Subject {
    Run(BuildRun),
    Context(RunContext, BuildConfig),
}

fn subject(
    obj: &Bound<'_, PyAny>,
    config: Option<&Bound<'_, PyAny>>,
    prefix: &str,
) -> PyResult<Subject> {
    let py = obj.py();
    let get = |key: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        match obj.cast::<PyDict>() {
            Ok(d) => d.get_item(key),
            Err(_) => Ok(obj.get_item(key).ok()),
        }
    };
    if let Some(cfg) = config {
        let config: BuildConfig = from_py(cfg, "config", "config")?;
        let ctx = if get("run_id")?.is_some() {
            let run: BuildRun = from_py(obj, "run", prefix)?;
            run.context()
        } else {
            from_py(obj, "context", prefix)?
        };
        return Ok(Subject::Context(ctx, config));
    }
    if get("run_id")?.is_some() {
        return Ok(Subject::Run(from_py(obj, "run", prefix)?));
    }
    match get("config")? {
        Some(cfg) => {
            let here = if prefix.is_empty() {
                "config".to_string()
            } else {
                format!("{prefix}.config")
            };
            let config: BuildConfig = from_py(&cfg, "config", &here)?;
            Ok(Subject::Context(from_py(obj, "context", prefix)?, config))
        }
        None => Err(invalid_input(
            py,
            Some("config"),
            "a context needs a config to predict: pass config={...}, a context with a \
             \"config\" key, or a whole run"
                .into(),
        )),
    }
}

/// The feature row of a run or a context + config, checked like the core checks `predict`.
fn subject_row(
    model: &DurationModel,
    s: &Subject,
    history: &[BuildRun],
    stats: &HistoryStats,
    prefix: &str,
) -> inframind_core::Result<[f64; N_FEATURES]> {
    model.check_schema(&FeatureSchema::current())?;
    match s {
        Subject::Run(run) => {
            run.validate().map_err(|e| e.prefixed(prefix))?;
            Ok(features::run_features(run, history))
        }
        Subject::Context(ctx, config) => {
            ctx.validate()?;
            config.validate("config")?;
            Ok(features::features_with_stats(ctx, config, stats))
        }
    }
}

fn is_mapping(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyDict>() || obj.cast::<pyo3::types::PyMapping>().is_ok()
}

#[pymethods]
impl PyDurationModel {
    /// Trains on a pipeline's history (runs as dicts, oldest first): every successful run is a
    /// training row built from the runs before it. Releases the GIL while training.
    #[staticmethod]
    #[pyo3(signature = (runs, *, n_trees=100, seed=0, max_depth=None, min_samples_leaf=None, max_features=1.0, bootstrap=true))]
    #[allow(clippy::too_many_arguments)]
    fn train(
        py: Python<'_>,
        runs: &Bound<'_, PyAny>,
        n_trees: i64,
        seed: i64,
        max_depth: Option<i64>,
        min_samples_leaf: Option<i64>,
        max_features: f64,
        bootstrap: bool,
    ) -> PyResult<Self> {
        guard(py, || {
            let params = forest_params(
                py,
                n_trees,
                seed,
                max_depth,
                min_samples_leaf,
                max_features,
                bootstrap,
            )?;
            let history = runs_from(Some(runs))?;
            let model = py
                .detach(|| DurationModel::train(&history, params))
                .py_err(py)?;
            Ok(PyDurationModel::new(model))
        })
    }

    /// Fits on features you computed (`X`: rows x features, `y`: durations), like
    /// scikit-learn's `fit(X, y)`. Any float64 2-D array is read in place; other array-likes
    /// are converted. Releases the GIL while fitting.
    #[staticmethod]
    #[pyo3(signature = (X, y, *, feature_names=None, n_trees=100, seed=0, max_depth=None, min_samples_leaf=None, max_features=1.0, bootstrap=true))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        X: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        feature_names: Option<Vec<String>>,
        n_trees: i64,
        seed: i64,
        max_depth: Option<i64>,
        min_samples_leaf: Option<i64>,
        max_features: f64,
        bootstrap: bool,
    ) -> PyResult<Self> {
        guard(py, || {
            let params = forest_params(
                py,
                n_trees,
                seed,
                max_depth,
                min_samples_leaf,
                max_features,
                bootstrap,
            )?;
            let x: PyArrayLike2<'_, f64, AllowTypeChange> = X.extract().map_err(|e| {
                invalid_input(
                    py,
                    Some("X"),
                    format!("X must be a 2-D array of numbers (rows x features): {e}"),
                )
            })?;
            let y: PyArrayLike1<'_, f64, AllowTypeChange> = y.extract().map_err(|e| {
                invalid_input(
                    py,
                    Some("y"),
                    format!("y must be a 1-D array of numbers (one per row of X): {e}"),
                )
            })?;
            let (rows, _) = x.as_array().dim();
            if y.len() != rows {
                return Err(invalid_input(
                    py,
                    Some("y"),
                    format!(
                        "y has {} values but X has {rows} rows; give one per row",
                        y.len()
                    ),
                ));
            }
            let xv = x.as_array();
            let yv: Vec<f64> = y.as_array().to_vec();
            let model = py
                .detach(|| DurationModel::fit(xv, &yv, feature_names, params))
                .py_err(py)?;
            Ok(PyDurationModel::new(model))
        })
    }

    /// Predicts one build: a run dict (its config, tool and steps against the `history`
    /// before it), a context dict with `config=` (or a `"config"` key), or one row of features
    /// (a sequence of floats, for models from `fit`).
    #[pyo3(signature = (run_or_context, history=None, *, config=None))]
    fn predict(
        &self,
        py: Python<'_>,
        run_or_context: &Bound<'_, PyAny>,
        history: Option<&Bound<'_, PyAny>>,
        config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyPrediction> {
        guard(py, || {
            if is_mapping(run_or_context) {
                let s = subject(run_or_context, config, "")?;
                let history = runs_from(history)?;
                let stats = match s {
                    Subject::Context(..) => HistoryStats::from_history(&history),
                    Subject::Run(_) => HistoryStats::default(),
                };
                let row = subject_row(&self.inner, &s, &history, &stats, "").py_err(py)?;
                return self
                    .inner
                    .predict_features(&row)
                    .map(PyPrediction::from)
                    .py_err(py);
            }
            let row: Vec<f64> = run_or_context.extract().map_err(|_| {
                invalid_input(
                    py,
                    None,
                    format!(
                        "predict takes a run dict, a context dict or one row of {} features; got {}",
                        self.inner.forest().n_features(),
                        type_name(run_or_context)
                    ),
                )
            })?;
            if let Some(i) = row.iter().position(|v| v.is_nan()) {
                return Err(invalid_input(
                    py,
                    Some(&format!("x[{i}]")),
                    format!("invalid x[{i}] = NaN: features must not be NaN"),
                ));
            }
            self.inner
                .predict_features(&row)
                .map(PyPrediction::from)
                .py_err(py)
        })
    }

    /// Predicts many builds at once: a 2-D float array (rows x features; a float64 NumPy array
    /// is read in place, without copying), or a list of run / context dicts (against one
    /// `history`). Returns the means as a float64 array, or `(means, spreads)` with
    /// `return_spread=True`. Releases the GIL while predicting.
    #[pyo3(signature = (X, history=None, *, config=None, return_spread=false))]
    #[allow(non_snake_case)]
    fn predict_many<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        history: Option<&Bound<'py, PyAny>>,
        config: Option<&Bound<'py, PyAny>>,
        return_spread: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let model = &self.inner;
            let preds = if let Some(rows) = dict_rows(X)? {
                let history = runs_from(history)?;
                let stats = HistoryStats::from_history(&history);
                let mut flat = Vec::with_capacity(rows.len() * N_FEATURES);
                for (i, obj) in rows.iter().enumerate() {
                    let prefix = format!("X[{i}]");
                    let s = subject(obj, config, &prefix)?;
                    let row = subject_row(model, &s, &history, &stats, &prefix).py_err(py)?;
                    flat.extend_from_slice(&row);
                }
                let x = Array2::from_shape_vec((rows.len(), N_FEATURES), flat)
                    .map_err(|e| invalid_input(py, Some("X"), e.to_string()))?;
                py.detach(|| model.predict_many(x.view())).py_err(py)?
            } else {
                let x: PyArrayLike2<'py, f64, AllowTypeChange> = X.extract().map_err(|e| {
                    invalid_input(
                        py,
                        Some("X"),
                        format!(
                            "X must be a 2-D array of numbers (rows x features) or a list of \
                             run / context dicts: {e}"
                        ),
                    )
                })?;
                let view = x.as_array();
                py.detach(|| model.predict_many(view)).py_err(py)?
            };
            let means: Vec<f64> = preds.iter().map(|p| p.mean).collect();
            let means = PyArray1::from_vec(py, means).into_any();
            if return_spread {
                let spreads: Vec<f64> = preds.iter().map(|p| p.spread).collect();
                let spreads = PyArray1::from_vec(py, spreads).into_any();
                Ok(PyTuple::new(py, [means, spreads])?.into_any())
            } else {
                Ok(means)
            }
        })
    }

    /// Feature names in row order.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }

    /// Importance of each feature (impurity decrease, sums to 1), as a float64 array.
    #[getter]
    fn feature_importances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.inner.feature_importances())
    }

    /// Out-of-bag R² (None without bootstrap).
    #[getter]
    fn oob_score(&self) -> Option<f64> {
        self.inner.oob_score()
    }

    /// Number of features per row.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.forest().n_features()
    }

    /// Number of trees.
    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.forest().n_trees()
    }

    /// Content id: a hash of the forest, stable across save and load.
    #[getter]
    fn model_id(&self) -> String {
        self.inner.metadata().model_id.clone()
    }

    /// Store version, once saved in (or loaded from) a ModelStore.
    #[getter]
    fn version(&self) -> Option<u32> {
        self.inner.metadata().version
    }

    /// The model's metadata (pipeline, trained_at, n_samples, oob_score, schema, params,
    /// model_id, version) as a dict.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.metadata())
    }

    /// Writes the model to `path` atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        guard(py, || {
            let model = &self.inner;
            py.detach(|| model.save(&path)).py_err(py)
        })
    }

    /// Reads a model written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(py, || {
            py.detach(|| DurationModel::load(&path))
                .map(PyDurationModel::new)
                .py_err(py)
        })
    }

    /// The model file's bytes (what `save` writes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// Decodes bytes from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, py: Python<'_>, data: Vec<u8>) -> PyResult<Self> {
        guard(py, || {
            DurationModel::from_bytes(&data)
                .map(PyDurationModel::new)
                .py_err(py)
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let ctor = slf.get_type().getattr("from_bytes")?;
        let bytes = PyBytes::new(py, &slf.get().inner.to_bytes());
        PyTuple::new(py, [ctor, PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __repr__(&self) -> String {
        let m = &self.inner;
        format!(
            "DurationModel(n_trees={}, n_features={}, oob_score={}, model_id={:?})",
            m.forest().n_trees(),
            m.forest().n_features(),
            m.oob_score()
                .map_or_else(|| "None".to_string(), |s| format!("{s:.3}")),
            m.metadata().model_id
        )
    }
}

/// The items of `obj` when it is a list/tuple of dicts (runs or contexts), else None.
fn dict_rows<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
    let items: Vec<Bound<'py, PyAny>> = if let Ok(l) = obj.cast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        return Ok(None);
    };
    match items.first() {
        Some(first) if is_mapping(first) => Ok(Some(items)),
        _ => Ok(None),
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".into())
}
