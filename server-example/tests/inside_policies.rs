//! The policies behind `/alerts`: bounded by the core when stored, compiled once per change
//! (not per call), and a change made through another replica picked up.

mod support;

use serde_json::json;
use support::{api, error_of, sqlite_app, sqlite_app_with};

fn policy(name: &str, matchers: Vec<String>) -> serde_json::Value {
    json!({"name": name,
           "condition": {"matchers": matchers},
           "action": {"tool": "restart_pod", "params": {"pod": "${label.pod}"}}})
}

#[tokio::test]
async fn a_pathological_matcher_is_a_422_naming_policy_and_matcher() {
    let app = sqlite_app().await;
    let r = &app.router;
    let matchers = vec![
        r#"severity=~"critical|page""#.to_string(),
        r#"job=~"(?:\w+\d{300}){3}""#.to_string(),
    ];
    let (s, v) = api(
        r,
        "POST",
        "/policies",
        Some(policy("stall", matchers.clone())),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_of(&v).0, "invalid_input");
    let text = v.to_string();
    assert!(text.contains("stall"), "{text}");
    assert!(text.contains("condition.matchers[1]"), "{text}");
    assert!(text.contains("{300}"), "{text}");
    // PUT is checked the same way, and nothing was stored.
    let (s, _) = api(r, "PUT", "/policies/stall", Some(policy("stall", matchers))).await;
    assert_eq!(s, 422);
    let (_, v) = api(r, "GET", "/policies", None).await;
    assert_eq!(v["policies"], json!([]));
}

#[tokio::test]
async fn a_policy_over_the_set_budget_is_a_422_naming_it() {
    let app = sqlite_app().await;
    let r = &app.router;
    // 32 regexes of the largest size class per policy: four fill the set's 32 MiB.
    let big = |p: usize| {
        let ms = (0..32)
            .map(|i| format!(r#"l{i}=~"(?:\w+\d{{5}}){{3}}|p{p}""#))
            .collect();
        policy(&format!("big-{p}"), ms)
    };
    for p in 0..4 {
        let (s, v) = api(r, "POST", "/policies", Some(big(p))).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = api(r, "POST", "/policies", Some(big(4))).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("big-4"), "{v}");
    // Replacing one of the four is still fine.
    let (s, v) = api(r, "PUT", "/policies/big-0", Some(big(0))).await;
    assert_eq!(s, 200, "{v}");
}

fn hook(labels: serde_json::Value) -> serde_json::Value {
    json!({"version": "4", "status": "firing", "receiver": "im", "groupKey": "g",
           "alerts": [{"status": "firing", "labels": labels,
                       "startsAt": "2024-05-01T10:00:00Z"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_compile_the_policies_once_not_per_call() {
    let app = sqlite_app().await;
    let r = &app.router;
    // Three large but valid policies of 30 Unicode-class regexes each: the shape that took
    // seconds per call when every call recompiled them.
    let n = 30;
    for p in 0..3 {
        let ms = (0..n)
            .map(|i| format!(r#"l{i}=~"(?:\w+\d{{5}}){{3}}""#))
            .collect();
        let (s, v) = api(
            r,
            "POST",
            "/policies",
            Some(policy(&format!("wide-{p}"), ms)),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), json!("Wide"));
    labels.insert("pod".into(), json!("cart-1"));
    for i in 0..n {
        labels.insert(format!("l{i}"), json!("ab12345cd67890ef11111"));
    }
    let compiled = app.state.db.policy_compilations();
    let calls = async {
        for k in 0..40 {
            let mut l = serde_json::Value::Object(labels.clone());
            // A new alert each call, so none is a duplicate delivery.
            l["pod"] = json!(format!("cart-{k}"));
            let (s, v) = api(r, "POST", "/alerts", Some(hook(l))).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["decisions"].as_array().unwrap().len(), 3, "{v}");
        }
    };
    // A guard against a stall, not a speed claim.
    tokio::time::timeout(std::time::Duration::from_secs(300), calls)
        .await
        .expect("40 /alerts calls did not finish");
    assert_eq!(
        app.state.db.policy_compilations(),
        compiled,
        "the set compiled at the last change must serve every call"
    );
}

#[tokio::test]
async fn a_change_through_another_replica_is_picked_up() {
    let a = sqlite_app().await;
    let db = a.dir.path().join("im.db");
    let b = sqlite_app_with(|c| {
        c.db_url = format!("sqlite://{}?mode=rwc", db.display());
    })
    .await;
    let labels = json!({"alertname": "Seen", "pod": "p-1"});
    let (s, v) = api(&b.router, "POST", "/alerts", Some(hook(labels.clone()))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decisions"], json!([]));
    let before = b.state.db.policy_compilations();
    let p = json!({"name": "seen",
                   "condition": {"labels": {"alertname": "Seen"}},
                   "action": {"tool": "restart_pod"}});
    let (s, v) = api(&a.router, "POST", "/policies", Some(p)).await;
    assert_eq!(s, 201, "{v}");
    let mut again = labels;
    again["pod"] = json!("p-2");
    let (s, v) = api(&b.router, "POST", "/alerts", Some(hook(again))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decisions"][0]["policy"], "seen", "{v}");
    assert_eq!(b.state.db.policy_compilations(), before + 1);
}
