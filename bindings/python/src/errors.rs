//! Core errors as Python exceptions, by the core's [`ErrorKind`].
//!
//! The classes are plain Python (`inframind/exceptions.py`), and so is the one map from a
//! kind's name to its class (`KIND_CLASSES`): this module only looks the class up, so Python
//! code, its stubs and its docs see the same classes the bindings raise. The core's message is
//! passed through unchanged; every exception made from a core error also carries `kind` (the
//! kind's name) and `field` (the input field at fault, or None), so a web handler can answer
//! `{"error": {"field": ...}}` without parsing text.

use std::panic::{catch_unwind, AssertUnwindSafe};

use inframind_core::{Error, ErrorKind};
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyOSError, PyPermissionError, PyProcessLookupError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// The Python module holding the classes and the map.
const EXCEPTIONS_MODULE: &str = "inframind.exceptions";

/// The exception classes, looked up once per interpreter.
pub(crate) struct Classes {
    /// `InframindError`: panics, and kinds the map does not know.
    base: Py<PyType>,
    /// `InvalidInputError`: the bindings' own complaints about their arguments.
    invalid_input: Py<PyType>,
    /// `KIND_CLASSES`, resolved for every kind the core has.
    by_kind: Vec<(ErrorKind, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// The exception classes (imported from `inframind.exceptions` on first use).
pub(crate) fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let module = py.import(EXCEPTIONS_MODULE)?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        let map = module.getattr("KIND_CLASSES")?.cast_into::<PyDict>()?;
        let mut by_kind = Vec::with_capacity(ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            if let Some(c) = map.get_item(kind.as_str())? {
                by_kind.push((kind, c.cast_into::<PyType>()?.unbind()));
            }
        }
        Ok(Classes {
            base: class("InframindError")?,
            invalid_input: class("InvalidInputError")?,
            by_kind,
        })
    })
}

impl Classes {
    fn for_kind(&self, kind: ErrorKind) -> &Py<PyType> {
        self.by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&self.base, |(_, c)| c)
    }
}

/// Sets `kind` and `field` on a made exception and turns it into a `PyErr`.
fn finish(made: PyResult<Bound<'_, PyAny>>, kind: Option<ErrorKind>, field: Option<&str>) -> PyErr {
    let made = made.and_then(|value| {
        if let Some(kind) = kind {
            value.setattr("kind", kind.as_str())?;
        }
        value.setattr("field", field)?;
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
        Ok(c) => finish(
            c.invalid_input.bind(py).call1((message,)),
            Some(ErrorKind::InvalidInput),
            field,
        ),
        Err(e) => e,
    }
}

/// Converts a core error into the exception `KIND_CLASSES` names for its kind; file-system
/// errors become the `OSError` subclass of their errno, a missing process a
/// `ProcessLookupError`.
pub(crate) fn core_error(py: Python<'_>, e: Error) -> PyErr {
    let c = match classes(py) {
        Ok(c) => c,
        Err(err) => return err,
    };
    let kind = e.kind();
    let field = e.field().map(str::to_string);
    let message = e.to_string();
    let made = match e {
        Error::Io { op, path, source } => os_error(py, op, &path, &source, message),
        Error::ProcessNotFound { .. } => py.get_type::<PyProcessLookupError>().call1((message,)),
        _ => c.for_kind(kind).bind(py).call1((message,)),
    };
    finish(made, Some(kind), field.as_deref())
}

/// `OSError(errno, strerror, filename)` picks the subclass from the errno
/// (`FileNotFoundError`, `PermissionError`...), as Python's own I/O does.
fn os_error<'py>(
    py: Python<'py>,
    op: &str,
    path: &std::path::Path,
    source: &std::io::Error,
    message: String,
) -> PyResult<Bound<'py, PyAny>> {
    let filename = path.display().to_string();
    match source.raw_os_error() {
        Some(errno) => {
            py.get_type::<PyOSError>()
                .call1((errno, format!("{op}: {source}"), filename))
        }
        None => {
            use std::io::ErrorKind;
            let class = match source.kind() {
                ErrorKind::NotFound => py.get_type::<PyFileNotFoundError>(),
                ErrorKind::PermissionDenied => py.get_type::<PyPermissionError>(),
                ErrorKind::AlreadyExists => py.get_type::<PyFileExistsError>(),
                _ => py.get_type::<PyOSError>(),
            };
            class.call1((message,)).and_then(|v| {
                v.setattr("filename", filename)?;
                Ok(v)
            })
        }
    }
}

/// Extension: `.py_err(py)` on core results.
pub(crate) trait CoreResultExt<T> {
    /// Converts the error into the Python exception of its kind.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> CoreResultExt<T> for inframind_core::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| core_error(py, e))
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
            match classes(py) {
                Ok(c) => Err(finish(c.base.bind(py).call1((message,)), None, None)),
                Err(e) => Err(e),
            }
        }
    }
}
