//! `ModelStore`.

use std::path::PathBuf;

use inframind_core::ModelStore;
use pyo3::exceptions::PyRuntimeWarning;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::to_py;
use crate::errors::{guard, CoreResultExt};
use crate::model::{count, PyDurationModel};

/// A folder of versioned models, one sub-folder per pipeline. Writes are atomic and never
/// overwrite another writer's version; safe to share between threads and processes.
#[pyclass(frozen, module = "inframind", name = "ModelStore")]
pub(crate) struct PyModelStore {
    inner: ModelStore,
    root: PathBuf,
}

#[pymethods]
impl PyModelStore {
    /// Opens (creating if needed) a store rooted at `path`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(py, || {
            let inner = ModelStore::open(&path).py_err(py)?;
            Ok(PyModelStore { inner, root: path })
        })
    }

    /// The store's folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.root.clone()
    }

    /// Stores `model` as the next version of `pipeline`; returns that version (1, 2, ...).
    fn save(
        &self,
        py: Python<'_>,
        pipeline: String,
        model: &Bound<'_, PyDurationModel>,
    ) -> PyResult<u32> {
        guard(py, || {
            let m = &model.get().inner;
            let store = &self.inner;
            py.detach(|| store.save(&pipeline, m)).py_err(py)
        })
    }

    /// Loads one version of `pipeline`.
    fn load(&self, py: Python<'_>, pipeline: String, version: u32) -> PyResult<PyDurationModel> {
        guard(py, || {
            let store = &self.inner;
            py.detach(|| store.load(&pipeline, version))
                .map(PyDurationModel::new)
                .py_err(py)
        })
    }

    /// Loads the newest version of `pipeline` that decodes. Newer versions that do not decode
    /// are skipped with a RuntimeWarning naming them and why; StoreError when none decodes.
    fn load_latest(&self, py: Python<'_>, pipeline: String) -> PyResult<PyDurationModel> {
        guard(py, || {
            let store = &self.inner;
            let loaded = py.detach(|| store.load_latest(&pipeline)).py_err(py)?;
            for (version, reason) in &loaded.skipped {
                let msg =
                    format!("model store: skipped version {version} of {pipeline:?}: {reason}");
                let cmsg = std::ffi::CString::new(msg.replace('\0', " "))
                    .unwrap_or_else(|_| c"model store: skipped a version".into());
                PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &cmsg, 1)?;
            }
            Ok(PyDurationModel::new(loaded.model))
        })
    }

    /// The versions of `pipeline`, oldest first: dicts with `version`, `path`, `bytes`, and
    /// `metadata` (a dict) or `error` (why the file does not decode).
    fn list<'py>(&self, py: Python<'py>, pipeline: String) -> PyResult<Vec<Bound<'py, PyDict>>> {
        guard(py, || {
            let store = &self.inner;
            let versions = py.detach(|| store.list(&pipeline)).py_err(py)?;
            versions
                .into_iter()
                .map(|v| {
                    let d = PyDict::new(py);
                    d.set_item("version", v.version)?;
                    d.set_item("path", v.path.display().to_string())?;
                    d.set_item("bytes", v.bytes)?;
                    match &v.metadata {
                        Ok(meta) => {
                            d.set_item("metadata", to_py(py, meta)?)?;
                            d.set_item("error", py.None())?;
                        }
                        Err(e) => {
                            d.set_item("metadata", py.None())?;
                            d.set_item("error", e)?;
                        }
                    }
                    Ok(d)
                })
                .collect()
        })
    }

    /// Deletes all but the newest `keep` versions (at least one is kept); returns the versions
    /// deleted.
    fn prune(&self, py: Python<'_>, pipeline: String, keep: i64) -> PyResult<Vec<u32>> {
        guard(py, || {
            let keep = count(py, "keep", keep)?;
            let store = &self.inner;
            py.detach(|| store.prune(&pipeline, keep)).py_err(py)
        })
    }

    /// Pipelines with models in the store.
    fn pipelines(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        guard(py, || self.inner.pipelines().py_err(py))
    }

    fn __repr__(&self) -> String {
        format!("ModelStore({:?})", self.root.display().to_string())
    }
}
