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

impl Error {
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
