//! Self-healing: `classify_log`, `Classification`, `PolicySet`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use inframind_core::healing::{
    classify, Classification, EvalOptions, ManualClock, PolicySet, SafetyState, SystemClock,
    Webhook,
};
use inframind_core::RunStatus;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{from_py, to_py};
use crate::errors::{guard, invalid_input, CoreResultExt};

/// Classifies a failed build's log: the cause (`oom`, `disk_full`, `network`...,
/// or `unknown`), a confidence, the evidence lines and a remediation. Releases the GIL.
#[pyfunction]
pub(crate) fn classify_log(py: Python<'_>, text: String) -> PyResult<PyClassification> {
    guard(py, || {
        let inner = py.detach(|| classify(&text));
        Ok(PyClassification { inner })
    })
}

/// The status a finished run is recorded with, given the status its CI reported and its log:
/// a failed run's log is classified, and an OOM or time-limit cause turns `failure` into
/// `oom_killed` or `timeout`. Cancelled and successful runs keep their status and get no
/// classification. Returns `(status, classification or None)`.
#[pyfunction]
#[pyo3(signature = (reported, log=None))]
pub(crate) fn final_status(
    py: Python<'_>,
    reported: &str,
    log: Option<String>,
) -> PyResult<(&'static str, Option<PyClassification>)> {
    guard(py, || {
        let reported: RunStatus = reported.parse().py_err(py)?;
        let (status, classification) =
            py.detach(|| inframind_core::healing::final_status(reported, log.as_deref()));
        Ok((
            status.as_str(),
            classification.map(|inner| PyClassification { inner }),
        ))
    })
}

/// The classifier's verdict. Reads like a dict (`c["category"]`, `dict(c)`) and has
/// attributes; `run_status` is the status the failed run should be recorded with.
#[pyclass(frozen, module = "inframind", name = "Classification", mapping)]
pub(crate) struct PyClassification {
    pub(crate) inner: Classification,
}

const CLASSIFICATION_KEYS: [&str; 4] = ["category", "confidence", "evidence", "remediation"];

impl PyClassification {
    fn item<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let c = &self.inner;
        Ok(Some(match key {
            "category" => PyString::new(py, c.category.as_str()).into_any(),
            "confidence" => c.confidence.into_pyobject(py)?.into_any(),
            "evidence" => to_py(py, &c.evidence)?,
            "remediation" => to_py(py, &c.remediation)?,
            _ => return Ok(None),
        }))
    }
}

#[pymethods]
impl PyClassification {
    /// `oom`, `disk_full`, `infra_lost`, `timeout`, `network`, `permission`, `dependency`,
    /// `compile_error`, `test_failure` or `unknown`.
    #[getter]
    fn category(&self) -> &'static str {
        self.inner.category.as_str()
    }

    /// 0..1.
    #[getter]
    fn confidence(&self) -> f64 {
        self.inner.confidence
    }

    /// Evidence lines (dicts: line, text, pattern, category, weight).
    #[getter]
    fn evidence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.evidence)
    }

    /// What to do (a dict with `action` and its settings).
    #[getter]
    fn remediation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.remediation)
    }

    /// The status the failed run should be recorded with (`oom_killed` for oom, `timeout`
    /// for timeout, else `failure`).
    #[getter]
    fn run_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.run_status())
    }

    /// Every field as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner)
    }

    /// The keys: category, confidence, evidence, remediation.
    fn keys(&self) -> Vec<&'static str> {
        CLASSIFICATION_KEYS.to_vec()
    }

    /// `(key, value)` pairs.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(&'static str, Bound<'py, PyAny>)>> {
        CLASSIFICATION_KEYS
            .iter()
            .map(|k| {
                Ok((
                    *k,
                    self.item(py, k)?
                        .unwrap_or_else(|| py.None().into_bound(py)),
                ))
            })
            .collect()
    }

    /// The values, in key order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        Ok(self.items(py)?.into_iter().map(|(_, v)| v).collect())
    }

    /// The value of `key`, or `default`.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(self
            .item(py, key)?
            .or(default)
            .unwrap_or_else(|| py.None().into_bound(py)))
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.item(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.to_string()))
    }

    fn __contains__(&self, key: &str) -> bool {
        CLASSIFICATION_KEYS.contains(&key)
    }

    fn __len__(&self) -> usize {
        CLASSIFICATION_KEYS.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = pyo3::types::PyList::new(py, CLASSIFICATION_KEYS)?;
        keys.as_any().try_iter().map(|i| i.into_any())
    }

    fn __repr__(&self) -> String {
        format!(
            "Classification(category={:?}, confidence={:.2}, evidence={} lines)",
            self.inner.category.as_str(),
            self.inner.confidence,
            self.inner.evidence.len()
        )
    }
}

