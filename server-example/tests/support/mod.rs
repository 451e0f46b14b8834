//! Helpers shared by the integration tests: an app on a temporary SQLite file or a fresh
//! PostgreSQL database, and one-shot requests.
#![allow(dead_code, unreachable_pub)]

pub mod storage;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use server_example::config::{Config, Secret};
use server_example::AppState;
use sqlx::{AnyConnection, Connection, Executor};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";
pub const GITHUB_SECRET: &str = "gh-secret";
pub const GITLAB_TOKEN: &str = "gl-token";

/// A test app: its state, its router and the temp dir that holds its files.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub dir: tempfile::TempDir,
}

pub fn config(db_url: &str, dir: &std::path::Path) -> Config {
    let mut c = Config::new(db_url, dir.join("models"));
    c.tokens = vec![Secret::new(TOKEN)];
    c.github_secret = Some(Secret::new(GITHUB_SECRET));
    c.gitlab_token = Some(Secret::new(GITLAB_TOKEN));
    c.n_trees = 20;
    c
}

pub async fn sqlite_app_with(f: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("im.db").display());
    let mut c = config(&url, dir.path());
    f(&mut c);
    let state = AppState::new(c).await.unwrap();
    TestApp {
        router: server_example::router(state.clone()),
        state,
        dir,
    }
}

pub async fn sqlite_app() -> TestApp {
    sqlite_app_with(|_| {}).await
}

/// The admin URL of the test PostgreSQL (set by scripts/suites/60-server.sh).
pub fn pg_admin_url() -> String {
    std::env::var("INFRAMIND_TEST_PG_URL").expect(
        "INFRAMIND_TEST_PG_URL is not set: run scripts/suites/60-server.sh (it starts PostgreSQL)",
    )
}

/// A fresh, empty database on the test PostgreSQL; returns its URL.
pub async fn fresh_pg_db() -> String {
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let name = format!("im_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = AnyConnection::connect(&admin).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

pub async fn pg_app_on(url: &str, dir: &std::path::Path) -> TestApp {
    let c = config(url, dir);
    let state = AppState::new(c).await.unwrap();
    TestApp {
        router: server_example::router(state.clone()),
        state,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// Sends one request; returns the status and the JSON body (Null when empty or not JSON).
pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let raw = body.map(|b| b.to_string());
    send_raw(
        router,
        method,
        path,
        raw.as_deref().map(str::as_bytes),
        headers,
    )
    .await
}

pub async fn send_raw(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let req = b
        .body(Body::from(body.map(<[u8]>::to_vec).unwrap_or_default()))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// An authenticated JSON request.
pub async fn api(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    send(router, method, path, body, &[("x-im-token", TOKEN)]).await
}

/// Asserts the contract's error shape and returns (code, field).
pub fn error_of(v: &serde_json::Value) -> (String, Option<String>) {
    let e = v
        .get("error")
        .unwrap_or_else(|| panic!("no error object in {v}"));
    let code = e["code"].as_str().unwrap().to_string();
    assert!(
        !e["message"].as_str().unwrap().is_empty(),
        "empty message in {v}"
    );
    assert!(e.get("field").is_some(), "no field key in {v}");
    (code, e["field"].as_str().map(String::from))
}

/// Makes `url` a database as the previous version of the server left it: only the first
/// migration of `backend` (`sqlite` or `postgres`) applied, and a pipeline `old/app` with four
/// completed runs: two successes and an OOM kill with a config, a success without one.
pub async fn previous_version_db(url: &str, backend: &str) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let first = "20261201000001_init.sql";
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
        .join(first);
    std::fs::copy(&src, dir.path().join(first)).unwrap();
    let mut conn = AnyConnection::connect(url).await.unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    conn.execute(
        "INSERT INTO pipelines (pipeline, completed, trained_at_completed, model_version) \
         VALUES ('old/app', 4, 0, 0)",
    )
    .await
    .unwrap();
    for (seq, status, config) in [
        (1, "success", true),
        (2, "oom_killed", true),
        (3, "success", true),
        (4, "success", false),
    ] {
        let (concurrency, cpu, memory) = if config {
            (Some(4i64), Some(4.0f64), Some(8i64 << 30))
        } else {
            (None, None, None)
        };
        sqlx::query(
            "INSERT INTO runs (run_id, pipeline, tool, status, concurrency, cpu_cores, \
             memory_bytes, labels, start_request, started_at, duration_s, completed_at, seq) \
             VALUES ($1, 'old/app', 'make', $2, $3, $4, $5, '{}', '{}', 1.0, 10.0, 2.0, $6)",
        )
        .bind(format!("old-{seq}"))
        .bind(status)
        .bind(concurrency)
        .bind(cpu)
        .bind(memory)
        .bind(seq as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
}

/// After the upgrade the previous version's runs are counted for the retrain policy, and the
/// pipeline gets its first model on its next completion.
pub async fn upgraded_from_previous_version(app: &TestApp) {
    let st = app
        .state
        .db
        .pipeline_state("old/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (st.completed, st.successes, st.surprise_at, st.model_version),
        (4, 2, 2, 0)
    );
    let r = &app.router;
    let (s, v) = api(
        r,
        "POST",
        "/builds/start",
        Some(
            serde_json::json!({"pipeline": "old/app", "tool": "make", "run_id": "new-1",
            "config": {"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592u64}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api(
        r,
        "POST",
        "/builds/complete",
        Some(serde_json::json!({"run_id": "new-1", "status": "success", "duration_s": 11.0})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    for _ in 0..600 {
        if app.state.trainer.is_idle() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let st = app
        .state
        .db
        .pipeline_state("old/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.completed, st.successes, st.model_version), (5, 3, 1));
}
