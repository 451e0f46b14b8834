//! `/builds/start`, `/builds/step`, `/builds/complete`, `GET /builds/{run_id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inframind_core::healing::{classify, Classification};
use inframind_core::telemetry::{BuildConfig, BuildStep, RunStatus};
use serde::{Deserialize, Serialize};

use super::{top_level, JsonBody};
use crate::db::{now_s, status_str, CompleteResult, Completion, NewRun, StartResult};
use crate::error::{AppError, Result};
use crate::AppState;

/// Longest pipeline name, run id, tool or step name accepted.
pub const MAX_NAME_LEN: usize = 512;

/// Body of `POST /builds/start`.
#[derive(Debug, Clone, Deserialize)]
pub struct StartRequest {
    /// Pipeline.
    pub pipeline: String,
    /// Build tool.
    pub tool: String,
    /// Resources of the run (needed for the run to teach the model).
    #[serde(default)]
    pub config: Option<BuildConfig>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Client-chosen id; the server makes one when absent.
    #[serde(default)]
    pub run_id: Option<String>,
}

/// Answer of `POST /builds/start`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StartResponse {
    /// Run id.
    pub run_id: String,
    /// Pipeline.
    pub pipeline: String,
    /// Always `running`.
    pub status: String,
}

#[derive(Serialize)]
struct CanonicalStart<'a> {
    pipeline: &'a str,
    tool: &'a str,
    config: &'a Option<BuildConfig>,
    labels: &'a BTreeMap<String, String>,
}

fn check_name(field: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(AppError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if v.len() > MAX_NAME_LEN {
        return Err(AppError::invalid(
            field,
            format!(
                "{field} is {} bytes long; at most {MAX_NAME_LEN} are accepted",
                v.len()
            ),
        ));
    }
    Ok(())
}

fn check_bytes(field: &str, v: Option<u64>) -> Result<()> {
    match v {
        Some(x) if x > i64::MAX as u64 => Err(AppError::invalid(
            field,
            format!(
                "{field} = {x} is larger than the {} the database stores",
                i64::MAX
            ),
        )),
        _ => Ok(()),
    }
}

/// Starts a run: 201 when new, 200 for the same start again, 409 for another body.
pub async fn do_start(state: &AppState, req: StartRequest) -> Result<(StatusCode, StartResponse)> {
    check_name("pipeline", &req.pipeline)?;
    check_name("tool", &req.tool)?;
    if let Some(id) = &req.run_id {
        check_name("run_id", id)?;
    }
    if let Some(c) = &req.config {
        c.validate("config")?;
        check_bytes("config.memory_bytes", Some(c.memory_bytes))?;
    }
    let canonical = serde_json::to_string(&CanonicalStart {
        pipeline: &req.pipeline,
        tool: &req.tool,
        config: &req.config,
        labels: &req.labels,
    })
    .map_err(|e| AppError::Internal(format!("cannot encode the start request: {e}")))?;
    let run_id = req
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let result = state
        .db
        .start_run(NewRun {
            run_id: run_id.clone(),
            pipeline: req.pipeline.clone(),
            tool: req.tool.clone(),
            config: req.config,
            labels: req.labels.clone(),
            canonical,
            started_at: now_s(),
        })
        .await?;
    let resp = StartResponse {
        run_id: run_id.clone(),
        pipeline: req.pipeline,
        status: "running".into(),
    };
    match result {
        StartResult::Created => Ok((StatusCode::CREATED, resp)),
        StartResult::Same => Ok((StatusCode::OK, resp)),
        StartResult::Conflict => Err(AppError::Conflict(format!(
            "run {run_id:?} was started with another body; a start can only be repeated exactly \
             (or use a new run_id)"
        ))),
    }
}

/// `POST /builds/start`.
pub async fn start(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<StartRequest>,
) -> Result<Response> {
    let (status, resp) = do_start(&state, req).await?;
    Ok((status, Json(resp)).into_response())
}

/// Body of `POST /builds/step`.
#[derive(Debug, Clone, Deserialize)]
pub struct StepRequest {
    /// Run id.
    pub run_id: String,
    /// Step name.
    pub name: String,
    /// Duration, seconds.
    pub duration_s: f64,
    /// How the step ended (default success).
    #[serde(default)]
    pub status: RunStatus,
    /// Peak RSS, bytes.
    #[serde(default)]
    pub max_rss_bytes: Option<u64>,
    /// CPU seconds.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    /// Bytes read.
    #[serde(default)]
    pub io_read_bytes: Option<u64>,
    /// Bytes written.
    #[serde(default)]
    pub io_write_bytes: Option<u64>,
    /// Cache hits.
    #[serde(default)]
    pub cache_hits: Option<u64>,
    /// Cache misses.
    #[serde(default)]
    pub cache_misses: Option<u64>,
}

/// Answer of `POST /builds/step`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepResponse {
    /// Run id.
    pub run_id: String,
    /// Index of the step in the run, from 0.
    pub step_index: i64,
}

