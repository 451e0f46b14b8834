//! `History`: a pipeline's runs, converted once and kept on the Rust side.
//!
//! Every call that takes a history accepts either a list of run dicts (converted on each call:
//! about as costly as the suggestion itself for a few hundred runs) or a `History`, which is
//! read without conversion. A service keeps one `History` per pipeline and appends to it.

use std::ops::Deref;
use std::sync::{Arc, RwLock};

use inframind_core::telemetry::validate_history;
use inframind_core::BuildRun;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PySlice, PySliceMethods};

use crate::convert::{from_py, to_py};
use crate::errors::{guard, CoreResultExt};

/// Runs given to a call: borrowed from a `History` or converted from dicts.
pub(crate) enum Runs {
    Shared(Arc<Vec<BuildRun>>),
    Owned(Vec<BuildRun>),
}

impl Deref for Runs {
    type Target = [BuildRun];
    fn deref(&self) -> &[BuildRun] {
        match self {
            Runs::Shared(r) => r,
            Runs::Owned(r) => r,
        }
    }
}

/// The runs of `obj`: a `History`, None (no runs) or a sequence of run dicts.
pub(crate) fn runs_from(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Runs> {
    match obj {
        None => Ok(Runs::Owned(Vec::new())),
        Some(o) if o.is_none() => Ok(Runs::Owned(Vec::new())),
        Some(o) => match o.cast::<PyHistory>() {
            Ok(h) => Ok(Runs::Shared(h.get().snapshot())),
            Err(_) => Ok(Runs::Owned(from_py(o, "history", "history")?)),
        },
    }
}

/// A pipeline's runs (oldest first), checked and converted once. Pass it wherever a history of
/// run dicts is accepted; `append` adds a finished run. Safe to share between threads: a call
/// works on the runs as they were when it started.
#[pyclass(frozen, module = "inframind", name = "History", sequence)]
pub(crate) struct PyHistory {
    runs: RwLock<Arc<Vec<BuildRun>>>,
}

impl PyHistory {
    pub(crate) fn snapshot(&self) -> Arc<Vec<BuildRun>> {
        Arc::clone(&self.runs.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn checked(py: Python<'_>, runs: Vec<BuildRun>, first: usize) -> PyResult<Vec<BuildRun>> {
        validate_history(&runs, first).py_err(py)?;
        Ok(runs)
    }
}

#[pymethods]
impl PyHistory {
    /// Checks and converts `runs` (run dicts, oldest first; none for an empty history).
    #[new]
    #[pyo3(signature = (runs=None))]
    fn new(py: Python<'_>, runs: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        guard(py, || {
            let runs = match runs_from(runs)? {
                Runs::Shared(r) => r,
                Runs::Owned(r) => Arc::new(Self::checked(py, r, 0)?),
            };
            Ok(PyHistory {
                runs: RwLock::new(runs),
            })
        })
    }

    /// Checks and appends one run (the newest).
    fn append(&self, py: Python<'_>, run: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let run: BuildRun = from_py(run, "run", "")?;
            run.validate().py_err(py)?;
            let mut w = self.runs.write().unwrap_or_else(|p| p.into_inner());
            Arc::make_mut(&mut w).push(run);
            Ok(())
        })
    }

    /// Checks and appends runs (oldest first); nothing is added if one is invalid.
    fn extend(&self, py: Python<'_>, runs: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let first = self.__len__();
            let runs: Vec<BuildRun> = from_py(runs, "history", "history")?;
            let runs = Self::checked(py, runs, first)?;
            let mut w = self.runs.write().unwrap_or_else(|p| p.into_inner());
            Arc::make_mut(&mut w).extend(runs);
            Ok(())
        })
    }

    /// Number of runs with status `success`.
    #[getter]
    fn successes(&self) -> usize {
        self.snapshot()
            .iter()
            .filter(|r| r.status.is_success())
            .count()
    }

    /// The runs as dicts.
    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.snapshot().as_slice())
    }

    fn __len__(&self) -> usize {
        self.snapshot().len()
    }

    /// `h[i]`: one run as a dict; `h[a:b]`: a new History of those runs.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let runs = self.snapshot();
        if let Ok(slice) = index.cast::<PySlice>() {
            let ind = slice.indices(runs.len() as isize)?;
            let picked: Vec<BuildRun> = if ind.step == 1 {
                runs[ind.start as usize..ind.stop.max(ind.start) as usize].to_vec()
            } else {
                let mut v = Vec::with_capacity(ind.slicelength);
                let mut i = ind.start;
                for _ in 0..ind.slicelength {
                    v.push(runs[i as usize].clone());
                    i += ind.step;
                }
                v
            };
            let h = PyHistory {
                runs: RwLock::new(Arc::new(picked)),
            };
            return Ok(Bound::new(py, h)?.into_any());
        }
        let i: isize = index.extract()?;
        let n = runs.len() as isize;
        let j = if i < 0 { i + n } else { i };
        if j < 0 || j >= n {
            return Err(PyIndexError::new_err(format!(
                "history index {i} out of range ({n} runs)"
            )));
        }
        to_py(py, &runs[j as usize])
    }

    fn __repr__(&self) -> String {
        let runs = self.snapshot();
        format!(
            "History({} runs{})",
            runs.len(),
            runs.last()
                .map(|r| format!(", pipeline {:?}", r.pipeline))
                .unwrap_or_default()
        )
    }
}
