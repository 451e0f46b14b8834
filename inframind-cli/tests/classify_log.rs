//! `inframind classify`: the core classifier on a file or standard input.

mod support;

use inframind_core::healing::classify;
use support::{core_data, inframind, inframind_with, json};

#[test]
fn a_file_gets_the_cores_verdict_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = core_data("healing/logs/oom/gcc_cc1plus_killed.log");
    let r = inframind(
        dir.path(),
        &["classify", log.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = classify(&std::fs::read_to_string(&log).unwrap());
    assert_eq!(json(&r.stdout), serde_json::to_value(&expected).unwrap());
    assert_eq!(json(&r.stdout)["category"], "oom");
}

#[test]
fn text_names_category_confidence_remediation_and_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let log = core_data("healing/logs/oom/gcc_cc1plus_killed.log");
    let r = inframind(dir.path(), &["classify", log.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    let c = classify(&std::fs::read_to_string(&log).unwrap());
    let mut expected = format!(
        "category     oom\nconfidence   {:.2}\nrecord as    oom_killed\nremediation  {}\n\nevidence:\n",
        c.confidence,
        serde_json::to_string(&c.remediation).unwrap()
    );
    for e in &c.evidence {
        expected.push_str(&format!("  line {} [{}]: {}\n", e.line, e.pattern, e.text));
    }
    assert_eq!(r.stdout, expected);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let log = "Step 4/9 : RUN npm ci\nnpm ERR! code ENOSPC\nnpm ERR! nospc ENOSPC: no space left on device, write\n";
    let r = inframind_with(
        dir.path(),
        &["classify", "-", "--format", "json"],
        &[],
        Some(log.as_bytes()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        json(&r.stdout),
        serde_json::to_value(classify(log)).unwrap()
    );
    assert_eq!(json(&r.stdout)["category"], "disk_full");
}

#[test]
fn a_log_without_a_cause_is_unknown_and_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let r = inframind_with(
        dir.path(),
        &["classify", "-"],
        &[],
        Some(b"Process completed with exit code 1.\n"),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("category     unknown\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_bad_pattern_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "patterns: [{name: x, category: oom, pattern: '(', weight: 3}]\n",
    )
    .unwrap();
    let r = inframind(dir.path(), &["classify", "--patterns", "p.yaml", "-"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("inframind: p.yaml: invalid pattern \"x\": "),
        "{}",
        r.stderr
    );
}
