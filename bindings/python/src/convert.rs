//! Python objects <-> the core's serde types, with the core's field names.
//!
//! `pythonize` walks the Python objects directly (no JSON text in between);
//! `serde_path_to_error` records where a value did not fit, so the error names the field
//! (`history[3].config.concurrency`).

use pyo3::prelude::*;
use pythonize::{depythonize, pythonize, Depythonizer};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::errors::invalid_input;

/// Joins a prefix (`history`, `context`) and a serde path (`[3].config`, `.`).
fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path) {
        (true, ".") => String::new(),
        (false, ".") => prefix.to_string(),
        (true, p) => p.trim_start_matches('.').to_string(),
        (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
        (false, p) => format!("{prefix}.{p}"),
    }
}

/// Deserializes `obj` into `T`. `what` names the value for people (`run`, `history`), `prefix`
/// starts the field path (`history`, `context`, or empty for a top-level run).
///
/// The first pass does not track paths (it is the hot path: a request's whole history goes
/// through it); only when it fails does a second pass find the field to name.
pub(crate) fn from_py<T: DeserializeOwned>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    prefix: &str,
) -> PyResult<T> {
    match depythonize::<T>(obj) {
        Ok(v) => Ok(v),
        Err(_) => Err(describe_failure::<T>(obj, what, prefix)),
    }
}

fn describe_failure<T: DeserializeOwned>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    prefix: &str,
) -> PyErr {
    let py = obj.py();
    let mut de = Depythonizer::from_object(obj);
    let e = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // A failure that does not repeat (the object changed in between): say so plainly.
        Ok(_) => {
            return invalid_input(
                py,
                None,
                format!("invalid {what}: changed while it was read"),
            )
        }
        Err(e) => e,
    };
    let mut field = join(prefix, &e.path().to_string());
    let reason = e.into_inner().to_string();
    // serde reports a missing field at the struct; name the field itself.
    if let Some(name) = reason
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        field = join(&field, name);
    }
    let message = if field.is_empty() {
        format!("invalid {what}: {reason}")
    } else {
        format!("invalid {what}: {field}: {reason}")
    };
    invalid_input(py, (!field.is_empty()).then_some(field.as_str()), message)
}

/// Serializes `value` into Python objects (dicts, lists, str, int, float, None).
pub(crate) fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize(py, value).map_err(|e| {
        invalid_input(
            py,
            None,
            format!("cannot convert a result to Python objects: {e}"),
        )
    })
}
