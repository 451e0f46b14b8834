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
