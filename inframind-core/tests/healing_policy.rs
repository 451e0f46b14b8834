#![cfg(feature = "healing")]
//! Policy evaluation end to end: the example policy file against a real-shaped Alertmanager
//! webhook, with the safety state driven by a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use inframind_core::healing::{
    AlertStatus, Clock, Decision, EvalOptions, ManualClock, Outcome, PolicySet, SafetyConfig,
    SafetyState, Webhook,
};
use inframind_core::Error;
use jiff::Timestamp;

fn policies() -> PolicySet {
    PolicySet::from_path(support::data("policies/k8s.yaml")).unwrap()
}

fn crashloop() -> Webhook {
    Webhook::from_json(&std::fs::read_to_string(support::data("webhooks/crashloop.json")).unwrap())
        .unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn summary(d: &Decision) -> (String, String, Outcome, bool) {
    (
        d.policy.clone(),
        d.fingerprint.clone(),
        d.outcome,
        d.dry_run,
    )
}

#[test]
fn example_webhook_gives_the_expected_decisions_in_order() {
    let clock = ManualClock::new(t("2024-05-01T10:03:00Z"));
    let mut state = SafetyState::default();
    let eval = policies().evaluate(&crashloop(), &mut state, &clock, EvalOptions::default());
    let got: Vec<_> = eval.decisions.iter().map(summary).collect();
    let s = |p: &str, f: &str, o, d| (p.to_string(), f.to_string(), o, d);
    assert_eq!(
        got,
        vec![
            s(
                "page-critical-dry",
                "9f00aa11bb22cc33",
                Outcome::Matched,
                true
            ),
            s(
                "restart-crashlooping-pod",
                "2c7e5a8f1b3d4e60",
                Outcome::Matched,
                false
            ),
            s(
                "restart-crashlooping-pod",
                "0000000000000abc",
                Outcome::Rejected,
                false
            ),
            s(
                "restart-crashlooping-pod",
                "1111111111111111",
                Outcome::Rejected,
                false
            ),
            s(
                "notify-resolved",
                "1111111111111111",
                Outcome::Matched,
                false
            ),
        ]
    );
    let restart = &eval.decisions[1];
    let action = restart.action.as_ref().unwrap();
    assert_eq!(action.tool, "restart_pod");
    assert_eq!(action.params["namespace"], "shop");
    assert_eq!(action.params["pod"], "cart-7d9f8b6c5-x2x9k");
    assert!(action.params["reason"]
        .as_str()
        .unwrap()
        .contains("CrashLoopBackOff"));
    // No pod label: never run restart_pod with an empty pod name.
    assert!(eval.decisions[2].action.is_none());
    assert!(
        eval.decisions[2].reason.contains("${label.pod}"),
        "{}",
        eval.decisions[2].reason
    );
    // Resolved alerts do not trigger policies that did not ask for them.
    assert!(eval.decisions[3].reason.contains("resolved"));
    assert_eq!(eval.decisions[4].status, AlertStatus::Resolved);
    assert_eq!(
        eval.decisions[4].action.as_ref().unwrap().params["text"],
        "resolved: KubePodCrashLooping (1111111111111111)"
    );
    // One audit record per decision, stamped with the clock's time and the receiver.
    assert_eq!(eval.audit.len(), eval.decisions.len());
    assert!(eval
        .audit
        .iter()
        .all(|a| a.at == clock.now() && a.receiver == "inframind"));
    // Only non-dry-run matched decisions are actions to run.
    let to_run: Vec<_> = eval.actions().map(|d| d.policy.as_str()).collect();
    assert_eq!(to_run, ["restart-crashlooping-pod", "notify-resolved"]);
}

#[test]
fn order_does_not_depend_on_file_order() {
    let set = policies();
    let mut specs = set.specs();
    specs.reverse();
    let reversed = PolicySet::new(specs).unwrap();
    let clock = ManualClock::new(t("2024-05-01T10:03:00Z"));
    let a = set.dry_run(&crashloop(), &clock);
    let b = reversed.dry_run(&crashloop(), &clock);
    assert_eq!(a, b);
}

#[test]
fn duplicate_delivery_then_cooldown_then_acts_again() {
    let set = policies();
    let hook = crashloop();
    let clock = ManualClock::new(t("2024-05-01T10:03:00Z"));
    let mut state =
        SafetyState::new(SafetyConfig::default().with_dedup_ttl(Duration::from_secs(300)));
    let restart = |e: &inframind_core::healing::Evaluation| {
        e.decisions
            .iter()
            .find(|d| d.policy == "restart-crashlooping-pod" && d.fingerprint == "2c7e5a8f1b3d4e60")
            .cloned()
            .unwrap()
    };
    let first = set.evaluate(&hook, &mut state, &clock, EvalOptions::default());
    assert_eq!(restart(&first).outcome, Outcome::Matched);

    // The HA peer delivers the same notification 2 s later.
    clock.advance(Duration::from_secs(2));
    let dup = set.evaluate(&hook, &mut state, &clock, EvalOptions::default());
    let d = restart(&dup);
    assert_eq!(d.outcome, Outcome::Suppressed);
    assert!(d.reason.starts_with("duplicate delivery"), "{}", d.reason);
    assert_eq!(dup.actions().count(), 0, "nothing runs twice");

    // After the dedup window (5 min) the repeat notification is no duplicate, but the 15 min
    // cooldown of the policy holds.
    clock.advance(Duration::from_secs(6 * 60));
    let d = restart(&set.evaluate(&hook, &mut state, &clock, EvalOptions::default()));
    assert_eq!(d.outcome, Outcome::Suppressed);
    assert!(d.reason.starts_with("cooldown"), "{}", d.reason);
    assert!(
        d.reason.contains("2024-05-01T10:18:00Z"),
        "names when: {}",
        d.reason
    );

    // Exactly at the end of the cooldown it acts again.
    clock.set(t("2024-05-01T10:18:00Z"));
    let d = restart(&set.evaluate(&hook, &mut state, &clock, EvalOptions::default()));
    assert_eq!(d.outcome, Outcome::Matched, "{}", d.reason);
}

#[test]
fn rate_limit_caps_actions_per_window() {
    let set = policies();
    let clock = ManualClock::new(t("2024-05-01T12:00:00Z"));
    let mut state = SafetyState::default();
    let alerts: Vec<_> = (0..5)
        .map(|i| {
            support::alert(&[
                ("alertname", "HighCPU"),
                ("severity", "page"),
                ("namespace", "shop"),
                ("deployment", &format!("svc-{i}")),
            ])
        })
        .collect();
    let eval = set.evaluate_alerts(alerts.clone(), &mut state, &clock, EvalOptions::default());
    let outcomes: Vec<_> = eval
        .decisions
        .iter()
        .filter(|d| d.policy == "scale-up-on-high-cpu")
        .map(|d| d.outcome)
        .collect();
    use Outcome::*;
    assert_eq!(
        outcomes,
        [Matched, Matched, Matched, Suppressed, Suppressed]
    );
    let limited = eval
        .decisions
        .iter()
        .find(|d| d.outcome == Suppressed)
        .unwrap();
    assert!(
        limited
            .reason
            .starts_with("rate limit: 3 actions in the last 30m"),
        "{}",
        limited.reason
    );

    // 30 minutes later the window has slid past the first three actions; the two that were
    // held back act now (their cooldown never started because they never acted).
    clock.advance(Duration::from_secs(30 * 60));
    let later = set.evaluate_alerts(
        alerts[3..].to_vec(),
        &mut state,
        &clock,
        EvalOptions::default(),
    );
    assert!(later
        .decisions
        .iter()
        .filter(|d| d.policy == "scale-up-on-high-cpu")
        .all(|d| d.outcome == Matched));
}

#[test]
fn dry_run_reads_but_never_changes_safety_state() {
    let set = policies();
    let clock = ManualClock::new(t("2024-05-01T10:03:00Z"));
    let mut state = SafetyState::default();
    for _ in 0..3 {
        let e = set.evaluate(&crashloop(), &mut state, &clock, EvalOptions::dry_run());
        assert!(e.decisions.iter().all(|d| d.dry_run));
        assert_eq!(e.actions().count(), 0);
        assert_eq!(e.decisions[1].outcome, Outcome::Matched);
    }
    assert!(state.is_empty());
    // A real evaluation starts cooldowns, which a later dry run reports.
    set.evaluate(&crashloop(), &mut state, &clock, EvalOptions::default());
    clock.advance(Duration::from_secs(3600));
    let e = set.evaluate(&crashloop(), &mut state, &clock, EvalOptions::dry_run());
    assert_eq!(
        e.decisions[1].outcome,
        Outcome::Matched,
        "cooldown of 15m is over"
    );
}

#[test]
fn disabled_policy_reports_rejections() {
    let mut specs = policies().specs();
    for s in &mut specs {
        s.enabled = false;
    }
    let set = PolicySet::new(specs).unwrap();
    let e = set.dry_run(&crashloop(), &ManualClock::new(t("2024-05-01T10:03:00Z")));
    assert!(!e.decisions.is_empty());
    assert!(e
        .decisions
        .iter()
        .all(|d| d.outcome == Outcome::Rejected && d.reason.contains("disabled")));
}

#[test]
fn one_bad_policy_rejects_the_whole_file() {
    let text = std::fs::read_to_string(support::data("policies/k8s.yaml")).unwrap();
    let bad = text.replace(
        r#"'severity=~"critical|page"'"#,
        r#"'severity=~"(critical"'"#,
    );
    match PolicySet::from_yaml(&bad) {
        Err(Error::Policy {
            policy,
            field,
            reason,
        }) => {
            assert_eq!(policy, "scale-up-on-high-cpu");
            assert_eq!(field, "condition.all[1].matchers[0]");
            assert!(reason.contains("regex"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let bad = text.replace("tool: restart_pod", "tool: restart_pod\n      timeout: 5");
    match PolicySet::from_yaml(&bad) {
        Err(Error::Policy {
            policy,
            field,
            reason,
        }) => {
            assert_eq!(policy, "restart-crashlooping-pod");
            assert_eq!(field, "action.timeout");
            assert!(reason.contains("timeout"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let bad = text.replace("max_actions: 3", "max_actions: -3");
    match PolicySet::from_yaml(&bad) {
        Err(Error::Policy { policy, field, .. }) => {
            assert_eq!(policy, "scale-up-on-high-cpu");
            assert_eq!(field, "safety.max_actions");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_and_yaml_files_load_the_same_policies() {
    let yaml = policies();
    let json = PolicySet::from_json(&yaml.to_json().unwrap()).unwrap();
    assert_eq!(yaml.specs(), json.specs());
}
