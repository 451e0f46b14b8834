//! The storage suite (tests/support/storage.rs) on SQLite.

mod support;

#[tokio::test]
async fn storage_suite_on_sqlite() {
    let app = support::sqlite_app().await;
    support::storage::all(&app.state).await;
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("im.db").display());
    {
        let state = server_example::AppState::new(support::config(&url, dir.path()))
            .await
            .unwrap();
        support::storage::run_round_trip(&state).await;
        state.db.close().await;
    }
    let state = server_example::AppState::new(support::config(&url, dir.path()))
        .await
        .unwrap();
    let run = state.db.run("r1").await.unwrap().expect("run kept");
    assert_eq!(run.run.steps.len(), 2);
}

#[tokio::test]
async fn a_database_of_the_previous_version_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("im.db").display());
    support::previous_version_db(&url, "sqlite").await;
    let state = server_example::AppState::new(support::config(&url, dir.path()))
        .await
        .unwrap();
    let app = support::TestApp {
        router: server_example::router(state.clone()),
        state,
        dir,
    };
    support::upgraded_from_previous_version(&app).await;
}
