//! im_classify_log and im_policy_set_*: the core's classification and evaluation as JSON, the
//! safety state kept in the handle, and bad input.

mod support;

use std::ffi::CStr;
use std::path::Path;
use std::ptr::{null, null_mut};

use inframind::*;
use inframind_core::healing::{classify, Classification, Evaluation, Outcome};
use support::*;

const CORE_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../inframind-core/tests/data/healing"
);

fn classify_bytes(log: &[u8]) -> Result<String, (im_status, String)> {
    read_text(|b, l, o, e, el| unsafe { im_classify_log(log.as_ptr(), log.len(), b, l, o, e, el) })
}

#[test]
fn classification_is_the_cores_for_every_sample_log() {
    let mut seen = 0;
    for dir in std::fs::read_dir(Path::new(CORE_DATA).join("logs")).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let got: Classification =
                serde_json::from_str(&classify_bytes(text.as_bytes()).unwrap()).unwrap();
            assert_eq!(got, classify(&text));
            seen += 1;
        }
    }
    assert!(seen >= 10, "the core ships sample logs ({seen} found)");
}

#[test]
fn odd_logs_classify_without_error() {
    let oom =
        b"cc1plus: internal compiler error: Killed (program cc1plus)\n\xff\xfe broken bytes\n";
    let c: Classification = serde_json::from_str(&classify_bytes(oom).unwrap()).unwrap();
    assert_eq!(c.category.as_str(), "oom");
    assert_eq!(c.evidence[0].line, 1);
    // Empty log, also as (NULL, 0).
    let empty: Classification = serde_json::from_str(&classify_bytes(b"").unwrap()).unwrap();
    assert_eq!(empty.category.as_str(), "unknown");
    let text =
        read_text_once(|b, l, o, e, el| unsafe { im_classify_log(null(), 0, b, l, o, e, el) })
            .unwrap();
    assert_eq!(
        serde_json::from_str::<Classification>(&text).unwrap(),
        empty
    );
    let (s, msg) =
        read_text_once(|b, l, o, e, el| unsafe { im_classify_log(null(), 3, b, l, o, e, el) })
            .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(msg, "argument `log` is NULL: pass a valid pointer");
}

const POLICIES_YAML: &str = r#"
- name: restart
  condition: {labels: {alertname: KubePodCrashLooping}}
  action: {tool: restart_pod, params: {pod: "${label.pod}"}}
  safety: {cooldown: 10m}
"#;

fn webhook(pod: &str) -> std::ffi::CString {
    cstring(&format!(
        r#"{{"version":"4","status":"firing","receiver":"im","groupKey":"g","alerts":[{{"status":"firing",
        "labels":{{"alertname":"KubePodCrashLooping","pod":"{pod}"}},"startsAt":"2024-05-01T10:00:00Z"}}]}}"#
    ))
}

fn new_set(
    f: unsafe extern "C" fn(
        *const std::ffi::c_char,
        *mut *mut im_policy_set,
        *mut std::ffi::c_char,
        usize,
    ) -> im_status,
    text: &str,
) -> Result<*mut im_policy_set, (im_status, String)> {
    let t = cstring(text);
    let mut out = std::ptr::dangling_mut::<im_policy_set>();
    let mut err = ErrBuf::new();
    let s = unsafe { f(t.as_ptr(), &mut out, err.ptr(), err.len()) };
    if s == im_status::IM_STATUS_OK {
        Ok(out)
    } else {
        assert!(out.is_null(), "*out is NULL on failure");
        Err((s, err.message()))
    }
}