/// Appends a step to a running run.
pub async fn do_step(state: &AppState, req: StepRequest) -> Result<StepResponse> {
    check_name("run_id", &req.run_id)?;
    check_name("name", &req.name)?;
    let step = BuildStep {
        name: req.name,
        duration_s: req.duration_s,
        status: req.status,
        max_rss_bytes: req.max_rss_bytes,
        cpu_seconds: req.cpu_seconds,
        io_read_bytes: req.io_read_bytes,
        io_write_bytes: req.io_write_bytes,
        cache_hits: req.cache_hits,
        cache_misses: req.cache_misses,
    };
    step.validate("").map_err(top_level)?;
    for (f, v) in [
        ("max_rss_bytes", step.max_rss_bytes),
        ("io_read_bytes", step.io_read_bytes),
        ("io_write_bytes", step.io_write_bytes),
        ("cache_hits", step.cache_hits),
        ("cache_misses", step.cache_misses),
    ] {
        check_bytes(f, v)?;
    }
    let step_index = state.db.add_step(req.run_id.clone(), step).await?;
    Ok(StepResponse {
        run_id: req.run_id,
        step_index,
    })
}

/// `POST /builds/step`.
pub async fn step(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<StepRequest>,
) -> Result<Response> {
    let resp = do_step(&state, req).await?;
    Ok((StatusCode::CREATED, Json(resp)).into_response())
}

/// Body of `POST /builds/complete`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompleteRequest {
    /// Run id.
    pub run_id: String,
    /// How the run ended.
    pub status: RunStatus,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Last lines of the build log, classified when the run failed.
    #[serde(default)]
    pub log_tail: Option<String>,
}

/// Answer of `POST /builds/complete`.
#[derive(Debug, Clone, Serialize)]
pub struct CompleteResponse<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Final status: a failure whose log classifies as OOM is `oom_killed`.
    pub status: &'static str,
    /// The core's classification of the log tail, for failed runs that sent one.
    pub classification: Option<&'a Classification>,
}

/// Completes a run; returns the stored answer (the same one for a repeated completion).
pub async fn do_complete(state: &AppState, req: CompleteRequest) -> Result<String> {
    check_name("run_id", &req.run_id)?;
    if req.status == RunStatus::Running {
        return Err(AppError::invalid(
            "status",
            "status must be how the run ended: success, failure, oom_killed, timeout or cancelled",
        ));
    }
    if !(req.duration_s.is_finite() && req.duration_s >= 0.0) {
        return Err(AppError::invalid(
            "duration_s",
            format!(
                "invalid duration_s = {}: must be a finite number of seconds, 0 or more",
                req.duration_s
            ),
        ));
    }
    // The core classifies a failed run's log and says which status it should be recorded with.
    let classification = match (&req.log_tail, req.status.is_failure()) {
        (Some(log), true) if !log.trim().is_empty() => Some(classify(log)),
        _ => None,
    };
    let final_status = match (&classification, req.status) {
        (Some(c), RunStatus::Failure) => c.run_status(),
        _ => req.status,
    };
    let response = serde_json::to_string(&CompleteResponse {
        run_id: &req.run_id,
        status: status_str(final_status),
        classification: classification.as_ref(),
    })
    .map_err(|e| AppError::Internal(format!("cannot encode the answer: {e}")))?;
    let canonical = serde_json::to_string(&req)
        .map_err(|e| AppError::Internal(format!("cannot encode the request: {e}")))?;
    let result = state
        .db
        .complete_run(Completion {
            run_id: req.run_id.clone(),
            final_status,
            duration_s: req.duration_s,
            canonical,
            response,
        })
        .await?;
    match result {
        CompleteResult::Same(resp) => Ok(resp),
        CompleteResult::Done {
            response,
            pipeline,
            completed,
            trained_at_completed,
        } => {
            state.cache.invalidate(&pipeline);
            if completed - trained_at_completed >= i64::from(state.config.retrain_every) {
                state.trainer.notify(&pipeline);
            }
            Ok(response)
        }
    }
}

/// `POST /builds/complete`.
pub async fn complete(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<CompleteRequest>,
) -> Result<Response> {
    let body = do_complete(&state, req).await?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// `GET /builds/{run_id}`: the stored run with its steps.
pub async fn get_run(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let stored = state
        .db
        .run(&run_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no run {run_id:?}")))?;
    let mut v = serde_json::to_value(&stored.run)
        .map_err(|e| AppError::Internal(format!("cannot encode the run: {e}")))?;
    if let Some(obj) = v.as_object_mut() {
        if !stored.has_config {
            obj.insert("config".into(), serde_json::Value::Null);
        }
        let completion = stored
            .completion_response
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok());
        if let Some(c) = completion.as_ref().and_then(|c| c.get("classification")) {
            obj.insert("classification".into(), c.clone());
        }
    }
    Ok(Json(v))
}
