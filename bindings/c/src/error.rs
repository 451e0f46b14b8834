//! The one error type of the C ABI, and how each error maps to an [`im_status`].

use inframind_core::ErrorKind;

use crate::status::im_status;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an `im_*` call can fail with. The message is what lands in the caller's `err`
/// buffer; [`Error::status`] is the code the call returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required pointer argument was NULL.
    #[error("argument `{0}` is NULL: pass a valid pointer")]
    NullArgument(&'static str),

    /// A text argument is not UTF-8.
    #[error("argument `{arg}` is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// Name of the argument.
        arg: &'static str,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },

    /// A JSON argument does not have the expected shape (parsed here, not by the core).
    #[error("argument `{arg}`: invalid JSON for {what}{at}: {reason}")]
    Json {
        /// Name of the argument.
        arg: &'static str,
        /// What was expected, e.g. `a list of build runs`.
        what: &'static str,
        /// Where in the document, e.g. ` at [3].config.cpu_cores` (empty at the root).
        at: String,
        /// The parser's message (with line and column).
        reason: String,
    },

    /// The core refused the input (or failed); the message is the core's, which names the
    /// field and value.
    #[error("{0}")]
    Core(#[from] inframind_core::Error),

    /// The output buffer cannot hold the text and its NUL.
    #[error(
        "output buffer of {given} bytes is too small: the text needs {needed} bytes plus the \
         NUL; call again with buf_len >= {}", needed + 1
    )]
    BufferTooSmall {
        /// `buf_len` as given.
        given: usize,
        /// Bytes of text (without the NUL).
        needed: usize,
    },

    /// An argument is out of range.
    #[error("argument `{arg}` = {value}: {reason}")]
    InvalidArgument {
        /// Name of the argument.
        arg: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        reason: String,
    },

    /// The call needs something this build or this state does not have.
    #[error("{0}")]
    Unsupported(String),

    /// A collector output was asked for before any sample was taken.
    #[error("{0}")]
    NoData(String),

    /// Output that could not be rendered: a bug, never the caller's fault.
    #[error("internal error (a bug in libinframind, please report it): {0}")]
    Internal(String),

    /// A panic inside the library, caught at the boundary.
    #[error("internal error (a bug in libinframind, please report it): panic: {0}")]
    Panic(String),
}

impl Error {
    /// The status code a call failing with this error returns.
    pub fn status(&self) -> im_status {
        match self {
            Error::NullArgument(_) => im_status::IM_STATUS_NULL_ARGUMENT,
            Error::NotUtf8 { .. }
            | Error::Json { .. }
            | Error::InvalidArgument { .. }
            | Error::NoData(_) => im_status::IM_STATUS_INVALID_INPUT,
            Error::Core(source) => core_status(source),
            Error::BufferTooSmall { .. } => im_status::IM_STATUS_BUFFER_TOO_SMALL,
            Error::Unsupported(_) => im_status::IM_STATUS_UNSUPPORTED,
            Error::Internal(_) | Error::Panic(_) => im_status::IM_STATUS_PANIC,
        }
    }
}

/// The status of a core error: the status of its kind.
fn core_status(e: &inframind_core::Error) -> im_status {
    status_of_kind(e.kind())
}

