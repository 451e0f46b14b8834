//! The /metrics exposition checked by Prometheus' own `promtool check metrics`. Run by
//! scripts/suites/60-server.sh (Debian package prometheus).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use support::{api, send_raw, sqlite_app};

#[tokio::test]
#[ignore = "needs promtool: run by scripts/suites/60-server.sh"]
async fn metrics_pass_promtool_check() {
    let app = sqlite_app().await;
    let r = &app.router;
    api(
        r,
        "POST",
        "/optimize",
        Some(json!({"pipeline": "p", "context": {"tool": "make"}})),
    )
    .await;
    api(r, "POST", "/builds/start", Some(json!({"tool": "make"}))).await;
    api(r, "GET", "/nope", None).await;
    server_example::demo::seed_pipeline(&app.state, "p", "make", 40, 1)
        .await
        .unwrap();
    server_example::trainer::train_now(&app.state, "p", true)
        .await
        .unwrap();
    let text = app.state.metrics.render();
    assert!(text.contains(
        "inframind_http_requests_total{route=\"/optimize\",method=\"POST\",status=\"200\"} 1"
    ));
    assert!(text.contains("inframind_suggestions_total{cold_start=\"true\"} 1"));
    assert!(text.contains("inframind_trainings_total{result=\"trained\"} 1"));
    let (s, _) = send_raw(r, "GET", "/metrics", None, &[]).await;
    assert_eq!(s, 200);
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian package prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}\n---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
