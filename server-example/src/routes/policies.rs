//! `GET/POST /policies`, `GET/PUT/DELETE /policies/{name}`: remediation policies, validated
//! by the core (`Policy::new`, `PolicySet::new`) before they are stored. The compiled set
//! `/alerts` uses is kept by [`Db::policy_set`](crate::db::Db::policy_set) and compiled again
//! after each change.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inframind_core::healing::{Policy, PolicySet, PolicySpec};
use serde_json::json;

use super::JsonBody;
use crate::db::PutMode;
use crate::error::{AppError, Result};
use crate::AppState;

async fn load_specs(state: &AppState) -> Result<Vec<PolicySpec>> {
    state
        .db
        .policies()
        .await?
        .into_iter()
        .map(|(name, spec)| {
            serde_json::from_str(&spec).map_err(|e| {
                AppError::Internal(format!("stored policy {name:?} cannot be read: {e}"))
            })
        })
        .collect()
}

/// Checks the policy alone, then the stored set with it in place of its namesake: the core
/// bounds what a whole set may compile, so a policy valid alone can still be one too many
/// (422 naming it). Compiling is CPU work, done on a blocking thread.
async fn validate_in_set(state: &AppState, spec: &PolicySpec) -> Result<String> {
    let text = validate(spec)?;
    let mut specs = load_specs(state).await?;
    specs.retain(|s| s.name != spec.name);
    specs.push(spec.clone());
    tokio::task::spawn_blocking(move || PolicySet::new(specs))
        .await
        .map_err(|e| AppError::Internal(format!("checking the policies failed: {e}")))??;
    Ok(text)
}

/// Compiles the changed set now, so the next alert finds it ready. A failure here is not the
/// request's: the change is committed, and `/alerts` reports a set that does not compile.
async fn refresh(state: &AppState) {
    if let Err(e) = state.db.policy_set().await {
        tracing::warn!("the stored policies are not usable: {e}");
    }
}

fn validate(spec: &PolicySpec) -> Result<String> {
    Policy::new(spec.clone())?;
    serde_json::to_string(spec)
        .map_err(|e| AppError::Internal(format!("cannot encode the policy: {e}")))
}

/// `GET /policies`.
pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    Ok(Json(json!({"policies": load_specs(&state).await?})))
}

/// `GET /policies/{name}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PolicySpec>> {
    load_specs(&state)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no policy named {name:?}")))
}

/// `POST /policies`: 201, 409 when the name exists, 422 naming the field at fault.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<PolicySpec>,
) -> Result<Response> {
    let text = validate_in_set(&state, &spec).await?;
    state
        .db
        .put_policy(spec.name.clone(), text, PutMode::Create)
        .await?;
    refresh(&state).await;
    Ok((StatusCode::CREATED, Json(spec)).into_response())
}

/// `PUT /policies/{name}`: creates or replaces; the body's name must be the path's.
pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(spec): JsonBody<PolicySpec>,
) -> Result<Json<PolicySpec>> {
    if spec.name != name {
        return Err(AppError::invalid(
            "name",
            format!(
                "the body names policy {:?} but the path names {name:?}; they must be the same",
                spec.name
            ),
        ));
    }
    let text = validate_in_set(&state, &spec).await?;
    state.db.put_policy(name, text, PutMode::Upsert).await?;
    refresh(&state).await;
    Ok(Json(spec))
}

/// `DELETE /policies/{name}`: 204, or 404.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode> {
    state.db.delete_policy(name).await?;
    refresh(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
