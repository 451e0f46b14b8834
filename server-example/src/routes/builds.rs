//! `/builds/start`, `/builds/step`, `/builds/complete`, `GET /builds/{run_id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inframind_core::healing::{final_status, Classification};
use inframind_core::rules;
use inframind_core::telemetry::{BuildConfig, BuildRun, BuildStep, RunStatus};
use serde::{Deserialize, Serialize};

use super::{top_level, JsonBody};
use crate::db::{now_s, CompleteResult, Completion, NewRun, PipelineState, StartResult};
use crate::error::{AppError, Result};
use crate::AppState;

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

/// Starts a run: 201 when new, 200 for the same start again, 409 for another body.
pub async fn do_start(state: &AppState, req: StartRequest) -> Result<(StatusCode, StartResponse)> {
    rules::check_name("pipeline", &req.pipeline)?;
    rules::check_name("tool", &req.tool)?;
    if let Some(id) = &req.run_id {
        rules::check_name("run_id", id)?;
    }
    if let Some(c) = &req.config {
        c.validate("config")?;
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
        status: RunStatus::Running.as_str().into(),
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
    /// The client's id of the step, unique within the run: a step posted again with an id
    /// the run holds is answered with the stored step's index and not stored twice, so a
    /// client can retry a step whose answer it lost.
    #[serde(default)]
    pub step_id: Option<String>,
}

/// Answer of `POST /builds/step`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepResponse {
    /// Run id.
    pub run_id: String,
    /// Index of the step in the run, from 0.
    pub step_index: i64,
}

/// Appends a step to a running run (once per `step_id`).
pub async fn do_step(state: &AppState, req: StepRequest) -> Result<StepResponse> {
    let run_id = req.run_id.clone();
    let (step, key) = checked_step(req)?;
    let step_index = state.db.add_keyed_step(run_id.clone(), step, key).await?;
    Ok(StepResponse { run_id, step_index })
}

/// The step of a request, checked by the core's rules, and its idempotency key.
pub(super) fn checked_step(req: StepRequest) -> Result<(BuildStep, Option<String>)> {
    rules::check_name("run_id", &req.run_id)?;
    if let Some(id) = &req.step_id {
        rules::check_name("step_id", id)?;
    }
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
    // Name, duration and byte counts, by the core's rules (which keep every count well inside
    // the database's BIGINT).
    step.validate("").map_err(top_level)?;
    Ok((step, req.step_id))
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
    let completion = completion_of(req)?;
    let result = state.db.complete_run(completion).await?;
    Ok(after_completion(state, result).await)
}

/// The completion to store for a request: checked, its final status decided by the core from
/// the reported one and the log, and its answer.
pub(super) fn completion_of(req: CompleteRequest) -> Result<Completion> {
    rules::check_name("run_id", &req.run_id)?;
    if req.status == RunStatus::Running {
        let ended: Vec<&str> = RunStatus::ALL
            .iter()
            .filter(|s| **s != RunStatus::Running)
            .map(|s| s.as_str())
            .collect();
        return Err(AppError::invalid(
            "status",
            format!(
                "status must be how the run ended: one of {}",
                ended.join(", ")
            ),
        ));
    }
    rules::check_duration("duration_s", req.duration_s)?;
    // The core decides the recorded status from the reported one and the log.
    let (status, classification) = final_status(req.status, req.log_tail.as_deref());
    let response = serde_json::to_string(&CompleteResponse {
        run_id: &req.run_id,
        status: status.as_str(),
        classification: classification.as_ref(),
    })
    .map_err(|e| AppError::Internal(format!("cannot encode the answer: {e}")))?;
    let canonical = serde_json::to_string(&req)
        .map_err(|e| AppError::Internal(format!("cannot encode the request: {e}")))?;
    Ok(Completion {
        run_id: req.run_id,
        final_status: status,
        duration_s: req.duration_s,
        canonical,
        response,
    })
}

/// What follows a stored completion (the surprise check, the cache, the retrain queue);
/// returns the answer.
pub(super) async fn after_completion(state: &AppState, result: CompleteResult) -> String {
    match result {
        CompleteResult::Same(resp) => resp,
        CompleteResult::Done {
            response,
            pipeline,
            completed,
            state: counts,
            run,
        } => {
            let surprise = counts.progress().surprise
                || note_surprise(state, &pipeline, completed, run.as_deref()).await;
            state.cache.invalidate(&pipeline);
            queue_if_due(state, &pipeline, &counts, surprise);
            response
        }
    }
}

/// Whether a successful run took a duration the pipeline's model (in memory) did not expect;
/// if so, records it, so the retrain policy retrains at once on every replica. An OOM kill is
/// recorded by the completion itself.
async fn note_surprise(state: &AppState, pipeline: &str, seq: i64, run: Option<&BuildRun>) -> bool {
    let Some(run) = run.filter(|r| r.status == RunStatus::Success) else {
        return false;
    };
    let predicted = state.cache.predict(pipeline, run);
    if !state
        .config
        .retrain
        .is_surprise(run.status, run.duration_s, predicted)
    {
        return false;
    }
    // The completion is committed and answered either way: a lost surprise only delays the
    // retraining to the policy's next growth step.
    match state.db.mark_surprise(pipeline.to_string(), seq).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(pipeline, "cannot record a surprising duration: {e}");
            false
        }
    }
}

/// Queues the pipeline for training when the core's retrain policy says it is due. The
/// trainer asks the policy again when it gets to it, so a burst of completions trains once.
fn queue_if_due(state: &AppState, pipeline: &str, counts: &PipelineState, surprise: bool) {
    let mut progress = counts.progress();
    progress.surprise = surprise;
    if state.config.retrain.is_due(&progress).is_some() {
        state.trainer.notify(pipeline);
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
