//! A real Alertmanager (Debian prometheus-alertmanager) with a webhook receiver pointing at the
//! server on loopback; an alert sent with `amtool alert add`; the decision read back through
//! the API. Run by scripts/suites/60-server.sh.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{api, TOKEN};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn alertmanager_bin() -> String {
    std::env::var("ALERTMANAGER_BIN").unwrap_or_else(|_| {
        for c in ["prometheus-alertmanager", "alertmanager"] {
            if Command::new(c).arg("--version").output().is_ok() {
                return c.to_string();
            }
        }
        panic!("no alertmanager binary: install Debian package prometheus-alertmanager")
    })
}

#[tokio::test]
#[ignore = "needs Alertmanager and amtool: run by scripts/suites/60-server.sh"]
async fn alertmanager_webhook_decision_is_visible_through_the_api() {
    let app = support::sqlite_app().await;
    let (s, v) = api(
        &app.router,
        "POST",
        "/policies",
        Some(json!({"name": "restart-crashloop",
                    "condition": {"matchers": ["alertname=\"KubePodCrashLooping\""]},
                    "action": {"tool": "restart_pod", "params": {"pod": "${label.pod}"}}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_port = listener.local_addr().unwrap().port();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let am_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        format!(
            "route:\n  receiver: inframind\n  group_by: [alertname]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: inframind\n  \
             webhook_configs:\n  - url: http://127.0.0.1:{server_port}/alerts\n    \
             send_resolved: false\n    http_config:\n      authorization:\n        type: Bearer\n        \
             credentials: {TOKEN}\n"
        ),
    )
    .unwrap();
    let _am = Killed(
        Command::new(alertmanager_bin())
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start alertmanager"),
    );
    let am_url = format!("http://127.0.0.1:{am_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let added = Command::new("amtool")
            .args([
                "alert",
                "add",
                "alertname=KubePodCrashLooping",
                "pod=cart-7",
                "namespace=shop",
                "--alertmanager.url",
                &am_url,
            ])
            .output()
            .expect("amtool not found: install Debian package prometheus-alertmanager");
        if added.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "amtool alert add kept failing: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    loop {
        let (s, v) = api(&app.router, "GET", "/alerts/decisions", None).await;
        assert_eq!(s, 200);
        if let Some(d) = v["decisions"].as_array().and_then(|a| a.first()) {
            assert_eq!(d["policy"], "restart-crashloop", "{v}");
            assert_eq!(d["outcome"], "matched", "{v}");
            assert_eq!(d["alertname"], "KubePodCrashLooping");
            assert_eq!(d["action"]["params"]["pod"], "cart-7");
            assert_eq!(d["receiver"], "inframind");
            assert_eq!(d["execution"]["executor"], "record-only");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager never delivered the alert to /alerts"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
