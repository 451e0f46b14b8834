//! The storage suite (tests/support/storage.rs) on a real PostgreSQL, each test on a fresh
//! database. Run by scripts/suites/60-server.sh, which starts the server and sets
//! INFRAMIND_TEST_PG_URL.

mod support;

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn storage_suite_on_postgres() {
    let url = support::fresh_pg_db().await;
    let dir = tempfile::tempdir().unwrap();
    let app = support::pg_app_on(&url, dir.path()).await;
    support::storage::all(&app.state).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn readyz_turns_503_while_the_database_refuses_connections_and_recovers() {
    use sqlx::{AnyConnection, Connection, Executor};
    let url = support::fresh_pg_db().await;
    let name = url.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let app = support::pg_app_on(&url, dir.path()).await;
    let (status, _) = support::send(&app.router, "GET", "/readyz", None, &[]).await;
    assert_eq!(status, 200);
    let optimize = serde_json::json!({"pipeline": "p", "context": {"tool": "make"}});
    let (status, before) =
        support::api(&app.router, "POST", "/optimize", Some(optimize.clone())).await;
    assert_eq!(status, 200, "{before}");
    // A real outage of this database: no new connections, and the open ones are killed.
    let mut admin = AnyConnection::connect(&support::pg_admin_url())
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    let (status, body) = support::send(&app.router, "GET", "/readyz", None, &[]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(support::error_of(&body).0, "unavailable");
    let (status, body) = support::api(
        &app.router,
        "POST",
        "/builds/start",
        Some(serde_json::json!({"pipeline": "p", "tool": "make"})),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(support::error_of(&body).0, "unavailable");
    // /optimize keeps answering from memory while the database is down.
    let (status, during) = support::api(&app.router, "POST", "/optimize", Some(optimize)).await;
    assert_eq!(status, 200, "{during}");
    assert_eq!(during, before);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    let (status, body) = support::send(&app.router, "GET", "/readyz", None, &[]).await;
    assert_eq!(status, 200, "the server recovers by itself: {body}");
    let (status, body) = support::api(
        &app.router,
        "POST",
        "/builds/start",
        Some(serde_json::json!({"pipeline": "p", "tool": "make"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
async fn a_database_of_the_previous_version_is_upgraded() {
    let url = support::fresh_pg_db().await;
    support::previous_version_db(&url, "postgres").await;
    let dir = tempfile::tempdir().unwrap();
    let app = support::pg_app_on(&url, dir.path()).await;
    support::upgraded_from_previous_version(&app).await;
}
