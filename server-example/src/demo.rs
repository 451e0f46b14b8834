//! `--demo`: demo history for a few pipelines, trained, so the API answers at once.
//!
//! The runs come from the core's simulator ([`inframind_core::demo`]) and go through the same
//! writer as API calls (start, steps, complete), so what you query is what a client would have
//! stored. Seeding is skipped for a pipeline that already has runs.

use inframind_core::demo::demo_history;

use crate::db::{now_s, Completion, NewRun};
use crate::error::Result;
use crate::trainer::{train_now, TrainOutcome};
use crate::AppState;

/// The demo pipelines: (pipeline, tool).
pub const DEMO_PIPELINES: [(&str, &str); 3] = [
    ("demo/example-app", "cmake"),
    ("demo/cargo-app", "cargo"),
    ("demo/gradle-app", "gradle"),
];

/// Runs seeded per demo pipeline.
pub const DEMO_RUNS: usize = 200;

/// Stores `n` simulated runs of `tool` for `pipeline` (run ids `PIPELINE#N`).
pub async fn seed_pipeline(
    state: &AppState,
    pipeline: &str,
    tool: &str,
    n: usize,
    seed: u64,
) -> Result<usize> {
    let runs: Vec<_> = demo_history(tool, n, seed)
        .into_iter()
        .map(|run| {
            let run_id = format!("{pipeline}#{}", run.run_id);
            let response = serde_json::json!({
                "run_id": run_id, "status": run.status.as_str(), "classification": null
            })
            .to_string();
            (
                NewRun {
                    run_id: run_id.clone(),
                    pipeline: pipeline.to_string(),
                    tool: run.tool.clone(),
                    config: Some(run.config),
                    labels: run.labels.clone(),
                    canonical: format!("demo:{run_id}"),
                    started_at: run.started_at.unwrap_or_else(now_s),
                },
                run.steps.clone(),
                Completion {
                    run_id: run_id.clone(),
                    final_status: run.status,
                    duration_s: run.duration_s,
                    canonical: format!("demo:{run_id}"),
                    response,
                },
            )
        })
        .collect();
    let count = runs.len();
    state.db.seed_runs(runs).await?;
    state.cache.invalidate(pipeline);
    Ok(count)
}

/// Seeds and trains the demo pipelines; returns (pipeline, runs seeded, training outcome).
pub async fn seed(state: &AppState) -> Result<Vec<(String, usize, TrainOutcome)>> {
    let mut out = Vec::new();
    for (i, (pipeline, tool)) in DEMO_PIPELINES.iter().enumerate() {
        let existing = state.db.pipeline_state(pipeline).await?.unwrap_or_default();
        let seeded = if existing.completed == 0 {
            seed_pipeline(state, pipeline, tool, DEMO_RUNS, 1 + i as u64).await?
        } else {
            0
        };
        let outcome = train_now(state, pipeline, existing.model_version == 0).await?;
        out.push((pipeline.to_string(), seeded, outcome));
    }
    Ok(out)
}