/// The status a C call returns for a core error of `kind`: the `c_status` column of
/// `inframind-core/tests/data/error_kinds.tsv`, which every host's tests check their map against.
pub fn status_of_kind(kind: ErrorKind) -> im_status {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Policy => im_status::IM_STATUS_INVALID_INPUT,
        ErrorKind::NotEnoughData => im_status::IM_STATUS_NOT_ENOUGH_DATA,
        ErrorKind::NoSafeConfig => im_status::IM_STATUS_NO_SAFE_CONFIG,
        ErrorKind::Model => im_status::IM_STATUS_MODEL,
        // A store with no usable model for the pipeline is, to a C caller, a model not found.
        ErrorKind::NotStored | ErrorKind::NotFound => im_status::IM_STATUS_NOT_FOUND,
        // /proc or a cache tool that cannot be read is the machine's problem, as an OS error is.
        ErrorKind::Io | ErrorKind::Collector => im_status::IM_STATUS_IO,
        // A kind the core added after this map was written. Every status above tells the caller
        // what to do (fix the input, look for the file, wait for more runs...), and a guess
        // could send it the wrong way, e.g. discarding good input as invalid. IM_STATUS_PANIC
        // claims only that the library is at fault, which it is (this map lags the core), so
        // the caller reports it. tests/error_kinds.rs fails the build before that can ship.
        _ => im_status::IM_STATUS_PANIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_their_family() {
        use inframind_core::Error as E;
        use std::collections::HashSet;
        use std::io::ErrorKind as Os;

        let io = |kind: Os| E::Io {
            op: "read",
            path: "/nope".into(),
            source: std::io::Error::from(kind),
        };
        let json = serde_json::from_str::<u32>("x").map(|_| ()).unwrap_err();
        // One real error of every variant the core has, with the status a C caller gets.
        let cases = [
            (
                E::invalid_field("duration_s", -1, "must be >= 0"),
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::InvalidParams {
                    param: "n_trees",
                    value: "0".into(),
                    reason: "must be 1 or more".into(),
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::FeatureCount {
                    expected: 3,
                    found: 2,
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::Json {
                    what: "build run",
                    source: json,
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::Payload {
                    field: "alerts[0].startsAt".into(),
                    reason: "not a time".into(),
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::NotEnoughData("training needs at least 8 successful runs".into()),
                im_status::IM_STATUS_NOT_ENOUGH_DATA,
            ),
            (
                E::NoSafeConfig("x".into()),
                im_status::IM_STATUS_NO_SAFE_CONFIG,
            ),
            (
                E::Format {
                    what: "model".into(),
                    reason: "bad magic".into(),
                },
                im_status::IM_STATUS_MODEL,
            ),
            (
                E::SchemaMismatch {
                    expected: "a".into(),
                    found: "b".into(),
                },
                im_status::IM_STATUS_MODEL,
            ),
            (
                E::NotStored {
                    pipeline: "p".into(),
                    detail: "no model stored".into(),
                },
                im_status::IM_STATUS_NOT_FOUND,
            ),
            (io(Os::NotFound), im_status::IM_STATUS_NOT_FOUND),
            (
                E::ProcessNotFound {
                    pid: 1,
                    reason: "exited".into(),
                },
                im_status::IM_STATUS_NOT_FOUND,
            ),
            (io(Os::PermissionDenied), im_status::IM_STATUS_IO),
            (
                E::Policy {
                    policy: "restart".into(),
                    field: "action.tool".into(),
                    reason: "unknown tool".into(),
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::Pattern {
                    pattern: "oom".into(),
                    reason: "bad regex".into(),
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::Matcher {
                    matcher: "a=".into(),
                    position: 2,
                    reason: "no value".into(),
                },
                im_status::IM_STATUS_INVALID_INPUT,
            ),
            (
                E::Collector {
                    source_name: "/proc/stat".into(),
                    reason: "unreadable".into(),
                },
                im_status::IM_STATUS_IO,
            ),
            (
                E::CacheStats {
                    tool: "ccache",
                    reason: "no output".into(),
                },
                im_status::IM_STATUS_IO,
            ),
        ];
        let mut kinds = HashSet::new();
        for (core, want) in cases {
            kinds.insert(core.kind());
            let message = core.to_string();
            let e = Error::from(core);
            assert_eq!(e.status(), want, "{message}");
            assert_eq!(e.to_string(), message, "the message is the core's");
        }
        for kind in ErrorKind::ALL {
            assert!(kinds.contains(&kind), "no case of kind {kind}");
        }
    }

    #[test]
    fn buffer_message_says_how_big() {
        let e = Error::BufferTooSmall {
            given: 4,
            needed: 10,
        };
        assert_eq!(
            e.to_string(),
            "output buffer of 4 bytes is too small: the text needs 10 bytes plus the NUL; call \
             again with buf_len >= 11"
        );
    }
}
