//! CI webhooks turned into build runs and steps.
//!
//! - `POST /webhooks/github`: `workflow_job` events, authenticated by `X-Hub-Signature-256`
//!   (HMAC-SHA256 of the raw body with the webhook secret, verified in constant time). An
//!   `in_progress` job starts a run; a `completed` job adds its steps and completes it. The
//!   pipeline is `OWNER/REPO/WORKFLOW/JOB`, the run id `github-JOB_ID`.
//! - `POST /webhooks/gitlab`: job events (`object_kind: build`), authenticated by
//!   `X-Gitlab-Token` (compared in constant time). A `running` job starts a run; a finished job
//!   (`success`, `failed`, `canceled`) records one step (the job) and completes it. The pipeline
//!   is `PROJECT/JOB`, the run id `gitlab-BUILD_ID`.
//!
//! Both complete through `POST /builds/complete`'s path, so the core's `final_status` decides
//! the recorded status and its retrain policy whether to train. Neither sends the resources the
//! job ran with, so these runs carry no config and are kept for the record, not for training; a `?tool=cmake` query names the build tool (default
//! `unknown`). Redeliveries are idempotent: a job's steps and completion are written in one
//! transaction, each step keyed by the provider's number for it (a GitHub step's `number`, a
//! GitLab job's id), so a redelivery stores no step twice and a completed run is not changed.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, Request, State};
use axum::Json;
use hmac::{Hmac, Mac};
use inframind_core::telemetry::RunStatus;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::builds::{
    after_completion, checked_step, completion_of, do_start, CompleteRequest, StartRequest,
    StepRequest,
};
use super::{body_bytes, parse_json};
use crate::auth::secret_eq;
use crate::error::{AppError, Result};
use crate::AppState;

fn tool_of(q: &HashMap<String, String>) -> String {
    q.get("tool")
        .filter(|t| !t.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into())
}

