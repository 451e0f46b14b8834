//! Python exceptions: one base class, a subclass per error family, I/O errors as `OSError`s.
//!
//! The classes are made at import time with `type(name, bases, ns)` because
//! `InvalidInputError` has two bases (`InframindError` and `ValueError`), which
//! `create_exception!` cannot express. The core's message is passed through unchanged; the field
//! it names (when it names one) is also set as the exception's `field` attribute, so a web handler
//! can answer `{"error": {"field": ...}}` without parsing text.

use std::panic::{catch_unwind, AssertUnwindSafe};

use inframind_core::Error;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, made once per interpreter.
pub(crate) struct Classes {
    pub(crate) base: Py<PyType>,
    pub(crate) invalid_input: Py<PyType>,
    pub(crate) model: Py<PyType>,
    pub(crate) policy: Py<PyType>,
    pub(crate) store: Py<PyType>,
    pub(crate) collector: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn make_class(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyAny>>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "inframind")?;
    ns.set_item("__doc__", doc)?;
    ns.set_item("field", py.None())?;
    let class =
        py.import("builtins")?
            .getattr("type")?
            .call1((name, PyTuple::new(py, bases)?, ns))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

/// The exception classes (made on first use).
pub(crate) fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let base = make_class(
            py,
            "InframindError",
            vec![py.get_type::<PyException>().into_any()],
            "Base class of every error raised by inframind.\n\n`field` names the input field \
             at fault when there is one, else None.",
        )?;
        let sub = |name: &str, extra: Option<Bound<'_, PyAny>>, doc: &str| {
            let mut bases = vec![base.bind(py).clone().into_any()];
            bases.extend(extra);
            make_class(py, name, bases, doc)
        };
        Ok(Classes {
            invalid_input: sub(
                "InvalidInputError",
                Some(py.get_type::<PyValueError>().into_any()),
                "A run, context, config, array or parameter is invalid; the message names the \
                 field and the value. Also a ValueError.",
            )?,
            model: sub(
                "ModelError",
                None,
                "A model cannot be used: corrupt or foreign model bytes, or a feature schema \
                 other than the one it was trained on.",
            )?,
            policy: sub(
                "PolicyError",
                None,
                "A remediation policy (or a label matcher or log pattern in it) is invalid; \
                 nothing of the policy file was loaded.",
            )?,
            store: sub(
                "StoreError",
                None,
                "A model store cannot do what was asked: nothing stored, or no stored version \
                 decodes.",
            )?,
            collector: sub(
                "CollectorError",
                None,
                "A collector cannot read what it measures (/proc, a cache tool's statistics).",
            )?,
            base,
        })
    })
}

/// Which family an operation belongs to: decides the class of errors whose variant alone does
/// not say (`NotEnoughData`, `Format`, variants added later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Input,
    Model,
    Store,
    Policy,
    Collector,
}

fn raise(py: Python<'_>, class: &Py<PyType>, message: String, field: Option<String>) -> PyErr {
    let made = class.bind(py).call1((message.clone(),)).and_then(|value| {
        if let Some(f) = field {
            value.setattr("field", f)?;
        }
        Ok(value)
    });
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

/// An error raised by the bindings themselves about an input (a dict that does not fit, a
/// negative count), as `InvalidInputError`.
pub(crate) fn invalid_input(py: Python<'_>, field: Option<&str>, message: String) -> PyErr {
    match classes(py) {
        Ok(c) => raise(py, &c.invalid_input, message, field.map(str::to_string)),
        Err(e) => e,
    }
}

/// An error of `family` raised by the bindings themselves.
pub(crate) fn family_error(py: Python<'_>, family: Family, message: String) -> PyErr {
    match classes(py) {
        Ok(c) => raise(py, family_class(c, family), message, None),
        Err(e) => e,
    }
}

fn family_class(c: &Classes, family: Family) -> &Py<PyType> {
    match family {
        Family::Input => &c.invalid_input,
        Family::Model => &c.model,
        Family::Store => &c.store,
        Family::Policy => &c.policy,
        Family::Collector => &c.collector,
    }
}

/// Converts a core error into the Python exception of its family.
pub(crate) fn core_error(py: Python<'_>, e: Error, family: Family) -> PyErr {
    let c = match classes(py) {
        Ok(c) => c,
        Err(err) => return err,
    };
    let message = e.to_string();
    match e {
        Error::Io { op, path, source } => os_error(py, op, &path, &source, message),
        Error::InvalidField { field, .. } => raise(py, &c.invalid_input, message, Some(field)),
        Error::InvalidParams { param, .. } => {
            raise(py, &c.invalid_input, message, Some(param.to_string()))
        }
        Error::Payload { field, .. } => raise(py, &c.invalid_input, message, Some(field)),
        Error::Json { .. } | Error::FeatureCount { .. } | Error::NoSafeConfig(_) => {
            raise(py, &c.invalid_input, message, None)
        }
        Error::SchemaMismatch { .. } => raise(py, &c.model, message, None),
        Error::Policy { field, .. } => raise(py, &c.policy, message, Some(field)),
        Error::Pattern { .. } | Error::Matcher { .. } => raise(py, &c.policy, message, None),
        Error::Collector { .. } | Error::CacheStats { .. } => {
            raise(py, &c.collector, message, None)
        }
        Error::ProcessNotFound { .. } => {
            raise(py, &c.invalid_input, message, Some("pid".to_string()))
        }
        Error::Format { .. } if family == Family::Input => raise(py, &c.model, message, None),
        _ => raise(py, family_class(c, family), message, None),
    }
}

/// `OSError(errno, strerror, filename)` picks the subclass from the errno
/// (`FileNotFoundError`, `PermissionError`...), as Python's own I/O does.
fn os_error(
    py: Python<'_>,
    op: &str,
    path: &std::path::Path,
    source: &std::io::Error,
    message: String,
) -> PyErr {
    let filename = path.display().to_string();
    let made = match source.raw_os_error() {
        Some(errno) => {
            py.get_type::<PyOSError>()
                .call1((errno, format!("{op}: {source}"), filename))
        }
        None => {
            use std::io::ErrorKind;
            let class = match source.kind() {
                ErrorKind::NotFound => py.get_type::<pyo3::exceptions::PyFileNotFoundError>(),
                ErrorKind::PermissionDenied => py.get_type::<pyo3::exceptions::PyPermissionError>(),
                ErrorKind::AlreadyExists => py.get_type::<pyo3::exceptions::PyFileExistsError>(),
                _ => py.get_type::<PyOSError>(),
            };
            class.call1((message,)).and_then(|v| {
                v.setattr("filename", filename)?;
                Ok(v)
            })
        }
    };
    match made {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// Extension: `.py_err(py, family)` on core results.
pub(crate) trait CoreResultExt<T> {
    /// Converts the error into the Python exception of its family.
    fn py_err(self, py: Python<'_>, family: Family) -> PyResult<T>;
}

impl<T> CoreResultExt<T> for inframind_core::Result<T> {
    fn py_err(self, py: Python<'_>, family: Family) -> PyResult<T> {
        self.map_err(|e| core_error(py, e, family))
    }
}

/// Runs `f`, turning a Rust panic into `InframindError` instead of pyo3's `PanicException`
/// (a `BaseException` that `except Exception` would not catch). Every entry point goes through
/// this, so no panic reaches Python as anything but an `InframindError`.
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            let message = format!(
                "internal error (a bug in inframind; please report it with the input): {what}"
            );
            Err(match classes(py) {
                Ok(c) => raise(py, &c.base, message, None),
                Err(e) => e,
            })
        }
    }
}
