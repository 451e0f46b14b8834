//! The one error type of `inframind-core`.
//!
//! Every variant carries what a caller needs to fix the input: which field, which value,
//! which limit. Messages are written for the person who sent the input, not for us.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `inframind-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of a run, step, config or context holds a value the model cannot use.
    #[error("invalid {field} = {value}: {reason}")]
    InvalidField {
        /// Dotted path of the field, e.g. `steps[2].duration_s`.
        field: String,
        /// The offending value as written.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },

    /// A hyperparameter is out of range.
    #[error("invalid hyperparameter {param} = {value}: {reason}")]
    InvalidParams {
        /// Parameter name, e.g. `n_trees`.
        param: &'static str,
        /// The offending value.
        value: String,
        /// The accepted range.
        reason: String,
    },

    /// There is not enough data to do what was asked.
    #[error("not enough data: {0}")]
    NotEnoughData(String),

    /// The features given to a model were computed with another feature schema.
    #[error(
        "feature schema mismatch: the model was trained on schema {expected} but the features \
         come from schema {found}; retrain the model with this version of inframind"
    )]
    SchemaMismatch {
        /// Fingerprint recorded in the model.
        expected: String,
        /// Fingerprint of the offered features.
        found: String,
    },

    /// A row has the wrong number of features.
    #[error("expected {expected} features per row, got {found}")]
    FeatureCount {
        /// Number of features the model was trained on.
        expected: usize,
        /// Number offered.
        found: usize,
    },

    /// A serialized model (or other stored artefact) cannot be decoded.
    #[error("cannot decode {what}: {reason}")]
    Format {
        /// What was being decoded, e.g. `model file /x/v3.imrf`.
        what: String,
        /// Why it failed: truncated, bad checksum, unknown version...
        reason: String,
    },

    /// No configuration satisfies the safety guards within the declared capacity.
    #[error("no safe configuration: {0}")]
    NoSafeConfig(String),

    /// A model store holds no usable model for a pipeline: none was saved, or no stored
    /// version decodes.
    #[error("no usable model for pipeline {pipeline:?}: {detail}")]
    NotStored {
        /// The pipeline asked for.
        pipeline: String,
        /// `no model stored`, or which versions failed to decode and why.
        detail: String,
    },

    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted: `read`, `write`, `rename`, `list`...
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// JSON input could not be parsed into the expected shape.
    #[error("invalid JSON for {what}: {source}")]
    Json {
        /// What was being parsed, e.g. `build run`.
        what: &'static str,
        /// The underlying error, which names line, column and field.
        #[source]
        source: serde_json::Error,
    },

    /// A remediation policy is invalid. Nothing of the policy file was loaded.
    #[error("policy {policy:?}: invalid {field}: {reason}")]
    Policy {
        /// Name of the policy (or its index when it has no name).
        policy: String,
        /// Field at fault, e.g. `condition.matchers[1]`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// An Alertmanager webhook payload is malformed.
    #[error("invalid alert payload: {field}: {reason}")]
    Payload {
        /// Field at fault, e.g. `alerts[0].startsAt`.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// A log-classification pattern is invalid.
    #[error("invalid pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern's name or text.
        pattern: String,
        /// What is wrong.
        reason: String,
    },

    /// An Alertmanager label matcher (`name="value"`, `name=~"regex"`...) cannot be parsed.
    #[error("invalid matcher {matcher:?} at byte {position}: {reason}")]
    Matcher {
        /// The matcher text as written.
        matcher: String,
        /// Byte offset in `matcher` where the problem starts.
        position: usize,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A collector could not read what it measures.
    #[error("collector {source_name}: {reason}")]
    Collector {
        /// What was read, e.g. `/proc/stat`.
        source_name: String,
        /// Why it failed.
        reason: String,
    },

    /// The process whose tree should be watched does not exist (or is not a process).
    #[error(
        "no process with pid {pid}: {reason}; pass the pid of a running build \
         (e.g. `$!` right after starting it in the background)"
    )]
    ProcessNotFound {
        /// The pid that was asked for.
        pid: i32,
        /// Why it is not usable: exited, never existed, is a thread...
        reason: String,
    },

    /// A build-cache tool (ccache, sccache) gave statistics that cannot be read.
    #[error("cannot read {tool} statistics: {reason}")]
    CacheStats {
        /// `ccache` or `sccache`.
        tool: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// The family of an [`Error`]: what a caller branches on, and what each host maps to its own
/// codes (a C status, a Python exception class, an HTTP status) in one place.
///
/// The message says what went wrong; the kind only says what sort of thing it is, so it stays
/// stable when messages are reworded or variants are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A run, step, config, context, parameter, row or JSON document the caller sent is
    /// invalid; [`Error::field`] names the field when there is one.
    InvalidInput,
    /// Too few (usable) runs to do what was asked, e.g. to train a model.
    NotEnoughData,
    /// No configuration satisfies the safety guards, even at one job.
    NoSafeConfig,
    /// A model cannot be used: corrupt or foreign bytes, or another feature schema.
    Model,
    /// A model store holds no usable model for the pipeline.
    NotStored,
    /// A file, folder or process that was named does not exist.
    NotFound,
    /// Another operating-system error (permissions, a full disk...).
    Io,
    /// A remediation policy, label matcher or log pattern is invalid.
    Policy,
    /// A collector cannot read what it measures (`/proc`, a cache tool's statistics).
    Collector,
}

