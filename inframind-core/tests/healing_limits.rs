#![cfg(feature = "healing")]
//! Bounds on what a policy set compiles: the size of each regex matcher, the matchers of one
//! policy and the matchers of the whole set. A stored policy must not be able to make every
//! evaluation slow.

use inframind_core::healing::{
    Matcher, PolicySet, MAX_MATCHERS_PER_POLICY, MAX_MATCHERS_PER_SET, MAX_SET_REGEX_BYTES,
};
use inframind_core::{Error, ErrorKind};

fn policy(name: &str, matchers: &[String]) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "condition": {"matchers": matchers},
        "action": {"tool": "restart_pod"},
    })
}

fn load(policies: Vec<serde_json::Value>) -> inframind_core::Result<PolicySet> {
    PolicySet::from_json(&serde_json::Value::Array(policies).to_string())
}

#[test]
fn a_regex_that_compiles_too_big_is_refused_naming_policy_and_matcher() {
    let bad = r#"job=~"(?:\w+\d{300}){3}""#.to_string();
    let ok = r#"severity=~"critical|page""#.to_string();
    let err = load(vec![policy("stall", &[ok, bad])]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy);
    match &err {
        Error::Policy {
            policy,
            field,
            reason,
        } => {
            assert_eq!(policy, "stall");
            assert_eq!(field, "condition.matchers[1]");
            assert!(
                reason.contains("job=~") && reason.contains("{300}"),
                "{reason}"
            );
            assert!(reason.contains("256 KiB"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Matcher::parse(r#"job=~"(?:\w+\d{300}){3}""#).is_err());
    // Under the limit, Unicode classes and repetitions still load.
    assert!(Matcher::parse(r#"job=~"(?:\w+\d{5}){3}""#).is_ok());
}

#[test]
fn a_policy_holds_a_bounded_number_of_matchers() {
    let at_limit: Vec<String> = (0..MAX_MATCHERS_PER_POLICY)
        .map(|i| format!("l{i}!=\"x\""))
        .collect();
    assert!(load(vec![policy("wide", &at_limit)]).is_ok());
    let mut over = at_limit;
    over.push("extra!=\"x\"".into());
    match load(vec![policy("wide", &over)]).unwrap_err() {
        Error::Policy {
            policy,
            field,
            reason,
        } => {
            assert_eq!(policy, "wide");
            assert_eq!(field, "condition");
            assert!(reason.contains(r#"extra!="x""#), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_set_holds_a_bounded_number_of_matchers() {
    let per = MAX_MATCHERS_PER_POLICY;
    let n = MAX_MATCHERS_PER_SET / per;
    let mk = |i: usize| {
        let ms: Vec<String> = (0..per).map(|j| format!("l{j}!=\"{i}\"")).collect();
        policy(&format!("p{i:03}"), &ms)
    };
    assert!(load((0..n).map(mk).collect()).is_ok());
    match load((0..=n).map(mk).collect()).unwrap_err() {
        Error::Policy { policy, reason, .. } => {
            assert_eq!(policy, format!("p{n:03}"));
            assert!(reason.contains("l0!="), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_set_bounds_the_compiled_size_of_its_regexes() {
    // Each compiles to more than 64 KiB (and within 256 KiB), so counts 256 KiB.
    let large = |i: usize| format!(r#"l{i}=~"(?:\w+\d{{5}}){{3}}""#);
    let per_policy = 32;
    let fits = MAX_SET_REGEX_BYTES / (256 * 1024) / per_policy;
    let mk = |p: usize| {
        let ms: Vec<String> = (0..per_policy).map(large).collect();
        policy(&format!("big{p}"), &ms)
    };
    assert!(load((0..fits).map(mk).collect()).is_ok());
    match load((0..=fits).map(mk).collect()).unwrap_err() {
        Error::Policy { policy, reason, .. } => {
            assert_eq!(policy, format!("big{fits}"));
            assert!(reason.contains("MiB"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
