//! What `/optimize` keeps in memory: only pipelines the database knows, so made-up names
//! cannot fill the cache; names are checked by the core's rule.

mod support;

use serde_json::json;
use support::{api, error_of, sqlite_app};

fn optimize(pipeline: &str) -> serde_json::Value {
    json!({"pipeline": pipeline, "context": {"tool": "make"}, "seed": 1})
}

#[tokio::test]
async fn unknown_pipelines_are_answered_cold_without_a_cache_entry() {
    let app = sqlite_app().await;
    let (r, st) = (&app.router, &app.state);
    server_example::demo::seed_pipeline(st, "team/known", "make", 5, 1)
        .await
        .unwrap();
    let (s, v) = api(r, "POST", "/optimize", Some(optimize("team/known"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(st.cache.len(), 1, "a pipeline with runs is kept");
    for i in 0..600 {
        let (s, v) = api(
            r,
            "POST",
            "/optimize",
            Some(optimize(&format!("nobody/{i}"))),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["cold_start"], true, "{v}");
    }
    assert_eq!(st.cache.len(), 1, "600 unknown names added no entry");
    // Started but never completed: nothing to remember either.
    let (s, _) = api(
        r,
        "POST",
        "/builds/start",
        Some(json!({"pipeline": "team/started", "tool": "make"})),
    )
    .await;
    assert_eq!(s, 201);
    api(r, "POST", "/optimize", Some(optimize("team/started"))).await;
    assert_eq!(st.cache.len(), 1);
}

#[tokio::test]
async fn pipeline_names_follow_the_cores_rule() {
    let app = sqlite_app().await;
    let r = &app.router;
    for bad in ["  ".to_string(), "a\0b".to_string(), "x".repeat(513)] {
        let (s, v) = api(r, "POST", "/optimize", Some(optimize(&bad))).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            error_of(&v),
            ("invalid_input".into(), Some("pipeline".into()))
        );
    }
    let (s, v) = api(r, "POST", "/optimize", Some(optimize(&"x".repeat(512)))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.state.cache.len(), 0);
}

#[tokio::test]
async fn no_safe_config_has_its_own_code_and_names_no_field() {
    let app = sqlite_app().await;
    let (s, v) = api(
        &app.router,
        "POST",
        "/optimize",
        Some(json!({"pipeline": "p", "seed": 1,
                    "context": {"tool": "make", "capacity": {"cpu_cores": 0.01, "memory_bytes": 1}}})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_of(&v), ("no_safe_config".into(), None));
}
