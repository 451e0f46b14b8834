//! `POST /optimize` and `GET /features/{run_id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use inframind_core::features::{run_features, FeatureSchema, FEATURE_NAMES};
use inframind_core::rules;
use inframind_core::telemetry::RunContext;
use inframind_core::tool_env::env_for;
use inframind_core::Suggestion;
use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::error::{AppError, Result};
use crate::AppState;

/// Body of `POST /optimize`.
#[derive(Debug, Clone, Deserialize)]
pub struct OptimizeRequest {
    /// Pipeline.
    pub pipeline: String,
    /// What is known about the build about to start.
    pub context: RunContext,
    /// Seed of the exploration draw; without it the core derives one from the history.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Answer of `POST /optimize`: the core's suggestion and the environment that applies it.
#[derive(Debug, Serialize)]
pub struct OptimizeResponse {
    /// Pipeline.
    pub pipeline: String,
    /// The suggestion, field by field.
    #[serde(flatten)]
    pub suggestion: Suggestion,
    /// Variables that make the tool use the suggested config.
    pub env: BTreeMap<String, String>,
}

/// `POST /optimize`: answered from memory (see [`crate::cache`]); a pipeline without history
/// gets a cold-start suggestion (and no cache entry).
pub async fn optimize(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<OptimizeRequest>,
) -> Result<Json<OptimizeResponse>> {
    rules::check_name("pipeline", &req.pipeline)?;
    let snap = state
        .cache
        .get(&state.db, &state.store, &req.pipeline)
        .await?;
    let suggestion =
        state
            .optimizer
            .suggest(snap.model.as_deref(), &snap.history, &req.context, req.seed)?;
    state.metrics.observe_suggestion(suggestion.cold_start);
    let env = env_for(&req.context.tool, &suggestion.config);
    Ok(Json(OptimizeResponse {
        pipeline: req.pipeline,
        suggestion,
        env,
    }))
}

/// Answer of `GET /features/{run_id}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct FeaturesResponse {
    /// Run id.
    pub run_id: String,
    /// Fingerprint of the feature schema.
    pub schema: String,
    /// Feature values by name.
    pub features: BTreeMap<String, f64>,
}

/// `GET /features/{run_id}`: the features of the run as the model sees them (its config, its
/// context and the history before it).
pub async fn features(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Json<FeaturesResponse>> {
    let stored = state.db.run(&run_id).await?.ok_or_else(|| {
        AppError::NotFound(format!(
            "no run {run_id:?}: start it with POST /builds/start first"
        ))
    })?;
    if !stored.has_config {
        return Err(AppError::Conflict(format!(
            "run {run_id:?} was started without a config; features need the resources the run \
             had (send \"config\" in /builds/start)"
        )));
    }
    let pipeline = stored.run.pipeline.clone();
    let up_to = match stored.seq {
        Some(seq) => seq - 1,
        None => {
            state
                .db
                .pipeline_state(&pipeline)
                .await?
                .unwrap_or_default()
                .completed
        }
    };
    // 1,000 runs: the most any feature counts (`history_runs` is capped there).
    let history: Vec<_> = state
        .db
        .history(&pipeline, 0, up_to, 1000)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let row = run_features(&stored.run, &history);
    let features = FEATURE_NAMES
        .iter()
        .zip(row.iter())
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    Ok(Json(FeaturesResponse {
        run_id,
        schema: FeatureSchema::current().fingerprint,
        features,
    }))
}
