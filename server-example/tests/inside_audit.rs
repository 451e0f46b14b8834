//! The alert decision's audit row commits before the safety state moves: a delivery whose
//! audit failed is decided afresh when retried, not suppressed as a duplicate.

mod support;

use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};
use support::{api, sqlite_app};

#[tokio::test]
async fn a_failed_audit_leaves_cooldown_and_dedup_unchanged() {
    let app = sqlite_app().await;
    let r = &app.router;
    let policy = json!({"name": "restart",
                        "condition": {"labels": {"alertname": "Crash"}},
                        "action": {"tool": "restart_pod", "params": {"pod": "${label.pod}"}},
                        "safety": {"cooldown": "10m"}});
    let (s, v) = api(r, "POST", "/policies", Some(policy)).await;
    assert_eq!(s, 201, "{v}");
    let hook = json!({"version": "4", "status": "firing", "receiver": "im", "groupKey": "g",
                      "alerts": [{"status": "firing",
                                  "labels": {"alertname": "Crash", "pod": "cart-1"},
                                  "startsAt": "2024-05-01T10:00:00Z"}]});

    // The audit table refuses writes for a while.
    let url = format!("sqlite://{}", app.dir.path().join("im.db").display());
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(&url).await.unwrap();
    c.execute(
        "CREATE TRIGGER audit_down BEFORE INSERT ON decisions \
         BEGIN SELECT RAISE(ABORT, 'audit down'); END",
    )
    .await
    .unwrap();
    let (s, v) = api(r, "POST", "/alerts", Some(hook.clone())).await;
    assert!(s.is_server_error(), "{s} {v}");
    c.execute("DROP TRIGGER audit_down").await.unwrap();
    c.close().await.unwrap();

    // The retry is decided again (not a duplicate, not cooling down) and audited.
    let (s, v) = api(r, "POST", "/alerts", Some(hook.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decisions"][0]["outcome"], "matched", "{v}");
    let (_, d) = api(r, "GET", "/alerts/decisions", None).await;
    assert_eq!(d["decisions"].as_array().unwrap().len(), 1, "{d}");
    // Now that it is recorded, the same delivery again is suppressed.
    let (_, v) = api(r, "POST", "/alerts", Some(hook)).await;
    assert_eq!(v["decisions"][0]["outcome"], "suppressed", "{v}");
}
