//! Idempotent steps: a client's `step_id` and a CI provider's step number are stored once per
//! run, and a webhook's steps and completion are one unit.

mod support;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use sqlx::{AnyConnection, Connection, Executor};
use support::{api, send_raw, sqlite_app, sqlite_app_with, GITHUB_SECRET};

#[tokio::test]
async fn the_same_step_posted_three_times_is_stored_once() {
    let app = sqlite_app().await;
    let r = &app.router;
    let (s, _) = api(
        r,
        "POST",
        "/builds/start",
        Some(json!({"pipeline": "p/steps", "tool": "make", "run_id": "s1"})),
    )
    .await;
    assert_eq!(s, 201);
    let step = json!({"run_id": "s1", "name": "compile", "duration_s": 12.5, "step_id": "c-1"});
    for _ in 0..3 {
        let (s, v) = api(r, "POST", "/builds/step", Some(step.clone())).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v, json!({"run_id": "s1", "step_index": 0}));
    }
    let other = json!({"run_id": "s1", "name": "test", "duration_s": 3.0, "step_id": "t-1"});
    let (_, v) = api(r, "POST", "/builds/step", Some(other)).await;
    assert_eq!(v["step_index"], 1);
    // Without an id a step is appended each time, as before.
    let plain = json!({"run_id": "s1", "name": "lint", "duration_s": 1.0});
    for i in 2..4 {
        let (_, v) = api(r, "POST", "/builds/step", Some(plain.clone())).await;
        assert_eq!(v["step_index"], i);
    }
    assert_eq!(app.state.db.count_steps().await.unwrap(), 4);
    let (_, run) = api(r, "GET", "/builds/s1", None).await;
    assert_eq!(run["steps"].as_array().unwrap().len(), 4, "{run}");
    // A bad id is refused like a bad run id.
    let bad = json!({"run_id": "s1", "name": "x", "duration_s": 1.0, "step_id": ""});
    let (s, _) = api(r, "POST", "/builds/step", Some(bad)).await;
    assert_eq!(s, 422);
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn completed_job(n_steps: usize) -> Vec<u8> {
    let steps: Vec<serde_json::Value> = (1..=n_steps)
        .map(|n| {
            json!({"name": format!("step {n}"), "status": "completed", "conclusion": "success",
                   "number": n, "started_at": "2024-05-01T10:00:00Z",
                   "completed_at": "2024-05-01T10:00:01Z"})
        })
        .collect();
    json!({
        "action": "completed",
        "workflow_job": {
            "id": 777, "run_id": 10, "name": "build", "workflow_name": "CI",
            "head_branch": "main", "status": "completed", "conclusion": "success",
            "started_at": "2024-05-01T10:00:00Z", "completed_at": "2024-05-01T10:30:00Z",
            "steps": steps
        },
        "repository": {"full_name": "octo/app"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_github_job_delivered_three_times_is_stored_once() {
    let app = sqlite_app().await;
    let r = &app.router;
    let body = completed_job(300);
    let sig = sign(&body);
    let headers = [
        ("x-github-event", "workflow_job"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (s, v) = send_raw(r, "POST", "/webhooks/github", Some(&body), &headers).await;
        assert_eq!(s, 200, "{v}");
        answers.push(v);
    }
    assert_eq!(answers[0]["status"], "success", "{}", answers[0]);
    assert_eq!(answers[1], answers[0]);
    assert_eq!(answers[2], answers[0]);
    assert_eq!(app.state.db.count_steps().await.unwrap(), 300);
    let (_, run) = api(r, "GET", "/builds/github-777", None).await;
    assert_eq!(run["steps"].as_array().unwrap().len(), 300);
    let state = app
        .state
        .db
        .pipeline_state("octo/app/CI/build")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.completed, 1);
}

#[tokio::test]
async fn a_redelivery_after_a_partial_write_completes_the_run_without_duplicates() {
    // The first delivery's steps were stored but its answer lost before the completion (the
    // way a timed-out delivery left runs): the redelivery adds only what is missing.
    let app = sqlite_app().await;
    let r = &app.router;
    let start = json!({"pipeline": "octo/app/CI/build", "tool": "unknown",
                       "run_id": "github-777"});
    api(r, "POST", "/builds/start", Some(start)).await;
    for n in 1..=100 {
        let step = json!({"run_id": "github-777", "name": format!("step {n}"), "duration_s": 1.0,
                          "step_id": format!("github-step-{n}")});
        let (s, _) = api(r, "POST", "/builds/step", Some(step)).await;
        assert_eq!(s, 201);
    }
    let body = completed_job(300);
    let sig = sign(&body);
    let headers = [
        ("x-github-event", "workflow_job"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let (s, v) = send_raw(r, "POST", "/webhooks/github", Some(&body), &headers).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(app.state.db.count_steps().await.unwrap(), 300);
}

#[tokio::test]
async fn the_server_starts_on_a_database_of_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("im.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // The schema as the previous release left it: its two migrations, and a run with steps.
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for f in [
        "20261201000001_init.sql",
        "20261201000002_retrain_policy.sql",
    ] {
        std::fs::copy(src.join(f), old.join(f)).unwrap();
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let mut c = AnyConnection::connect(&url).await.unwrap();
    c.execute(
        "INSERT INTO pipelines (pipeline) VALUES ('p/old');
         INSERT INTO runs (run_id, pipeline, tool, status, labels, start_request, started_at,
                           n_steps)
         VALUES ('old-1', 'p/old', 'make', 'running', '{}', '{}', 1700000000.0, 1);
         INSERT INTO steps (run_id, step_index, name, duration_s, status)
         VALUES ('old-1', 0, 'compile', 5.0, 'success');
         INSERT INTO policies (name, spec, updated_at) VALUES ('old-policy',
           '{\"name\":\"old-policy\",\"condition\":{\"labels\":{\"alertname\":\"Old\"}},\"action\":{\"tool\":\"t\"}}',
           1700000000.0);",
    )
    .await
    .unwrap();
    c.close().await.unwrap();
    pool.close().await;

    let app = sqlite_app_with(|cfg| cfg.db_url = url.clone()).await;
    let r = &app.router;
    let step = json!({"run_id": "old-1", "name": "test", "duration_s": 2.0, "step_id": "t"});
    for _ in 0..2 {
        let (s, v) = api(r, "POST", "/builds/step", Some(step.clone())).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["step_index"], 1);
    }
    let (_, run) = api(r, "GET", "/builds/old-1", None).await;
    assert_eq!(run["steps"].as_array().unwrap().len(), 2, "{run}");
    let hook = json!({"version": "4", "status": "firing", "receiver": "im", "groupKey": "g",
                      "alerts": [{"status": "firing", "labels": {"alertname": "Old"},
                                  "startsAt": "2024-05-01T10:00:00Z"}]});
    let (s, v) = api(r, "POST", "/alerts", Some(hook)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decisions"][0]["policy"], "old-policy", "{v}");
}
