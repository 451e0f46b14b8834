//! Background retraining follows the core's retrain policy: the first model right after the
//! second successful build, one training for a burst of completions, and a retraining at once
//! after a surprise (an OOM kill, a duration far from the prediction).

mod support;

use std::time::Duration;

use inframind_core::retrain::RetrainPolicy;
use inframind_core::OptimizerParams;
use serde_json::{json, Value};
use server_example::trainer::{train_now, TrainOutcome};
use server_example::AppState;
use support::{api, sqlite_app, sqlite_app_with};

const OOM_LOG: &str = "[ 42%] Building CXX object src/CMakeFiles/app.dir/big.cpp.o\n\
    c++: fatal error: Killed signal terminated program cc1plus\n\
    compilation terminated.\n";

fn config() -> Value {
    json!({"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592u64})
}

async fn start(r: &axum::Router, pipeline: &str, run_id: &str, config: &Value) {
    let (s, v) = api(
        r,
        "POST",
        "/builds/start",
        Some(json!({"pipeline": pipeline, "tool": "cmake", "run_id": run_id, "config": config})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

async fn complete(
    r: &axum::Router,
    run_id: &str,
    status: &str,
    duration_s: f64,
    log: Option<&str>,
) {
    let (s, v) = api(
        r,
        "POST",
        "/builds/complete",
        Some(
            json!({"run_id": run_id, "status": status, "duration_s": duration_s, "log_tail": log}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// Waits until the trainer has nothing queued or running.
async fn settle(state: &AppState) {
    for _ in 0..600 {
        if state.trainer.is_idle() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the trainer did not settle within 30 s");
}

async fn trained(state: &AppState, pipeline: &str) -> usize {
    let log = state.db.trainings(pipeline).await.unwrap();
    log.iter().filter(|t| t.outcome == "trained").count()
}

fn trigger_count(state: &AppState, reason: &str) -> u64 {
    let text = state.metrics.render();
    let prefix = format!("inframind_training_triggers_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_first_model_comes_right_after_the_second_successful_build() {
    let app = sqlite_app().await;
    let (r, st) = (&app.router, &app.state);
    let p = "first/app";
    start(r, p, "f-1", &config()).await;
    complete(r, "f-1", "success", 100.0, None).await;
    settle(st).await;
    assert_eq!(trained(st, p).await, 0, "one successful build is too few");
    // A failure is not a row to learn from: still too few.
    start(r, p, "f-2", &config()).await;
    complete(r, "f-2", "failure", 30.0, None).await;
    settle(st).await;
    assert_eq!(trained(st, p).await, 0);
    start(r, p, "f-3", &config()).await;
    complete(r, "f-3", "success", 104.0, None).await;
    settle(st).await;
    assert_eq!(
        trained(st, p).await,
        1,
        "the second success trains the first model"
    );
    let state = st.db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!((state.model_version, state.successes), (1, 2));
    assert_eq!(trigger_count(st, "first_model"), 1);
    // The optimizer itself wants `min_successful_runs` before it trusts a model; from then on
    // the next /optimize is warm at once, with the model trained in the background.
    let min = OptimizerParams::default().min_successful_runs.max(2);
    for i in 3..=min {
        let id = format!("f-s{i}");
        start(r, p, &id, &config()).await;
        complete(r, &id, "success", 100.0 + i as f64, None).await;
    }
    let (s, v) = api(
        r,
        "POST",
        "/optimize",
        Some(json!({"pipeline": p, "context": {"tool": "cmake"}, "seed": 3})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["cold_start"], false, "{v}");
    assert!(v["model_version"].as_str().unwrap().starts_with('v'), "{v}");
    settle(st).await;
}

#[tokio::test]
async fn a_burst_of_completions_trains_a_few_times_not_once_each() {
    let app = sqlite_app().await;
    let (r, st) = (&app.router, &app.state);
    let p = "burst/app";
    for i in 0..30 {
        start(r, p, &format!("b-{i}"), &config()).await;
    }
    let mut handles = Vec::new();
    for i in 0..30 {
        let r = r.clone();
        handles.push(tokio::spawn(async move {
            complete(
                &r,
                &format!("b-{i}"),
                "success",
                100.0 + f64::from(i % 7),
                None,
            )
            .await;
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    settle(st).await;
    let n = trained(st, p).await;
    assert!(
        (1..=5).contains(&n),
        "{n} trainings for a burst of 30 completions"
    );
    let state = st.db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!(state.completed, 30);
    assert!(state.model_version >= 1);
}

/// A pipeline with a model trained on all its 40 runs, and its snapshot in memory.
async fn trained_pipeline(app: &support::TestApp, p: &str) -> Value {
    let st = &app.state;
    server_example::demo::seed_pipeline(st, p, "cmake", 40, 4)
        .await
        .unwrap();
    assert!(matches!(
        train_now(st, p, true).await.unwrap(),
        TrainOutcome::Trained { .. }
    ));
    let state = st.db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!(state.trained_at_completed, 40);
    // One new run is not 5% of 41: only a surprise makes the next completion due.
    assert!(RetrainPolicy::default().new_runs_needed(41) > 1);
    let (s, v) = api(
        &app.router,
        "POST",
        "/optimize",
        Some(json!({"pipeline": p, "context": {"tool": "cmake"}, "seed": 1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["config"].clone()
}

#[tokio::test]
async fn an_oom_killed_build_retrains_at_once() {
    let app = sqlite_app().await;
    let (r, st) = (&app.router, &app.state);
    let p = "oom/app";
    let config = trained_pipeline(&app, p).await;
    start(r, p, "o-1", &config).await;
    complete(r, "o-1", "failure", 50.0, Some(OOM_LOG)).await;
    settle(st).await;
    assert_eq!(trained(st, p).await, 2, "the OOM kill retrained the model");
    assert_eq!(trigger_count(st, "surprise"), 1);
    let state = st.db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!((state.trained_at_completed, state.surprise_at), (41, 41));
    // Covered by that training: the next ordinary completion is no surprise.
    start(r, p, "o-2", &config).await;
    complete(r, "o-2", "cancelled", 1.0, None).await;
    settle(st).await;
    assert_eq!(trained(st, p).await, 2);
}

#[tokio::test]
async fn a_duration_far_from_the_prediction_retrains_at_once() {
    let app = sqlite_app().await;
    let (r, st) = (&app.router, &app.state);
    let p = "slow/app";
    let config = trained_pipeline(&app, p).await;
    start(r, p, "s-1", &config).await;
    complete(r, "s-1", "success", 50_000.0, None).await;
    settle(st).await;
    assert_eq!(trained(st, p).await, 2, "the surprising duration retrained");
    assert_eq!(trigger_count(st, "surprise"), 1);
}

#[tokio::test]
async fn retrain_every_keeps_the_fixed_counter() {
    let app = sqlite_app_with(|c| c.retrain = RetrainPolicy::every(5)).await;
    let (r, st) = (&app.router, &app.state);
    let p = "every/app";
    for i in 0..12 {
        let id = format!("e-{i}");
        start(r, p, &id, &config()).await;
        complete(r, &id, "success", 100.0 + f64::from(i), None).await;
        settle(st).await;
    }
    // The first model at 2 successes, then after 5 more completions each: at 7 and 12.
    let state = st.db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!(trained(st, p).await, 3);
    assert_eq!(state.trained_at_completed, 12);
}

#[tokio::test]
async fn a_stored_run_the_rules_refuse_is_skipped_and_old_versions_are_pruned() {
    use inframind_core::telemetry::{BuildConfig, RunStatus};
    use server_example::db::{Completion, NewRun};
    let app = sqlite_app_with(|c| {
        c.keep_models = 2;
        c.retrain = RetrainPolicy::every(1);
    })
    .await;
    let (r, st) = (&app.router, &app.state);
    let p = "stored/app";
    let good = BuildConfig {
        concurrency: 4,
        cpu_cores: 4.0,
        memory_bytes: 8 << 30,
    };
    let seeded = (0..3)
        .map(|i| {
            let run_id = format!("old-{i}");
            let config = good;
            (
                NewRun {
                    run_id: run_id.clone(),
                    pipeline: p.into(),
                    tool: "cmake".into(),
                    config: Some(config),
                    labels: Default::default(),
                    canonical: String::new(),
                    started_at: 0.0,
                },
                vec![],
                Completion {
                    run_id,
                    final_status: RunStatus::Success,
                    duration_s: 100.0 + f64::from(i),
                    canonical: String::new(),
                    response: String::new(),
                },
            )
        })
        .collect();
    st.db.seed_runs(seeded).await.unwrap();
    // Changed straight in the database, as a server before the range rules would have stored
    // it: 1e39 cores is finite but overflows the model's f32 features.
    sqlx::query("UPDATE runs SET cpu_cores = 1e39 WHERE run_id = 'old-1'")
        .execute(st.db.pool())
        .await
        .unwrap();
    // Five more builds through the API, each followed by a training.
    for i in 0..5 {
        let id = format!("new-{i}");
        start(r, p, &id, &config()).await;
        complete(r, &id, "success", 101.0 + f64::from(i), None).await;
        settle(st).await;
    }
    assert!(
        trained(st, p).await >= 3,
        "{:?}",
        st.db.trainings(p).await.unwrap()
    );
    let failed = st.db.trainings(p).await.unwrap();
    assert!(failed.iter().all(|t| t.outcome != "failed"), "{failed:?}");
    let versions = st.store.list(p).unwrap();
    assert_eq!(
        versions.len(),
        2,
        "kept the newest 2 of {:?}",
        versions.iter().map(|v| v.version).collect::<Vec<_>>()
    );
    assert!(versions[1].version >= 3);
}