fn seconds_between(a: Option<&str>, b: Option<&str>) -> Option<f64> {
    let a: Timestamp = a?.parse().ok()?;
    let b: Timestamp = b?.parse().ok()?;
    let s = (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0;
    (s.is_finite() && s >= 0.0).then_some(s)
}

/// Verifies `sha256=<hex>` against the HMAC-SHA256 of `body` (constant time).
pub fn verify_github_signature(secret: &[u8], body: &[u8], header: Option<&[u8]>) -> Result<()> {
    let header = header
        .ok_or_else(|| AppError::Unauthorized("missing X-Hub-Signature-256 header".into()))?;
    let hex_sig = header.strip_prefix(b"sha256=").ok_or_else(|| {
        AppError::Unauthorized("X-Hub-Signature-256 must be sha256=<hex digest>".into())
    })?;
    let sig = hex::decode(hex_sig)
        .map_err(|_| AppError::Unauthorized("X-Hub-Signature-256 is not a hex digest".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| AppError::Internal("cannot key HMAC-SHA256".into()))?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| {
        AppError::Unauthorized(
            "X-Hub-Signature-256 does not match the body: check the webhook secret".into(),
        )
    })
}

#[derive(Debug, Deserialize)]
struct GhEvent {
    action: String,
    workflow_job: GhJob,
    #[serde(default)]
    repository: Option<GhRepo>,
}

#[derive(Debug, Deserialize)]
struct GhRepo {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct GhJob {
    id: u64,
    name: String,
    #[serde(default)]
    run_id: Option<u64>,
    #[serde(default)]
    workflow_name: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
    #[serde(default)]
    runner_name: Option<String>,
    #[serde(default)]
    steps: Vec<GhStep>,
}

#[derive(Debug, Deserialize)]
struct GhStep {
    name: String,
    /// The step's number in its job (from 1): its idempotency key.
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
}

fn gh_status(conclusion: Option<&str>) -> RunStatus {
    RunStatus::from_github_conclusion(conclusion)
}

/// Starts a run if it is not there; a run already started (same or other labels) is fine.
async fn ensure_started(state: &AppState, req: StartRequest) -> Result<()> {
    match do_start(state, req).await {
        Ok(_) | Err(AppError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Adds the steps and completes the run in one transaction, so a redelivery finds the job
/// whole or not at all; each step is keyed by the provider's step number, so a redelivery of a
/// job whose steps are stored adds none again, and one of a completed job changes nothing.
async fn finish(
    state: &AppState,
    run_id: &str,
    steps: Vec<StepRequest>,
    complete: CompleteRequest,
) -> Result<Value> {
    let steps = steps
        .into_iter()
        .map(checked_step)
        .collect::<Result<Vec<_>>>()?;
    let completion = completion_of(complete)?;
    let resp = match state.db.finish_run(steps, completion).await {
        Ok(result) => after_completion(state, result).await,
        Err(AppError::Conflict(m)) => {
            return Ok(json!({"run_id": run_id, "ignored": m}));
        }
        Err(e) => return Err(e),
    };
    serde_json::from_str(&resp).map_err(|e| AppError::Internal(format!("stored answer: {e}")))
}

fn step_request(
    run_id: &str,
    key: String,
    name: &str,
    duration_s: f64,
    status: RunStatus,
) -> StepRequest {
    StepRequest {
        step_id: Some(key),
        run_id: run_id.to_string(),
        name: name.to_string(),
        duration_s,
        status,
        max_rss_bytes: None,
        cpu_seconds: None,
        io_read_bytes: None,
        io_write_bytes: None,
        cache_hits: None,
        cache_misses: None,
    }
}

/// `POST /webhooks/github`.
pub async fn github(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Json<Value>> {
    let secret = state.config.github_secret.clone().ok_or_else(|| {
        AppError::Unauthorized(
            "GitHub webhooks are disabled: set INFRAMIND_GITHUB_SECRET on the server".into(),
        )
    })?;
    let sig = req
        .headers()
        .get("x-hub-signature-256")
        .map(|v| v.as_bytes().to_vec());
    let event = req
        .headers()
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = body_bytes(req, &()).await?;
    verify_github_signature(&secret.0, &body, sig.as_deref())?;
    if event != "workflow_job" {
        return Ok(Json(
            json!({"ignored": format!("event {event:?} is not workflow_job")}),
        ));
    }
    let ev: GhEvent = parse_json(&body)?;
    let job = &ev.workflow_job;
    let repo = ev
        .repository
        .as_ref()
        .map_or("github", |r| r.full_name.as_str());
    let pipeline = match &job.workflow_name {
        Some(w) => format!("{repo}/{w}/{}", job.name),
        None => format!("{repo}/{}", job.name),
    };
    let run_id = format!("github-{}", job.id);
    let mut labels = BTreeMap::new();
    if let Some(b) = &job.head_branch {
        labels.insert("branch".into(), b.clone());
    }
    if let Some(r) = job.run_id {
        labels.insert("github_run_id".into(), r.to_string());
    }
    if let Some(r) = &job.runner_name {
        labels.insert("runner".into(), r.clone());
    }
    let start = StartRequest {
        pipeline: pipeline.clone(),
        tool: tool_of(&q),
        config: None,
        labels,
        run_id: Some(run_id.clone()),
    };
    match ev.action.as_str() {
        "in_progress" => {
            ensure_started(&state, start).await?;
            Ok(Json(
                json!({"run_id": run_id, "pipeline": pipeline, "status": RunStatus::Running.as_str()}),
            ))
        }
        "completed" => {
            ensure_started(&state, start).await?;
            let duration = seconds_between(job.started_at.as_deref(), job.completed_at.as_deref())
                .unwrap_or(0.0);
            let steps = job
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let d = seconds_between(s.started_at.as_deref(), s.completed_at.as_deref())
                        .unwrap_or(0.0)
                        .min(duration);
                    // A step without a number is keyed by its place, the same in a redelivery.
                    let key = format!("github-step-{}", s.number.unwrap_or(i as u64 + 1));
                    step_request(&run_id, key, &s.name, d, gh_status(s.conclusion.as_deref()))
                })
                .collect();
            let complete = CompleteRequest {
                run_id: run_id.clone(),
                status: gh_status(job.conclusion.as_deref()),
                duration_s: duration,
                log_tail: None,
            };
            Ok(Json(finish(&state, &run_id, steps, complete).await?))
        }
        other => Ok(Json(
            json!({"run_id": run_id, "ignored": format!("action {other:?}")}),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct GlJob {
    object_kind: String,
    build_id: u64,
    build_name: String,
    build_status: String,
    #[serde(default)]
    build_stage: Option<String>,
    #[serde(default)]
    build_duration: Option<f64>,
    #[serde(default)]
    build_failure_reason: Option<String>,
    #[serde(default)]
    project_name: Option<String>,
    #[serde(default)]
    project: Option<GlProject>,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    pipeline_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GlProject {
    #[serde(default)]
    path_with_namespace: Option<String>,
}

/// `POST /webhooks/gitlab`.
pub async fn gitlab(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Json<Value>> {
    let token = state.config.gitlab_token.clone().ok_or_else(|| {
        AppError::Unauthorized(
            "GitLab webhooks are disabled: set INFRAMIND_GITLAB_TOKEN on the server".into(),
        )
    })?;
    let presented = req
        .headers()
        .get("x-gitlab-token")
        .map(|v| v.as_bytes().to_vec())
        .ok_or_else(|| AppError::Unauthorized("missing X-Gitlab-Token header".into()))?;
    if !secret_eq(&presented, &token.0) {
        return Err(AppError::Unauthorized(
            "X-Gitlab-Token does not match the server's INFRAMIND_GITLAB_TOKEN".into(),
        ));
    }
    let body = body_bytes(req, &()).await?;
    let ev: GlJob = parse_json(&body)?;
    if ev.object_kind != "build" {
        return Ok(Json(
            json!({"ignored": format!("object_kind {:?} is not a job event", ev.object_kind)}),
        ));
    }
    let project = ev
        .project
        .as_ref()
        .and_then(|p| p.path_with_namespace.clone())
        .or(ev.project_name.clone())
        .unwrap_or_else(|| "gitlab".into());
    let pipeline = format!("{project}/{}", ev.build_name);
    let run_id = format!("gitlab-{}", ev.build_id);
    let mut labels = BTreeMap::new();
    if let Some(r) = &ev.git_ref {
        labels.insert("branch".into(), r.clone());
    }
    if let Some(p) = ev.pipeline_id {
        labels.insert("gitlab_pipeline_id".into(), p.to_string());
    }
    if let Some(s) = &ev.build_stage {
        labels.insert("stage".into(), s.clone());
    }
    let start = StartRequest {
        pipeline: pipeline.clone(),
        tool: tool_of(&q),
        config: None,
        labels,
        run_id: Some(run_id.clone()),
    };
    let status = match ev.build_status.as_str() {
        "running" => {
            ensure_started(&state, start).await?;
            return Ok(Json(
                json!({"run_id": run_id, "pipeline": pipeline, "status": RunStatus::Running.as_str()}),
            ));
        }
        "success" => RunStatus::Success,
        "failed" if ev.build_failure_reason.as_deref() == Some("job_execution_timeout") => {
            RunStatus::Timeout
        }
        "failed" => RunStatus::Failure,
        "canceled" | "skipped" => RunStatus::Cancelled,
        other => {
            return Ok(Json(
                json!({"run_id": run_id, "ignored": format!("build_status {other:?}")}),
            ))
        }
    };
    ensure_started(&state, start).await?;
    let duration = ev
        .build_duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .unwrap_or(0.0);
    let key = format!("gitlab-job-{}", ev.build_id);
    let steps = vec![step_request(&run_id, key, &ev.build_name, duration, status)];
    let complete = CompleteRequest {
        run_id: run_id.clone(),
        status,
        duration_s: duration,
        log_tail: None,
    };
    Ok(Json(finish(&state, &run_id, steps, complete).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signature_is_checked() {
        let body = br#"{"zen":"hi"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(verify_github_signature(b"s3cret", body, Some(good.as_bytes())).is_ok());
        assert!(verify_github_signature(b"other", body, Some(good.as_bytes())).is_err());
        assert!(verify_github_signature(b"s3cret", body, None).is_err());
        assert!(verify_github_signature(b"s3cret", body, Some(b"sha256=zz")).is_err());
    }

    #[test]
    fn durations_come_from_timestamps() {
        assert_eq!(
            seconds_between(Some("2024-05-01T10:00:00Z"), Some("2024-05-01T10:01:30Z")),
            Some(90.0)
        );
        assert_eq!(seconds_between(None, Some("2024-05-01T10:01:30Z")), None);
    }
}
