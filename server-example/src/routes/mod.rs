//! The HTTP routes and the layers around them.
//!
//! | route | auth | what |
//! |---|---|---|
//! | `POST /builds/start`, `/builds/step`, `/builds/complete`, `GET /builds/{run_id}` | token | build telemetry |
//! | `POST /optimize` | token | the core's suggestion for the next build, with its env |
//! | `GET /features/{run_id}` | token | the features of a run, by name |
//! | `POST /alerts`, `GET /alerts/decisions` | token | Alertmanager webhook (v4), audit trail |
//! | `GET/POST /policies`, `GET/PUT/DELETE /policies/{name}` | token | remediation policies |
//! | `POST /webhooks/github`, `/webhooks/gitlab` | signature / token | CI job events |
//! | `GET /healthz`, `/readyz`, `/metrics` | none | liveness, database reachability, Prometheus |
//! | `GET /openapi.json` | token | the API description |

pub mod alerts;
pub mod builds;
pub mod optimize;
pub mod policies;
pub mod webhooks;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{AppError, Result};
use crate::AppState;

/// The maintained OpenAPI document (kept in step with the routes by a test).
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// The application: every route with auth, limits, timeout, tracing and metrics.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/builds/start", post(builds::start))
        .route("/builds/step", post(builds::step))
        .route("/builds/complete", post(builds::complete))
        .route("/builds/{run_id}", get(builds::get_run))
        .route("/optimize", post(optimize::optimize))
        .route("/features/{run_id}", get(optimize::features))
        .route("/alerts", post(alerts::receive))
        .route("/alerts/decisions", get(alerts::decisions))
        .route("/policies", get(policies::list).post(policies::create))
        .route(
            "/policies/{name}",
            get(policies::get_one)
                .put(policies::replace)
                .delete(policies::delete),
        )
        .route("/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(
            state.auth.clone(),
            crate::auth::require_token,
        ));
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/webhooks/github", post(webhooks::github))
        .route("/webhooks/gitlab", post(webhooks::gitlab));
    let limit = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    protected
        .merge(open)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn(normalize_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::from_status(StatusCode::NOT_FOUND)
}

/// Counts every request by route template (never the raw path: this runs before auth) and
/// status, and times it.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = crate::metrics::method_label(req.method().as_str());
    let resp = next.run(req).await;
    state
        .metrics
        .observe_request(&route, method, resp.status().as_u16(), started.elapsed());
    resp
}

/// Gives every error a layer produced without a body of ours (timeout, body limit, unknown
/// method) the one JSON error shape.
async fn normalize_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        resp
    } else {
        // Our shape, the layer's status (405 stays 405).
        let mut ours = AppError::from_status(status).into_response();
        *ours.status_mut() = status;
        ours
    }
}

/// A JSON body parsed with the path of the field at fault in the error.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The raw body, with 413 in our shape when it is too large.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            AppError::invalid_body(format!("cannot read the request body: {}", e.body_text()))
        }
    })
}

/// Parses JSON naming the field at fault (`context.num_steps`). Anything but whitespace after
/// the value is refused with its position: a body that carries more than its parser reads could
/// mean something else to a proxy or a log reader than to us.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = parse_value(de)?;
    de.end().map_err(|e| AppError::InvalidInput {
        message: format!("the body is not valid JSON: {e} (after the JSON value)"),
        field: None,
    })?;
    Ok(value)
}

fn parse_value<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T> {
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let top = path == "." || path == "?" || inner.is_syntax() || inner.is_eof();
        let mut field = (!top).then(|| path.clone());
        if let Some(rest) = msg.strip_prefix("missing field `") {
            if let Some(name) = rest.split('`').next() {
                field = Some(if top {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                });
            }
        }
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {msg}")
        } else {
            format!("invalid request body: {msg}")
        };
        AppError::InvalidInput { message, field }
    })
}

/// Renames a core error's field from `prefix.x` to `x` (for bodies whose fields sit at the top).
pub fn top_level(e: inframind_core::Error) -> AppError {
    match AppError::from(e) {
        AppError::InvalidInput { message, field } => AppError::InvalidInput {
            message,
            field: field.map(|f| f.trim_start_matches('.').to_string()),
        },
        other => other,
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    state.db.ping().await?;
    let db = match state.db.backend() {
        crate::db::Backend::Sqlite => "sqlite",
        crate::db::Backend::Postgres => "postgres",
    };
    Ok(Json(serde_json::json!({"status": "ready", "database": db})))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

async fn openapi() -> Response {
    let mut resp = OPENAPI_JSON.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
