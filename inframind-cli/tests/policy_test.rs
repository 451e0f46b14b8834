//! `inframind policy test`: policies dry-run against an Alertmanager payload.

mod support;

use inframind_core::healing::{PolicySet, SystemClock, Webhook};
use support::{core_data, inframind, inframind_with, json};

fn paths() -> (String, String) {
    (
        core_data("healing/policies/k8s.yaml").display().to_string(),
        core_data("healing/webhooks/crashloop.json")
            .display()
            .to_string(),
    )
}

#[test]
fn json_lists_the_cores_dry_run_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (policies, hook) = paths();
    let r = inframind(
        dir.path(),
        &["policy", "test", &policies, &hook, "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let set = PolicySet::from_path(&policies).unwrap();
    let payload = Webhook::from_json(&std::fs::read_to_string(&hook).unwrap()).unwrap();
    let expected = set.dry_run(&payload, &SystemClock).decisions;
    assert_eq!(
        json(&r.stdout),
        serde_json::json!({ "decisions": serde_json::to_value(&expected).unwrap() })
    );
    assert!(expected.iter().all(|d| d.dry_run));
}

#[test]
fn text_is_one_row_per_decision() {
    let dir = tempfile::tempdir().unwrap();
    let (policies, hook) = paths();
    let body = std::fs::read(&hook).unwrap();
    let r = inframind_with(
        dir.path(),
        &["policy", "test", &policies, "-"],
        &[],
        Some(&body),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let set = PolicySet::from_path(&policies).unwrap();
    let payload = Webhook::from_json(&String::from_utf8(body).unwrap()).unwrap();
    let expected = set.dry_run(&payload, &SystemClock).decisions;
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1);
    assert!(lines[0].starts_with("POLICY"), "{}", lines[0]);
    for (line, d) in lines[1..].iter().zip(&expected) {
        let cells: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells[0], d.policy);
        assert_eq!(cells[1], d.alertname);
        assert_eq!(cells[2], d.status.as_str());
        assert_eq!(cells[3], d.outcome.to_string());
        assert_eq!(cells[4], d.action.as_ref().map_or("-", |a| a.tool.as_str()));
        assert_eq!(cells[5..].join("  "), d.reason);
    }
}

#[test]
fn an_invalid_policy_names_the_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_, hook) = paths();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "policies:\n  - name: broken\n    condition: {matchers: ['namespace=~\"(\"']}\n    action: {tool: x}\n",
    )
    .unwrap();
    let r = inframind(dir.path(), &["policy", "test", "bad.yaml", &hook]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "inframind: bad.yaml: policy \"broken\": invalid condition.matchers[0]: invalid matcher "
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_malformed_payload_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (policies, _) = paths();
    std::fs::write(dir.path().join("alerts.json"), "{\"alerts\": 3}").unwrap();
    let r = inframind(dir.path(), &["policy", "test", &policies, "alerts.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "inframind: alerts.json: invalid alert payload: alerts: invalid type: integer `3`, \
         expected a sequence at line 1 column 12\n"
    );
}
