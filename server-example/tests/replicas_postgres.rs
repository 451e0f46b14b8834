//! Two app instances (replicas) in one process on one real PostgreSQL database, sharing the
//! model store folder as replicas behind a load balancer would. Run by
//! scripts/suites/60-server.sh, which starts PostgreSQL and sets INFRAMIND_TEST_PG_URL.

mod support;

use std::time::Duration;

use inframind_core::retrain::RetrainPolicy;
use serde_json::json;
use server_example::trainer::{train_now, TrainOutcome, TRAINER_LOCK_KEY};
use server_example::AppState;
use sqlx::{AnyConnection, Connection};
use support::api;

async fn replica(url: &str, models: &std::path::Path) -> (AppState, axum::Router) {
    replica_with(url, models, 1_000_000).await
}

async fn replica_with(
    url: &str,
    models: &std::path::Path,
    retrain_every: u64,
) -> (AppState, axum::Router) {
    let mut c = support::config(url, models);
    c.cache_ttl = Duration::from_millis(100);
    // Trainings in these tests are explicit: API completions queue none (no test here
    // completes the 2 successful runs with a config that a first model would need).
    c.retrain = RetrainPolicy::every(retrain_every);
    let state = AppState::new(c).await.unwrap();
    (state.clone(), server_example::router(state))
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn a_run_started_on_one_replica_is_completed_on_the_other() {
    let url = support::fresh_pg_db().await;
    let dir = tempfile::tempdir().unwrap();
    let (_a, ra) = replica(&url, dir.path()).await;
    let (_b, rb) = replica(&url, dir.path()).await;
    let (s, v) = api(
        &ra,
        "POST",
        "/builds/start",
        Some(
            json!({"pipeline": "team/app", "tool": "cmake", "run_id": "x-1",
                    "config": {"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592u64}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api(
        &rb,
        "POST",
        "/builds/step",
        Some(json!({"run_id": "x-1", "name": "compile", "duration_s": 12.0})),
    )
    .await;
    assert_eq!(
        (s.as_u16(), v["step_index"].as_i64()),
        (201, Some(0)),
        "{v}"
    );
    let done = json!({"run_id": "x-1", "status": "success", "duration_s": 20.0});
    let (s, first) = api(&rb, "POST", "/builds/complete", Some(done.clone())).await;
    assert_eq!(s, 200, "{first}");
    // The retry lands on the other replica: same answer, nothing changes.
    let (s, again) = api(&ra, "POST", "/builds/complete", Some(done)).await;
    assert_eq!(s, 200);
    assert_eq!(again, first);
    let (_, run) = api(&ra, "GET", "/builds/x-1", None).await;
    assert_eq!(run["status"], "success");
    assert_eq!(run["steps"].as_array().unwrap().len(), 1);
    // Steps sent to both replicas at once get distinct indices.
    api(
        &ra,
        "POST",
        "/builds/start",
        Some(json!({"pipeline": "team/app", "tool": "cmake", "run_id": "x-2"})),
    )
    .await;
    let mut handles = Vec::new();
    for i in 0..40 {
        let r = if i % 2 == 0 { ra.clone() } else { rb.clone() };
        handles.push(tokio::spawn(async move {
            let (s, v) = api(
                &r,
                "POST",
                "/builds/step",
                Some(json!({"run_id": "x-2", "name": format!("s{i}"), "duration_s": 1.0})),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            v["step_index"].as_i64().unwrap()
        }));
    }
    let mut idx = Vec::new();
    for h in handles {
        idx.push(h.await.unwrap());
    }
    idx.sort_unstable();
    assert_eq!(idx, (0..40).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn replicas_see_each_others_history_and_models() {
    let url = support::fresh_pg_db().await;
    let dir = tempfile::tempdir().unwrap();
    let (_a, ra) = replica(&url, dir.path()).await;
    let (b, _rb) = replica(&url, dir.path()).await;
    let req = json!({"pipeline": "demo/cargo-app", "context": {"tool": "cargo"}, "seed": 1});
    let (_, cold) = api(&ra, "POST", "/optimize", Some(req.clone())).await;
    assert_eq!(cold["cold_start"], true, "{cold}");
    server_example::demo::seed_pipeline(&b, "demo/cargo-app", "cargo", 80, 5)
        .await
        .unwrap();
    assert_eq!(
        train_now(&b, "demo/cargo-app", true).await.unwrap(),
        TrainOutcome::Trained { version: 1 }
    );
    let mut warm = serde_json::Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, v) = api(&ra, "POST", "/optimize", Some(req.clone())).await;
        if v["model_version"] == "v1" {
            warm = v;
            break;
        }
    }
    assert_eq!(
        warm["cold_start"], false,
        "replica A never saw B's model: {warm}"
    );
    assert!(
        warm["rationale"][0].as_str().unwrap().contains("80 runs"),
        "{warm}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn only_one_replica_trains_at_a_time() {
    let url = support::fresh_pg_db().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = replica_with(&url, dir.path(), 50).await;
    let (b, _) = replica_with(&url, dir.path(), 50).await;
    server_example::demo::seed_pipeline(&a, "demo/cmake-app", "cmake", 120, 2)
        .await
        .unwrap();
    // While someone else holds the training lock, neither replica trains.
    let mut holder = AnyConnection::connect(&url).await.unwrap();
    let got: (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(TRAINER_LOCK_KEY)
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert!(got.0);
    assert_eq!(
        train_now(&a, "demo/cmake-app", true).await.unwrap(),
        TrainOutcome::Busy
    );
    assert_eq!(
        train_now(&b, "demo/cmake-app", true).await.unwrap(),
        TrainOutcome::Busy
    );
    holder.close().await.unwrap();
    // Both see the pipeline due at the same moment: exactly one trains it.
    let (oa, ob) = tokio::join!(
        train_now(&a, "demo/cmake-app", false),
        train_now(&b, "demo/cmake-app", false)
    );
    let outcomes = [oa.unwrap(), ob.unwrap()];
    let trained = outcomes
        .iter()
        .filter(|o| matches!(o, TrainOutcome::Trained { .. }))
        .count();
    assert_eq!(trained, 1, "{outcomes:?}");
    for o in &outcomes {
        assert!(
            matches!(
                o,
                TrainOutcome::Trained { .. } | TrainOutcome::Busy | TrainOutcome::Skipped(_)
            ),
            "{o:?}"
        );
    }
    // And trainings never overlapped in time.
    let log = a.db.trainings("demo/cmake-app").await.unwrap();
    assert_eq!(
        log.iter().filter(|t| t.outcome == "trained").count(),
        1,
        "{log:?}"
    );
    for w in log.windows(2) {
        assert!(w[0].finished_at <= w[1].started_at, "{log:?}");
    }
    let st =
        a.db.pipeline_state("demo/cmake-app")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(st.model_version, 1);
    assert_eq!(st.trained_at_completed, 120);
}
