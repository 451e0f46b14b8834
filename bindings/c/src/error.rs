//! The one error type of the C ABI, and how each error maps to an [`im_status`].

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
    #[error("{prefix}{source}")]
    Core {
        /// Where the input came from, e.g. `history[3]: ` (may be empty).
        prefix: String,
        /// The core's error.
        #[source]
        source: inframind_core::Error,
    },

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

impl From<inframind_core::Error> for Error {
    fn from(source: inframind_core::Error) -> Self {
        Error::Core {
            prefix: String::new(),
            source,
        }
    }
}

impl Error {
    /// The core's error with where it came from in front of its message.
    pub fn core_at(prefix: impl Into<String>, source: inframind_core::Error) -> Self {
        Error::Core {
            prefix: prefix.into(),
            source,
        }
    }

    /// The status code a call failing with this error returns.
    pub fn status(&self) -> im_status {
        match self {
            Error::NullArgument(_) => im_status::IM_STATUS_NULL_ARGUMENT,
            Error::NotUtf8 { .. }
            | Error::Json { .. }
            | Error::InvalidArgument { .. }
            | Error::NoData(_) => im_status::IM_STATUS_INVALID_INPUT,
            Error::Core { source, .. } => core_status(source),
            Error::BufferTooSmall { .. } => im_status::IM_STATUS_BUFFER_TOO_SMALL,
            Error::Unsupported(_) => im_status::IM_STATUS_UNSUPPORTED,
            Error::Internal(_) | Error::Panic(_) => im_status::IM_STATUS_PANIC,
        }
    }
}

/// The status of a core error. The core's error says what went wrong; this only sorts it into
/// the families a C caller branches on.
fn core_status(e: &inframind_core::Error) -> im_status {
    use inframind_core::Error as E;
    match e {
        E::SchemaMismatch { .. } | E::FeatureCount { .. } | E::Format { .. } => {
            im_status::IM_STATUS_MODEL
        }
        E::NoSafeConfig(_) => im_status::IM_STATUS_NO_SAFE_CONFIG,
        E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            im_status::IM_STATUS_NOT_FOUND
        }
        E::Io { .. } => im_status::IM_STATUS_IO,
        E::ProcessNotFound { .. } => im_status::IM_STATUS_NOT_FOUND,
        // /proc or a cache tool could not be read: the machine, not the caller's input.
        E::Collector { .. } | E::CacheStats { .. } => im_status::IM_STATUS_IO,
        // InvalidField, InvalidParams, NotEnoughData, Json, Policy, Payload, Pattern, Matcher,
        // and whatever the core adds later: the input is at fault.
        _ => im_status::IM_STATUS_INVALID_INPUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_their_family() {
        use inframind_core::Error as E;
        let io_missing = E::Io {
            op: "read",
            path: "/nope".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            Error::from(io_missing).status(),
            im_status::IM_STATUS_NOT_FOUND
        );
        let io_denied = E::Io {
            op: "read",
            path: "/root".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(Error::from(io_denied).status(), im_status::IM_STATUS_IO);
        assert_eq!(
            Error::from(E::NoSafeConfig("x".into())).status(),
            im_status::IM_STATUS_NO_SAFE_CONFIG
        );
        let format = E::Format {
            what: "model".into(),
            reason: "bad magic".into(),
        };
        assert_eq!(Error::from(format).status(), im_status::IM_STATUS_MODEL);
        assert_eq!(
            Error::from(E::invalid_field("duration_s", -1, "must be >= 0")).status(),
            im_status::IM_STATUS_INVALID_INPUT
        );
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
