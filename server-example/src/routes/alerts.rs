//! `POST /alerts` (the Alertmanager webhook, version 4) and `GET /alerts/decisions`.
//!
//! The core parses the payload, evaluates it against the stored policies and applies safety
//! (cooldowns, rate limits, deduplication of repeated deliveries) from a [`SafetyState`] this
//! process keeps in memory: a restart forgets cooldowns, and replicas behind a load balancer
//! each keep their own (point Alertmanager at one replica, or accept that an HA pair's
//! duplicate deliveries landing on two replicas are each decided once). Every decision is
//! audited in the database with what the executor did, and visible at `GET /alerts/decisions`.
//! The safety state moves only once the audit rows are committed; until then, the process's
//! next webhook waits, so a duplicate delivery is still decided against its original.
//!
//! The policies are compiled once per change, not per call (see
//! [`Db::policy_set`](crate::db::Db::policy_set)), and evaluated on a blocking thread: the core
//! bounds the work per alert, but it is CPU work all the same.
//!
//! [`SafetyState`]: inframind_core::healing::SafetyState

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::Json;
use inframind_core::healing::{EvalOptions, Outcome, SystemClock, Webhook};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body_bytes;
use crate::db::DecisionRow;
use crate::error::{AppError, Result};
use crate::executor::Execution;
use crate::AppState;

/// `POST /alerts`.
pub async fn receive(State(state): State<AppState>, req: Request) -> Result<Json<Value>> {
    let body = body_bytes(req, &()).await?;
    let hook = Webhook::from_slice(&body)?;
    let set = state.db.policy_set().await?;
    let _deciding = state.db.decide_lock().await;
    // Decided on a copy of the safety state, which replaces the state only once the audit rows
    // are committed: a delivery whose audit failed is decided afresh when it is retried, not
    // suppressed as a duplicate of a decision nobody recorded.
    let safety = Arc::clone(&state.safety);
    let (evaluation, draft, hook) = tokio::task::spawn_blocking(move || {
        let mut draft = safety.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let evaluation = set.evaluate(&hook, &mut draft, &SystemClock, EvalOptions::default());
        (evaluation, draft, hook)
    })
    .await
    .map_err(|e| AppError::Internal(format!("evaluating the alerts failed: {e}")))?;
    let mut rows = Vec::with_capacity(evaluation.decisions.len());
    let mut out = Vec::with_capacity(evaluation.decisions.len());
    for (decision, record) in evaluation.decisions.iter().zip(evaluation.audit.iter()) {
        let execution = if decision.outcome == Outcome::Matched && !decision.dry_run {
            state.executor.execute(decision).await
        } else {
            Execution {
                executor: "none".into(),
                executed: false,
                detail: format!("{}: {}", decision.outcome, decision.reason),
            }
        };
        state
            .metrics
            .observe_decision(&decision.outcome.to_string());
        let record_json = serde_json::to_string(record)
            .map_err(|e| AppError::Internal(format!("cannot encode the audit record: {e}")))?;
        let execution_json = serde_json::to_string(&execution)
            .map_err(|e| AppError::Internal(format!("cannot encode the execution: {e}")))?;
        rows.push(DecisionRow {
            at: record.at.to_string(),
            receiver: record.receiver.clone(),
            policy: decision.policy.clone(),
            fingerprint: decision.fingerprint.clone(),
            alertname: decision.alertname.clone(),
            outcome: decision.outcome.to_string(),
            record: record_json,
            execution: execution_json,
        });
        let mut d = serde_json::to_value(decision)
            .map_err(|e| AppError::Internal(format!("cannot encode the decision: {e}")))?;
        if let Some(obj) = d.as_object_mut() {
            obj.insert("execution".into(), json!(execution));
        }
        out.push(d);
    }
    state.db.insert_decisions(rows).await?;
    *state.safety.lock().unwrap_or_else(|p| p.into_inner()) = draft;
    Ok(Json(json!({
        "receiver": hook.receiver,
        "alerts": hook.alerts.len(),
        "decisions": out,
    })))
}

/// Query of `GET /alerts/decisions`.
#[derive(Debug, Deserialize)]
pub struct DecisionsQuery {
    /// Newest decisions to return (default 100, at most 1,000).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `GET /alerts/decisions`: the audit trail, newest first.
pub async fn decisions(
    State(state): State<AppState>,
    Query(q): Query<DecisionsQuery>,
) -> Result<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit = {limit}: must be between 1 and 1000"),
        ));
    }
    let rows = state.db.decisions(limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, record, execution) in rows {
        let mut v: Value = serde_json::from_str(&record)
            .map_err(|e| AppError::Internal(format!("stored decision {id} cannot be read: {e}")))?;
        let exec: Value = serde_json::from_str(&execution).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("id".into(), json!(id));
            obj.insert("execution".into(), exec);
        }
        out.push(v);
    }
    Ok(Json(json!({"decisions": out})))
}
