//! The REST API through `tower::ServiceExt::oneshot` on a temporary SQLite database.

mod support;

use inframind_core::retrain::RetrainPolicy;
use serde_json::json;
use support::{api, error_of, send, send_raw, sqlite_app, sqlite_app_with, TOKEN};

const OOM_LOG: &str = "[ 42%] Building CXX object src/CMakeFiles/app.dir/big.cpp.o\n\
    c++: fatal error: Killed signal terminated program cc1plus\n\
    compilation terminated.\n\
    make[2]: *** [src/CMakeFiles/app.dir/build.make:76: src/big.cpp.o] Error 1\n";

fn start_body(run_id: &str) -> serde_json::Value {
    json!({"pipeline": "team/app", "tool": "cmake", "run_id": run_id,
           "config": {"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592u64},
           "labels": {"branch": "main"}})
}

#[tokio::test]
async fn auth_is_required_except_on_health_and_metrics() {
    let app = sqlite_app().await;
    let body = Some(json!({"pipeline": "p", "tool": "make"}));
    let (s, v) = send(&app.router, "POST", "/builds/start", body.clone(), &[]).await;
    assert_eq!(s, 401);
    assert_eq!(error_of(&v).0, "unauthorized");
    let (s, v) = send(
        &app.router,
        "POST",
        "/builds/start",
        body.clone(),
        &[("x-im-token", "wrong")],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(error_of(&v).0, "unauthorized");
    let bearer = format!("Bearer {TOKEN}");
    let (s, _) = send(
        &app.router,
        "POST",
        "/builds/start",
        body,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(s, 201);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (s, _) = send(&app.router, "GET", path, None, &[]).await;
        assert_eq!(s, 200, "{path}");
    }
    let (s, v) = send(&app.router, "GET", "/openapi.json", None, &[]).await;
    assert_eq!(s, 401, "{v}");
}

#[tokio::test]
async fn every_error_has_the_one_shape() {
    let app = sqlite_app_with(|c| c.max_body_bytes = 4096).await;
    let r = &app.router;
    let tok = [("x-im-token", TOKEN)];
    // Not JSON.
    let (s, v) = send_raw(r, "POST", "/builds/start", Some(b"{nope"), &tok).await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v), ("invalid_input".into(), None));
    // A missing field is named.
    let (s, v) = api(r, "POST", "/builds/start", Some(json!({"tool": "make"}))).await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("pipeline"));
    // A wrongly typed nested field is named by its path.
    let (s, v) = api(
        r,
        "POST",
        "/optimize",
        Some(json!({"pipeline": "p", "context": {"tool": "make", "num_steps": "five"}})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("context.num_steps"));
    // A value the core refuses is named by the core.
    let (s, v) = api(
        r,
        "POST",
        "/optimize",
        Some(json!({"pipeline": "p", "context": {"tool": "make", "num_steps": 0}})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("context.num_steps"));
    let mut bad = start_body("bad");
    bad["config"]["concurrency"] = json!(0);
    let (s, v) = api(r, "POST", "/builds/start", Some(bad)).await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("config.concurrency"));
    let (s, v) = api(
        r,
        "POST",
        "/builds/step",
        Some(json!({"run_id": "x", "name": "c", "duration_s": -1.0})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("duration_s"));
    // Unknown run.
    let (s, v) = api(
        r,
        "POST",
        "/builds/step",
        Some(json!({"run_id": "ghost", "name": "c", "duration_s": 1.0})),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(error_of(&v).0, "not_found");
    let (s, v) = api(r, "GET", "/features/ghost", None).await;
    assert_eq!(s, 404);
    assert_eq!(error_of(&v).0, "not_found");
    // Conflicting start.
    let (s, _) = api(r, "POST", "/builds/start", Some(start_body("c1"))).await;
    assert_eq!(s, 201);
    let (s, v) = api(r, "POST", "/builds/start", Some(start_body("c1"))).await;
    assert_eq!(s, 200, "the same start again is fine: {v}");
    let mut other = start_body("c1");
    other["tool"] = json!("bazel");
    let (s, v) = api(r, "POST", "/builds/start", Some(other)).await;
    assert_eq!(s, 409);
    assert_eq!(error_of(&v).0, "conflict");
    // Too large.
    let big = json!({"pipeline": "p", "tool": "x".repeat(10_000)});
    let (s, v) = api(r, "POST", "/builds/start", Some(big)).await;
    assert_eq!(s, 413);
    assert_eq!(error_of(&v).0, "payload_too_large");
    // Unknown route and wrong method.
    let (s, v) = api(r, "GET", "/nope", None).await;
    assert_eq!(s, 404);
    assert_eq!(error_of(&v).0, "not_found");
    let (s, v) = api(r, "GET", "/builds/start", None).await;
    assert_eq!(s.as_u16(), 405);
    assert_eq!(error_of(&v).0, "invalid_input");
}

#[tokio::test]
async fn completion_is_idempotent_and_oom_logs_mark_oom_killed() {
    let app = sqlite_app().await;
    let r = &app.router;
    let (s, v) = api(r, "POST", "/builds/start", Some(start_body("oom-1"))).await;
    assert_eq!((s.as_u16(), v["status"].as_str()), (201, Some("running")));
    let (s, v) = api(
        r,
        "POST",
        "/builds/step",
        Some(
            json!({"run_id": "oom-1", "name": "compile", "duration_s": 42.5,
                    "max_rss_bytes": 8_000_000_000u64, "cpu_seconds": 80.1}),
        ),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(v["step_index"], 0);
    let done = json!({"run_id": "oom-1", "status": "failure", "duration_s": 60.0,
                      "log_tail": OOM_LOG});
    let (s, first) = api(r, "POST", "/builds/complete", Some(done.clone())).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["status"], "oom_killed");
    assert_eq!(first["classification"]["category"], "oom");
    assert!(!first["classification"]["evidence"]
        .as_array()
        .unwrap()
        .is_empty());
    let (s, again) = api(r, "POST", "/builds/complete", Some(done)).await;
    assert_eq!(s, 200);
    assert_eq!(again, first, "a repeated completion answers the same");
    let (s, v) = api(
        r,
        "POST",
        "/builds/complete",
        Some(json!({"run_id": "oom-1", "status": "success", "duration_s": 60.0})),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(error_of(&v).0, "conflict");
    let (s, run) = api(r, "GET", "/builds/oom-1", None).await;
    assert_eq!(s, 200);
    assert_eq!(run["status"], "oom_killed");
    assert_eq!(run["steps"][0]["max_rss_bytes"], 8_000_000_000u64);
    let st = app
        .state
        .db
        .pipeline_state("team/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.completed, 1, "the retry did not count twice");
    // A success is not classified.
    api(r, "POST", "/builds/start", Some(start_body("ok-1"))).await;
    let (_, v) = api(
        r,
        "POST",
        "/builds/complete",
        Some(
            json!({"run_id": "ok-1", "status": "success", "duration_s": 5.0, "log_tail": OOM_LOG}),
        ),
    )
    .await;
    assert_eq!(v["status"], "success");
    assert!(v["classification"].is_null());
}

#[tokio::test]
async fn optimize_cold_start_then_warm_with_a_trained_model() {
    let app = sqlite_app().await;
    let r = &app.router;
    let req = json!({"pipeline": "demo/example-app",
                     "context": {"tool": "cmake", "max_rss_gb": 4, "num_steps": 5,
                                 "avg_step_duration_s": 60},
                     "seed": 7});
    let (s, cold) = api(r, "POST", "/optimize", Some(req.clone())).await;
    assert_eq!(s, 200, "{cold}");
    assert_eq!(cold["cold_start"], true);
    assert_eq!(cold["pipeline"], "demo/example-app");
    assert!(cold["model_version"].is_null());
    assert_eq!(
        cold["env"]["CMAKE_BUILD_PARALLEL_LEVEL"],
        cold["config"]["concurrency"].to_string()
    );
    server_example::demo::seed_pipeline(&app.state, "demo/example-app", "cmake", 120, 3)
        .await
        .unwrap();
    let out = server_example::trainer::train_now(&app.state, "demo/example-app", true)
        .await
        .unwrap();
    assert_eq!(
        out,
        server_example::trainer::TrainOutcome::Trained { version: 1 }
    );
    let (s, warm) = api(r, "POST", "/optimize", Some(req.clone())).await;
    assert_eq!(s, 200, "{warm}");
    assert_eq!(warm["cold_start"], false, "{warm}");
    assert_eq!(warm["model_version"], "v1");
    assert!(warm["predicted_duration_s"].as_f64().unwrap() > 0.0);
    assert!(!warm["rationale"].as_array().unwrap().is_empty());
    let jobs = warm["config"]["concurrency"].as_u64().unwrap();
    assert_eq!(warm["env"]["MAKEFLAGS"], format!("-j{jobs}"));
    // Same request, same seed: the same answer (the snapshot did not change).
    let (_, again) = api(r, "POST", "/optimize", Some(req)).await;
    assert_eq!(again, warm);
    let (_, metrics) = send_raw(r, "GET", "/metrics", None, &[]).await;
    assert!(metrics.is_null(), "metrics are text, not JSON");
}

#[tokio::test]
async fn completed_builds_retrain_in_the_background() {
    let app = sqlite_app_with(|c| c.retrain = RetrainPolicy::every(15)).await;
    let r = &app.router;
    let history = inframind_core::demo::demo_history("cargo", 30, 9);
    for run in &history {
        let (s, _) = api(
            r,
            "POST",
            "/builds/start",
            Some(
                json!({"pipeline": "bg/app", "tool": "cargo", "run_id": run.run_id,
                        "config": run.config}),
            ),
        )
        .await;
        assert_eq!(s, 201);
        for st in &run.steps {
            let mut b = serde_json::to_value(st).unwrap();
            b["run_id"] = json!(run.run_id);
            let (s, v) = api(r, "POST", "/builds/step", Some(b)).await;
            assert_eq!(s, 201, "{v}");
        }
        let (s, v) = api(
            r,
            "POST",
            "/builds/complete",
            Some(json!({"run_id": run.run_id, "status": run.status, "duration_s": run.duration_s})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut version = 0;
    for _ in 0..200 {
        version = app
            .state
            .db
            .pipeline_state("bg/app")
            .await
            .unwrap()
            .unwrap()
            .model_version;
        if version >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(version >= 1, "no model was trained in the background");
    let (_, v) = api(
        r,
        "POST",
        "/optimize",
        Some(json!({"pipeline": "bg/app", "context": {"tool": "cargo"}})),
    )
    .await;
    assert_eq!(v["cold_start"], false, "{v}");
    assert!(v["model_version"].as_str().unwrap().starts_with('v'));
}

#[tokio::test]
async fn features_are_returned_by_name() {
    let app = sqlite_app().await;
    let r = &app.router;
    api(r, "POST", "/builds/start", Some(start_body("f-1"))).await;
    api(
        r,
        "POST",
        "/builds/step",
        Some(
            json!({"run_id": "f-1", "name": "compile", "duration_s": 30.0,
                    "cache_hits": 3, "cache_misses": 1}),
        ),
    )
    .await;
    let (s, v) = api(r, "GET", "/features/f-1", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["run_id"], "f-1");
    assert_eq!(
        v["schema"],
        inframind_core::features::FeatureSchema::current().fingerprint
    );
    let f = v["features"].as_object().unwrap();
    assert_eq!(f.len(), inframind_core::features::N_FEATURES);
    for name in inframind_core::features::FEATURE_NAMES {
        assert!(f.contains_key(name), "{name} missing in {v}");
    }
    assert_eq!(f["concurrency"], 4.0);
    assert_eq!(f["cpu_cores"], 4.0);
    assert_eq!(f["memory_gib"], 8.0);
    assert_eq!(f["num_steps"], 1.0);
    // Without a config there is nothing to compute.
    api(
        r,
        "POST",
        "/builds/start",
        Some(json!({"pipeline": "team/app", "tool": "make", "run_id": "bare"})),
    )
    .await;
    let (s, v) = api(r, "GET", "/features/bare", None).await;
    assert_eq!(s, 409);
    assert_eq!(error_of(&v).0, "conflict");
}

fn policy() -> serde_json::Value {
    json!({"name": "restart-crashloop",
           "condition": {"labels": {"alertname": "KubePodCrashLooping"}},
           "action": {"tool": "restart_pod", "params": {"pod": "${label.pod}"}},
           "safety": {"cooldown": "10m"}})
}

#[tokio::test]
async fn policy_crud_is_validated() {
    let app = sqlite_app().await;
    let r = &app.router;
    let (s, v) = api(r, "POST", "/policies", Some(policy())).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = api(r, "POST", "/policies", Some(policy())).await;
    assert_eq!(s, 409);
    assert_eq!(error_of(&v).0, "conflict");
    let mut bad = policy();
    bad["name"] = json!("bad-matcher");
    bad["condition"] = json!({"matchers": ["alertname=~\"(unclosed\""]});
    let (s, v) = api(r, "POST", "/policies", Some(bad)).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_of(&v).0, "invalid_input");
    let mut unknown = policy();
    unknown["name"] = json!("typo");
    unknown["acton"] = json!({});
    let (s, v) = api(r, "POST", "/policies", Some(unknown)).await;
    assert_eq!(s, 422, "{v}");
    let mut empty = policy();
    empty["name"] = json!(" ");
    let (s, v) = api(r, "POST", "/policies", Some(empty)).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_of(&v).1.as_deref(), Some("name"));
    let (s, v) = api(r, "PUT", "/policies/other-name", Some(policy())).await;
    assert_eq!(s, 422);
    assert_eq!(error_of(&v).1.as_deref(), Some("name"));
    let mut changed = policy();
    changed["priority"] = json!(5);
    let (s, v) = api(r, "PUT", "/policies/restart-crashloop", Some(changed)).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = api(r, "GET", "/policies/restart-crashloop", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["priority"], 5);
    let (_, v) = api(r, "GET", "/policies", None).await;
    assert_eq!(v["policies"].as_array().unwrap().len(), 1);
    let (s, _) = api(r, "DELETE", "/policies/restart-crashloop", None).await;
    assert_eq!(s, 204);
    let (s, v) = api(r, "DELETE", "/policies/restart-crashloop", None).await;
    assert_eq!(s, 404);
    assert_eq!(error_of(&v).0, "not_found");
    let (s, _) = api(r, "GET", "/policies/restart-crashloop", None).await;
    assert_eq!(s, 404);
}

pub fn crashloop_webhook(pod: &str, starts_at: &str) -> serde_json::Value {
    json!({"version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
           "status": "firing", "receiver": "inframind", "groupLabels": {}, "commonLabels": {},
           "commonAnnotations": {}, "externalURL": "http://alertmanager", "truncatedAlerts": 0,
           "alerts": [{"status": "firing",
                       "labels": {"alertname": "KubePodCrashLooping", "pod": pod, "namespace": "shop"},
                       "annotations": {}, "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
                       "generatorURL": "", "fingerprint": ""}]})
}

#[tokio::test]
async fn alerts_are_decided_audited_and_visible() {
    let app = sqlite_app().await;
    let r = &app.router;
    api(r, "POST", "/policies", Some(policy())).await;
    let hook = crashloop_webhook("cart-1", "2024-05-01T10:00:00Z");
    let (s, v) = api(r, "POST", "/alerts", Some(hook.clone())).await;
    assert_eq!(s, 200, "{v}");
    let d = &v["decisions"][0];
    assert_eq!(d["outcome"], "matched", "{v}");
    assert_eq!(d["action"]["tool"], "restart_pod");
    assert_eq!(d["action"]["params"]["pod"], "cart-1");
    assert_eq!(d["execution"]["executor"], "record-only");
    assert_eq!(d["execution"]["executed"], false);
    // The same delivery again (an Alertmanager HA peer) is suppressed by the core's dedup.
    let (_, v) = api(r, "POST", "/alerts", Some(hook)).await;
    assert_eq!(v["decisions"][0]["outcome"], "suppressed", "{v}");
    let (s, v) = api(r, "GET", "/alerts/decisions?limit=10", None).await;
    assert_eq!(s, 200);
    let list = v["decisions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["outcome"], "suppressed");
    assert_eq!(list[1]["outcome"], "matched");
    assert_eq!(list[1]["policy"], "restart-crashloop");
    assert_eq!(list[1]["receiver"], "inframind");
    // Bad payloads name the field.
    let (s, v) = api(
        r,
        "POST",
        "/alerts",
        Some(json!({"version": "4", "alerts": [{}]})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_of(&v).0, "invalid_input");
    let (s, _) = api(r, "GET", "/alerts/decisions?limit=0", None).await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let app = sqlite_app().await;
    let (s, v) = api(&app.router, "GET", "/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for (path, method) in [
        ("/builds/start", "post"),
        ("/builds/step", "post"),
        ("/builds/complete", "post"),
        ("/builds/{run_id}", "get"),
        ("/optimize", "post"),
        ("/features/{run_id}", "get"),
        ("/alerts", "post"),
        ("/alerts/decisions", "get"),
        ("/policies", "get"),
        ("/policies", "post"),
        ("/policies/{name}", "get"),
        ("/policies/{name}", "put"),
        ("/policies/{name}", "delete"),
        ("/webhooks/github", "post"),
        ("/webhooks/gitlab", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in openapi.json"
        );
    }
}

/// A body that sends nothing and never ends: the request can only end by the timeout.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn a_stalled_request_times_out_with_the_error_shape() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = sqlite_app_with(|c| c.request_timeout = std::time::Duration::from_millis(200)).await;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/builds/start")
        .header("x-im-token", TOKEN)
        .header("content-type", "application/json")
        .body(axum::body::Body::new(Stalled))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 408);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_of(&v).0, "timeout");
}
