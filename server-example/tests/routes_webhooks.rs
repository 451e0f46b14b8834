//! GitHub `workflow_job` and GitLab job webhooks through `oneshot`.

mod support;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use support::{api, error_of, send_raw, sqlite_app, GITHUB_SECRET, GITLAB_TOKEN};

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn job(action: &str, conclusion: Option<&str>) -> Vec<u8> {
    json!({
        "action": action,
        "workflow_job": {
            "id": 29679449, "run_id": 10946823, "run_attempt": 1, "name": "build",
            "workflow_name": "CI", "head_branch": "main", "status": action,
            "conclusion": conclusion, "runner_name": "runner-1",
            "started_at": "2024-05-01T10:00:00Z", "completed_at": "2024-05-01T10:05:00Z",
            "labels": ["ubuntu-latest"],
            "steps": [
                {"name": "checkout", "status": "completed", "conclusion": "success", "number": 1,
                 "started_at": "2024-05-01T10:00:00Z", "completed_at": "2024-05-01T10:00:10Z"},
                {"name": "make", "status": "completed", "conclusion": conclusion, "number": 2,
                 "started_at": "2024-05-01T10:00:10Z", "completed_at": "2024-05-01T10:04:50Z"}
            ]
        },
        "repository": {"full_name": "octo/app"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn github_workflow_job_with_a_good_signature_becomes_a_run() {
    let app = sqlite_app().await;
    let r = &app.router;
    let body = job("in_progress", None);
    let sig = sign(GITHUB_SECRET, &body);
    let h = [
        ("x-github-event", "workflow_job"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let (s, v) = send_raw(r, "POST", "/webhooks/github?tool=make", Some(&body), &h).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["run_id"], "github-29679449");
    assert_eq!(v["pipeline"], "octo/app/CI/build");
    let body = job("completed", Some("failure"));
    let sig = sign(GITHUB_SECRET, &body);
    let h = [
        ("x-github-event", "workflow_job"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let (s, v) = send_raw(r, "POST", "/webhooks/github?tool=make", Some(&body), &h).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "failure");
    // A redelivery changes nothing.
    let (s, again) = send_raw(r, "POST", "/webhooks/github?tool=make", Some(&body), &h).await;
    assert_eq!(s, 200);
    assert_eq!(again, v);
    let (s, run) = api(r, "GET", "/builds/github-29679449", None).await;
    assert_eq!(s, 200);
    assert_eq!(run["status"], "failure");
    assert_eq!(run["tool"], "make");
    assert_eq!(run["duration_s"], 300.0);
    assert_eq!(run["labels"]["branch"], "main");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{run}");
    assert_eq!(steps[0]["name"], "checkout");
    assert_eq!(steps[1]["duration_s"], 280.0);
    assert_eq!(steps[1]["status"], "failure");
}

#[tokio::test]
async fn github_bad_or_missing_signature_is_401() {
    let app = sqlite_app().await;
    let r = &app.router;
    let body = job("completed", Some("success"));
    let wrong = sign("not-the-secret", &body);
    for headers in [
        vec![
            ("x-github-event", "workflow_job"),
            ("x-hub-signature-256", wrong.as_str()),
        ],
        vec![("x-github-event", "workflow_job")],
        vec![
            ("x-github-event", "workflow_job"),
            ("x-hub-signature-256", "sha1=abc"),
        ],
    ] {
        let (s, v) = send_raw(r, "POST", "/webhooks/github", Some(&body), &headers).await;
        assert_eq!(s, 401, "{headers:?}: {v}");
        assert_eq!(error_of(&v).0, "unauthorized");
    }
    // A tampered body does not match a signature of the original.
    let good = sign(GITHUB_SECRET, &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let h = [
        ("x-github-event", "workflow_job"),
        ("x-hub-signature-256", good.as_str()),
    ];
    let (s, _) = send_raw(r, "POST", "/webhooks/github", Some(&tampered), &h).await;
    assert_eq!(s, 401);
    let (s, _) = api(r, "GET", "/builds/github-29679449", None).await;
    assert_eq!(s, 404, "nothing was stored");
    // Pings are answered (GitHub sends one when the hook is created).
    let ping = br#"{"zen":"Keep it logically awesome."}"#;
    let sig = sign(GITHUB_SECRET, ping);
    let h = [
        ("x-github-event", "ping"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let (s, _) = send_raw(r, "POST", "/webhooks/github", Some(ping), &h).await;
    assert_eq!(s, 200);
}

fn gitlab_job(status: &str) -> Vec<u8> {
    json!({
        "object_kind": "build", "ref": "main", "build_id": 1977, "build_name": "test",
        "build_stage": "test", "build_status": status,
        "build_started_at": "2021-02-23T02:41:37.886Z", "build_finished_at": null,
        "build_duration": if status == "running" { json!(null) } else { json!(93.5) },
        "build_failure_reason": "script_failure", "pipeline_id": 2366, "project_id": 380,
        "project_name": "gitlab-org/gitlab-test",
        "project": {"path_with_namespace": "gitlab-org/gitlab-test"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn gitlab_job_events_need_the_token() {
    let app = sqlite_app().await;
    let r = &app.router;
    let h = [
        ("x-gitlab-event", "Job Hook"),
        ("x-gitlab-token", GITLAB_TOKEN),
    ];
    let (s, v) = send_raw(
        r,
        "POST",
        "/webhooks/gitlab?tool=npm",
        Some(&gitlab_job("running")),
        &h,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["run_id"], "gitlab-1977");
    let (s, v) = send_raw(
        r,
        "POST",
        "/webhooks/gitlab?tool=npm",
        Some(&gitlab_job("success")),
        &h,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "success");
    let (_, run) = api(r, "GET", "/builds/gitlab-1977", None).await;
    assert_eq!(run["pipeline"], "gitlab-org/gitlab-test/test");
    assert_eq!(run["duration_s"], 93.5);
    assert_eq!(run["steps"].as_array().unwrap().len(), 1);
    for headers in [
        vec![("x-gitlab-event", "Job Hook"), ("x-gitlab-token", "wrong")],
        vec![("x-gitlab-event", "Job Hook")],
    ] {
        let (s, v) = send_raw(
            r,
            "POST",
            "/webhooks/gitlab",
            Some(&gitlab_job("failed")),
            &headers,
        )
        .await;
        assert_eq!(s, 401, "{v}");
        assert_eq!(error_of(&v).0, "unauthorized");
    }
}