impl ErrorKind {
    /// Every kind, in declaration order (for hosts' tables and their tests).
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::InvalidInput,
        ErrorKind::NotEnoughData,
        ErrorKind::NoSafeConfig,
        ErrorKind::Model,
        ErrorKind::NotStored,
        ErrorKind::NotFound,
        ErrorKind::Io,
        ErrorKind::Policy,
        ErrorKind::Collector,
    ];

    /// The kind's stable snake_case name, e.g. `invalid_input` (used in the REST API's error
    /// `code` and in the hosts' mapping tables).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotEnoughData => "not_enough_data",
            ErrorKind::NoSafeConfig => "no_safe_config",
            ErrorKind::Model => "model",
            ErrorKind::NotStored => "not_stored",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Io => "io",
            ErrorKind::Policy => "policy",
            ErrorKind::Collector => "collector",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_field(
                    "kind",
                    format!("{s:?}"),
                    "must be one of invalid_input, not_enough_data, no_safe_config, model, \
                     not_stored, not_found, io, policy, collector",
                )
            })
    }
}

impl Error {
    /// The family of this error: the one thing hosts and callers branch on.
    ///
    /// ```
    /// use inframind_core::{Error, ErrorKind};
    /// let e = Error::invalid_field("duration_s", -1, "must be 0 or more");
    /// assert_eq!(e.kind(), ErrorKind::InvalidInput);
    /// assert_eq!(e.field(), Some("duration_s"));
    /// assert_eq!(Error::NoSafeConfig("...".into()).kind(), ErrorKind::NoSafeConfig);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidField { .. }
            | Error::InvalidParams { .. }
            | Error::FeatureCount { .. }
            | Error::Json { .. }
            | Error::Payload { .. } => ErrorKind::InvalidInput,
            Error::NotEnoughData(_) => ErrorKind::NotEnoughData,
            Error::NoSafeConfig(_) => ErrorKind::NoSafeConfig,
            Error::SchemaMismatch { .. } | Error::Format { .. } => ErrorKind::Model,
            Error::NotStored { .. } => ErrorKind::NotStored,
            Error::ProcessNotFound { .. } => ErrorKind::NotFound,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } => ErrorKind::Io,
            Error::Policy { .. } | Error::Pattern { .. } | Error::Matcher { .. } => {
                ErrorKind::Policy
            }
            Error::Collector { .. } | Error::CacheStats { .. } => ErrorKind::Collector,
        }
    }

    /// The input field at fault, when the error names one: `steps[2].duration_s`, a
    /// hyperparameter such as `n_trees`, a policy's `condition.matchers[1]`, an alert payload's
    /// `alerts[0].startsAt`, or `pid` for a process that does not exist.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidField { field, .. }
            | Error::Policy { field, .. }
            | Error::Payload { field, .. } => Some(field),
            Error::InvalidParams { param, .. } => Some(param),
            Error::ProcessNotFound { .. } => Some("pid"),
            _ => None,
        }
    }

    /// Puts `prefix.` in front of the field of an [`Error::InvalidField`] (so a step's error
    /// names `history[3].steps[0].duration_s`); other errors, and an empty prefix, pass as they
    /// are.
    ///
    /// ```
    /// use inframind_core::Error;
    /// let e = Error::invalid_field("duration_s", -1, "must be 0 or more").prefixed("history[3]");
    /// assert_eq!(e.to_string(), "invalid history[3].duration_s = -1: must be 0 or more");
    /// ```
    pub fn prefixed(self, prefix: &str) -> Self {
        match self {
            Error::InvalidField {
                field,
                value,
                reason,
            } if !prefix.is_empty() => Error::InvalidField {
                field: format!("{prefix}.{field}"),
                value,
                reason,
            },
            other => other,
        }
    }

    /// Shorthand for [`Error::InvalidField`].
    pub fn invalid_field(
        field: impl Into<String>,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidField {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Format {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Error::NotEnoughData(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hosts' mapping table lists every kind once, in `ErrorKind::ALL` order, by its name.
    #[test]
    fn the_hosts_table_lists_every_kind_in_order() {
        let table = include_str!("../tests/data/error_kinds.tsv");
        let kinds: Vec<&str> = table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .skip(1)
            .map(|l| l.split('\t').next().unwrap_or(""))
            .collect();
        let expected: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, expected);
        for k in ErrorKind::ALL {
            assert_eq!(k.as_str().parse::<ErrorKind>().ok(), Some(k));
        }
    }

    #[test]
    fn io_errors_sort_by_what_the_os_said() {
        let missing = Error::io("read", "/x", std::io::ErrorKind::NotFound.into());
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let denied = Error::io("read", "/x", std::io::ErrorKind::PermissionDenied.into());
        assert_eq!(denied.kind(), ErrorKind::Io);
        let pid = Error::ProcessNotFound {
            pid: 1,
            reason: "exited".into(),
        };
        assert_eq!(
            (pid.kind(), pid.field()),
            (ErrorKind::NotFound, Some("pid"))
        );
        let count = Error::FeatureCount {
            expected: 3,
            found: 2,
        };
        assert_eq!(count.kind(), ErrorKind::InvalidInput);
    }
}