fn evaluate(set: *const im_policy_set, hook: &CStr, dry_run: bool) -> Evaluation {
    let text = read_text_once(|b, l, o, e, el| unsafe {
        im_policy_set_evaluate(set, hook.as_ptr(), dry_run, b, l, o, e, el)
    })
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn real_evaluations_keep_safety_state_and_dry_runs_do_not() {
    let set = new_set(im_policy_set_from_yaml, POLICIES_YAML).unwrap();
    let hook = webhook("cart-1");
    for _ in 0..2 {
        let dry = evaluate(set, &hook, true);
        assert_eq!(dry.decisions.len(), 1);
        assert_eq!(dry.decisions[0].outcome, Outcome::Matched);
        assert!(dry.decisions[0].dry_run);
    }
    let first = evaluate(set, &hook, false);
    assert_eq!(first.decisions[0].outcome, Outcome::Matched);
    assert!(!first.decisions[0].dry_run);
    assert_eq!(
        first.decisions[0].action.as_ref().unwrap().params["pod"],
        "cart-1"
    );
    assert_eq!(first.audit.len(), 1);
    // The same delivery again (an Alertmanager HA peer) is suppressed, and a dry run now says so.
    assert_eq!(
        evaluate(set, &hook, false).decisions[0].outcome,
        Outcome::Suppressed
    );
    // Another pod is another alert, not in cooldown.
    assert_eq!(
        evaluate(set, &webhook("cart-2"), false).decisions[0].outcome,
        Outcome::Matched
    );
    unsafe { im_policy_set_free(set) };
}

#[test]
fn a_too_small_buffer_does_not_evaluate_twice() {
    let set = new_set(im_policy_set_from_yaml, POLICIES_YAML).unwrap();
    let hook = webhook("cart-1");
    // read_text: size query (a real evaluation, kept), a too-small retry, then the right size:
    // all three are one evaluation, so the answer is `matched`, not `suppressed`.
    let text = read_text(|b, l, o, e, el| unsafe {
        im_policy_set_evaluate(set, hook.as_ptr(), false, b, l, o, e, el)
    })
    .unwrap();
    let eval: Evaluation = serde_json::from_str(&text).unwrap();
    assert_eq!(eval.decisions[0].outcome, Outcome::Matched);
    // It was applied: the next delivery is a duplicate.
    assert_eq!(
        evaluate(set, &hook, false).decisions[0].outcome,
        Outcome::Suppressed
    );
    unsafe { im_policy_set_free(set) };
}

#[test]
fn the_shipped_policy_file_loads_from_file_yaml_and_json() {
    let path = Path::new(CORE_DATA).join("policies/k8s.yaml");
    let p = cstring(path.to_str().unwrap());
    let mut set = null_mut();
    let mut err = ErrBuf::new();
    let s = unsafe { im_policy_set_from_file(p.as_ptr(), &mut set, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_OK);
    let mut n = 0;
    assert_eq!(
        unsafe { im_policy_set_len(set, &mut n, err.ptr(), err.len()) },
        im_status::IM_STATUS_OK
    );
    assert_eq!(n, 5);
    let hook =
        std::fs::read_to_string(Path::new(CORE_DATA).join("webhooks/crashloop.json")).unwrap();
    let eval = evaluate(set, &cstring(&hook), true);
    let core = inframind_core::healing::PolicySet::from_path(&path)
        .unwrap()
        .dry_run(
            &inframind_core::healing::Webhook::from_json(&hook).unwrap(),
            &inframind_core::healing::SystemClock,
        );
    assert_eq!(eval.decisions, core.decisions);
    unsafe { im_policy_set_free(set) };

    let json =
        serde_json::to_string(&serde_norway::from_str::<serde_json::Value>(POLICIES_YAML).unwrap())
            .unwrap();
    set = new_set(im_policy_set_from_json, &json).unwrap();
    assert_eq!(
        evaluate(set, &webhook("x"), true).decisions[0].policy,
        "restart"
    );
    unsafe { im_policy_set_free(set) };

    let missing = cstring("/nonexistent/policies.yaml");
    let s = unsafe { im_policy_set_from_file(missing.as_ptr(), &mut set, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NOT_FOUND);
    assert!(set.is_null());
}

#[test]
fn bad_policies_and_payloads_are_named() {
    let (s, msg) = new_set(
        im_policy_set_from_yaml,
        "- name: x\n  condition: {labels: {a: b}}\n",
    )
    .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert!(msg.starts_with("policy \"x\": invalid "), "{msg}");
    let (s, msg) = new_set(im_policy_set_from_json, "[{").unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert!(msg.contains("not valid JSON"), "{msg}");

    let set = new_set(im_policy_set_from_yaml, POLICIES_YAML).unwrap();
    let bad =
        cstring(r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{}}]}"#);
    let (s, msg) = read_text_once(|b, l, o, e, el| unsafe {
        im_policy_set_evaluate(set, bad.as_ptr(), true, b, l, o, e, el)
    })
    .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert!(msg.starts_with("invalid alert payload: alerts[0]"), "{msg}");
    let (s, _) = read_text_once(|b, l, o, e, el| unsafe {
        im_policy_set_evaluate(set, null(), true, b, l, o, e, el)
    })
    .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    let hook = webhook("p");
    let (s, msg) = read_text_once(|b, l, o, e, el| unsafe {
        im_policy_set_evaluate(null(), hook.as_ptr(), true, b, l, o, e, el)
    })
    .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(msg, "argument `set` is NULL: pass a valid pointer");
    let mut err = ErrBuf::new();
    assert_eq!(
        unsafe { im_policy_set_len(set, null_mut(), err.ptr(), err.len()) },
        im_status::IM_STATUS_NULL_ARGUMENT
    );
    let mut out = null_mut();
    assert_eq!(
        unsafe { im_policy_set_from_yaml(null(), &mut out, err.ptr(), err.len()) },
        im_status::IM_STATUS_NULL_ARGUMENT
    );
    unsafe { im_policy_set_free(set) };
    unsafe { im_policy_set_free(null_mut()) };
}

#[test]
fn one_set_is_safe_to_share_between_threads() {
    let set = new_set(im_policy_set_from_yaml, POLICIES_YAML).unwrap() as usize;
    let matched: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(move || {
                    let hook = webhook("shared-pod");
                    let e = evaluate(set as *const im_policy_set, &hook, false);
                    usize::from(e.decisions[0].outcome == Outcome::Matched)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        matched, 1,
        "exactly one of four concurrent deliveries acts; the rest are duplicates"
    );
    unsafe { im_policy_set_free(set as *mut im_policy_set) };
}

#[test]
fn a_dry_run_retry_returns_the_same_evaluation() {
    // Evaluations are stamped with the time (audit[].at), so evaluating again for the retry
    // could change the length; the kept JSON makes the size query + retry protocol exact.
    let set = new_set(im_policy_set_from_yaml, POLICIES_YAML).unwrap();
    let hook = webhook("cart-1");
    for _ in 0..50 {
        let text = read_text(|b, l, o, e, el| unsafe {
            im_policy_set_evaluate(set, hook.as_ptr(), true, b, l, o, e, el)
        })
        .unwrap();
        let eval: Evaluation = serde_json::from_str(&text).unwrap();
        assert_eq!(eval.decisions[0].outcome, Outcome::Matched);
    }
    // Another call in between drops the kept result: a real evaluation after a dry-run size
    // query evaluates (and acts) afresh.
    let mut len = 0;
    let mut err = ErrBuf::new();
    let s = unsafe {
        im_policy_set_evaluate(
            set,
            hook.as_ptr(),
            true,
            null_mut(),
            0,
            &mut len,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_BUFFER_TOO_SMALL);
    let real = evaluate(set, &hook, false);
    assert!(!real.decisions[0].dry_run);
    assert_eq!(real.decisions[0].outcome, Outcome::Matched);
    unsafe { im_policy_set_free(set) };
}
