//! What a command reports when it fails, and the one place error kinds become exit codes.

use std::fmt;
use std::path::Path;

use inframind_core::{Error, ErrorKind};

/// Exit status of a successful command.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status when the command could not do its work (I/O, a corrupt model, too little data).
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit status for a usage error or bad input (clap uses it for bad flags too).
pub(crate) const EXIT_USAGE: u8 = 2;

/// The exit status for an error of `kind`. Every failure goes through here, so the command
/// line and its documentation cannot disagree about what a status means.
pub(crate) fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        // The user can fix these by changing what they passed.
        ErrorKind::InvalidInput | ErrorKind::Policy | ErrorKind::NotFound => EXIT_USAGE,
        ErrorKind::NotEnoughData
        | ErrorKind::NoSafeConfig
        | ErrorKind::Model
        | ErrorKind::NotStored
        | ErrorKind::Io
        | ErrorKind::Collector => EXIT_RUNTIME,
        // `ErrorKind` is non-exhaustive: a kind added later is a runtime failure until it is
        // placed deliberately.
        _ => EXIT_RUNTIME,
    }
}

/// A failed command: the kind of error (for the exit status) and the message for the user.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl Failure {
    /// Bad input found by the command line itself (a flag value, a missing variable).
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Failure {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        }
    }

    /// A file-system error on `path`, sorted by what the OS said (missing file or not).
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
        .into()
    }

    /// The same error, its message prefixed with where it happened.
    pub(crate) fn context(self, at: impl fmt::Display) -> Self {
        Failure {
            kind: self.kind,
            message: format!("{at}: {}", self.message),
        }
    }

    pub(crate) fn exit_code(&self) -> u8 {
        exit_code(self.kind)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result of a command.
pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_status_and_bad_input_is_two() {
        for kind in ErrorKind::ALL {
            let code = exit_code(kind);
            assert!(code == EXIT_RUNTIME || code == EXIT_USAGE, "{kind}");
        }
        assert_eq!(exit_code(ErrorKind::InvalidInput), EXIT_USAGE);
        assert_eq!(exit_code(ErrorKind::Policy), EXIT_USAGE);
        assert_eq!(exit_code(ErrorKind::Io), EXIT_RUNTIME);
        assert_eq!(exit_code(ErrorKind::NotEnoughData), EXIT_RUNTIME);
    }

    #[test]
    fn a_missing_file_is_bad_input_and_a_denied_one_a_runtime_failure() {
        let missing = Failure::io("read", Path::new("x"), std::io::ErrorKind::NotFound.into());
        assert_eq!(missing.exit_code(), EXIT_USAGE);
        let denied = Failure::io(
            "read",
            Path::new("x"),
            std::io::ErrorKind::PermissionDenied.into(),
        );
        assert_eq!(denied.exit_code(), EXIT_RUNTIME);
    }
}
