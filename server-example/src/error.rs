//! The one error type of the server and its JSON shape.
//!
//! Every error a client sees has the shape of the REST API contract:
//! `{"error": {"code": "invalid_input", "message": "...", "field": "context.num_steps"}}`,
//! with 422 for invalid input, 401, 404 for an unknown run, 409 for a conflicting state, 413,
//! 503 when the database is unreachable and 500 for the rest.
//!
//! The core's errors are answered by their [`ErrorKind`] alone, in one match (`From` below),
//! as the hosts' table `inframind-core/tests/data/error_kinds.tsv` says: 422 `invalid_input`
//! for invalid input and invalid policies, 409 `not_enough_data`, 422 `no_safe_config`, 500
//! `internal` for the rest.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use inframind_core::ErrorKind;
use serde::Serialize;

/// Seconds a client is told to wait (`Retry-After`) before retrying a 503: long enough not to
/// hammer a database that is coming back, short enough that clients resume soon after it does.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Result alias of the server.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The request body or one of its fields is invalid (422).
    #[error("{message}")]
    InvalidInput {
        /// What is wrong and how to fix it.
        message: String,
        /// Dotted path of the field at fault, when one is.
        field: Option<String>,
    },
    /// No or a wrong token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The run (or policy) does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the stored state (409).
    #[error("{0}")]
    Conflict(String),
    /// Too few (usable) runs to do what was asked (409).
    #[error("{0}")]
    NotEnoughData(String),
    /// No configuration satisfies the safety guards within the declared capacity (422).
    #[error("{0}")]
    NoSafeConfig(String),
    /// The body is larger than the server accepts (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request took longer than the server's request timeout (408).
    #[error("{0}")]
    Timeout(String),
    /// The database cannot be reached (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure (500). The message never carries secrets.
    #[error("{0}")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'static str,
    message: &'a str,
    field: Option<&'a str>,
}

impl AppError {
    /// Invalid input naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::InvalidInput {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// Invalid input without a single field at fault.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        AppError::InvalidInput {
            message: message.into(),
            field: None,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::NotEnoughData(_) => StatusCode::CONFLICT,
            AppError::NoSafeConfig(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's `code` string.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidInput { .. } => "invalid_input",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::NotEnoughData(_) => "not_enough_data",
            AppError::NoSafeConfig(_) => "no_safe_config",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Timeout(_) => "timeout",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::InvalidInput { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The error for a response that a layer (timeout, body limit, router) produced without a
    /// body of our shape.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => AppError::Unauthorized("missing or wrong X-IM-Token".into()),
            StatusCode::NOT_FOUND => AppError::NotFound(
                "no such route: see GET /openapi.json for the routes this server answers".into(),
            ),
            StatusCode::METHOD_NOT_ALLOWED => AppError::invalid_body(
                "method not allowed on this route: see GET /openapi.json",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(
                "request body too large: send a smaller body (see --max-body-bytes)".into(),
            ),
            StatusCode::REQUEST_TIMEOUT => AppError::Timeout(
                "the request took longer than the server's request timeout (see --request-timeout-ms)"
                    .into(),
            ),
            StatusCode::SERVICE_UNAVAILABLE => {
                AppError::Unavailable("the service is unavailable; retry later".into())
            }
            s if s.is_client_error() => {
                AppError::invalid_body(format!("the request was rejected ({s})"))
            }
            s => AppError::Internal(format!("the server failed ({s})")),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), "{self}");
        }
        let message = self.to_string();
        let body = Body {
            error: Inner {
                code: self.code(),
                message: &message,
                field: self.field(),
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A 503 without it leaves every client to guess, and retries in a tight loop are
            // what a recovering database needs least.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        resp
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => AppError::Unavailable(format!("database unreachable: {e}")),
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
                AppError::Unavailable(format!("database unavailable: {e}"))
            }
            _ => AppError::Internal(format!("database error: {e}")),
        }
    }
}

/// SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention, e.g. shutdown),
/// 55000 (e.g. a database that does not allow connections) and SQLite's BUSY/LOCKED mean "try
/// again", not "bug".
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(c) => {
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57")
                || c == "55000"
                || c == "5"
                || c == "6"
        }
        None => false,
    }
}

impl From<inframind_core::Error> for AppError {
    /// By the error's kind only, so a variant the core adds later is answered by its family;
    /// the field at fault travels with invalid input.
    fn from(e: inframind_core::Error) -> Self {
        let message = e.to_string();
        match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Policy => AppError::InvalidInput {
                message,
                field: e.field().map(str::to_string),
            },
            ErrorKind::NotEnoughData => AppError::NotEnoughData(message),
            ErrorKind::NoSafeConfig => AppError::NoSafeConfig(message),
            // Model, NotStored, NotFound, Io, Collector and any kind added later: what the
            // server's own files or models did, not what the client sent.
            _ => AppError::Internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_follow_the_contract() {
        let cases = [
            (AppError::invalid("x", "bad"), 422, "invalid_input"),
            (AppError::Unauthorized("u".into()), 401, "unauthorized"),
            (AppError::NotFound("n".into()), 404, "not_found"),
            (AppError::Conflict("c".into()), 409, "conflict"),
            (AppError::NotEnoughData("e".into()), 409, "not_enough_data"),
            (AppError::NoSafeConfig("s".into()), 422, "no_safe_config"),
            (
                AppError::PayloadTooLarge("p".into()),
                413,
                "payload_too_large",
            ),
            (AppError::Unavailable("d".into()), 503, "unavailable"),
            (AppError::Internal("i".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status);
            assert_eq!(e.code(), code);
        }
    }

    #[test]
    fn unavailable_tells_the_client_when_to_retry() {
        let resp = AppError::Unavailable("down".into()).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers().get(header::RETRY_AFTER).unwrap(),
            &RETRY_AFTER_SECONDS.to_string()
        );
        let resp = AppError::Internal("bug".into()).into_response();
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn core_field_errors_keep_the_field() {
        let e: AppError =
            inframind_core::Error::invalid_field("context.num_steps", 0, "must be at least 1")
                .into();
        assert_eq!(e.field(), Some("context.num_steps"));
        assert_eq!(e.status().as_u16(), 422);
    }
}