/// Remediation policies for Alertmanager alerts, with the safety state (cooldowns, rate
/// limits, deduplication) kept between `evaluate` calls. Safe to share between threads.
#[pyclass(frozen, module = "inframind", name = "PolicySet")]
pub(crate) struct PyPolicySet {
    set: Arc<PolicySet>,
    state: Mutex<SafetyState>,
}

impl PyPolicySet {
    fn wrap(set: PolicySet) -> Self {
        PyPolicySet {
            set: Arc::new(set),
            state: Mutex::new(SafetyState::default()),
        }
    }
}

/// The webhook of `evaluate`: a dict (the JSON body, parsed), or the JSON text/bytes.
fn webhook_from(obj: &Bound<'_, PyAny>) -> PyResult<Webhook> {
    let py = obj.py();
    let bytes: Vec<u8> = if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()?.as_bytes().to_vec()
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else {
        let value: serde_json::Value = from_py(obj, "alert payload", "")?;
        serde_json::to_vec(&value)
            .map_err(|e| invalid_input(py, None, format!("invalid alert payload: {e}")))?
    };
    Webhook::from_slice(&bytes).py_err(py)
}

/// `now` of `evaluate`: None (the system clock), an RFC 3339 string or an aware datetime.
fn clock_from(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ManualClock>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let py = obj.py();
    let text: String = if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if obj.hasattr("isoformat")? {
        obj.call_method0("isoformat")?.extract()?
    } else {
        return Err(invalid_input(
            py,
            Some("now"),
            "now must be an RFC 3339 string or a timezone-aware datetime".into(),
        ));
    };
    let t: jiff::Timestamp = text.parse().map_err(|e| {
        invalid_input(
            py,
            Some("now"),
            format!("invalid now = {text:?}: {e} (give an RFC 3339 time with an offset, e.g. 2024-05-01T10:00:00Z)"),
        )
    })?;
    Ok(Some(ManualClock::new(t)))
}

#[pymethods]
impl PyPolicySet {
    /// Loads a policy file: YAML when the name ends in .yaml/.yml, JSON otherwise.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(py, || {
            PolicySet::from_path(&path).map(Self::wrap).py_err(py)
        })
    }

    /// Loads policies from a list of policy dicts, or a dict `{"policies": [...]}`.
    #[staticmethod]
    fn from_dict(py: Python<'_>, policies: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let value: serde_json::Value = from_py(policies, "policies", "")?;
            let text = serde_json::to_string(&value)
                .map_err(|e| invalid_input(py, None, format!("invalid policies: {e}")))?;
            PolicySet::from_json(&text).map(Self::wrap).py_err(py)
        })
    }

    /// Loads policies from JSON text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: String) -> PyResult<Self> {
        guard(py, || {
            PolicySet::from_json(&text).map(Self::wrap).py_err(py)
        })
    }

    /// Loads policies from YAML text.
    #[staticmethod]
    fn from_yaml(py: Python<'_>, text: String) -> PyResult<Self> {
        guard(py, || {
            PolicySet::from_yaml(&text).map(Self::wrap).py_err(py)
        })
    }

    /// Evaluates an Alertmanager webhook (dict, or JSON text/bytes): one decision per
    /// (policy, alert) whose condition holds, in priority order, with the rendered action and
    /// the reason. `dry_run=True` decides without acting and changes no safety state. `now`
    /// (RFC 3339 string or aware datetime) replaces the system clock. Returns
    /// `{"decisions": [...], "audit": [...]}`.
    #[pyo3(signature = (webhook, *, dry_run=false, now=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        webhook: &Bound<'py, PyAny>,
        dry_run: bool,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let hook = webhook_from(webhook)?;
            let manual = clock_from(now)?;
            let options = if dry_run {
                EvalOptions::dry_run()
            } else {
                EvalOptions::default()
            };
            let set = &self.set;
            let state = &self.state;
            let eval = py.detach(|| {
                // A panic while holding the lock cannot leave the state half-written in a way
                // that matters more than losing it; keep serving.
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                match &manual {
                    Some(clock) => set.evaluate(&hook, &mut st, clock, options),
                    None => set.evaluate(&hook, &mut st, &SystemClock, options),
                }
            });
            to_py(py, &eval)
        })
    }

    /// Policy names in evaluation order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.set
            .policies()
            .iter()
            .map(|p| p.name().to_string())
            .collect()
    }

    /// The policies as written (dicts), in evaluation order.
    #[getter]
    fn policies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.set.specs())
    }

    /// The set as a JSON policy file.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.set.to_json().py_err(py)
    }

    /// The set as a YAML policy file.
    fn to_yaml(&self, py: Python<'_>) -> PyResult<String> {
        self.set.to_yaml().py_err(py)
    }

    fn __len__(&self) -> usize {
        self.set.len()
    }

    fn __repr__(&self) -> String {
        format!("PolicySet({} policies)", self.set.len())
    }
}
