#![cfg(feature = "healing")]
//! The log classifier through its public API: the built-in library, the streaming reader, the
//! tiering of causes over consequences and user pattern files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;

use inframind_core::healing::{classify, Category, Classifier, Remediation, MAX_LINE_BYTES};

#[test]
fn builtin_library_compiles() {
    let c = Classifier::builtin().unwrap();
    assert!(c.patterns().len() > 50);
    let names: std::collections::HashSet<&str> =
        c.patterns().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), c.patterns().len(), "pattern names are unique");
}

#[test]
fn streaming_reader_cuts_long_lines_and_joins_split_ones() {
    let c = Classifier::builtin().unwrap();
    // The cause sits beyond the cut of a long line: not seen (bounded memory).
    let long = "a".repeat(100_000) + " No space left on device\nshort\n";
    let r = c
        .classify_reader(io::BufReader::with_capacity(1024, long.as_bytes()))
        .unwrap();
    assert_eq!(r.category, Category::Unknown);
    // A line split over many tiny reads is seen whole, with the right line number.
    let text = "ok\nwrite failed: No space left on device\nnext";
    let r = c
        .classify_reader(io::BufReader::with_capacity(3, text.as_bytes()))
        .unwrap();
    assert_eq!(r.category, Category::DiskFull);
    assert_eq!(r.evidence[0].line, 2);
    // A multi-byte character at the cut does not change the text between both paths.
    let mut edge = "x".repeat(MAX_LINE_BYTES - 1);
    edge.push('é');
    edge.push_str(" tail\n");
    let streamed = c
        .classify_reader(io::BufReader::with_capacity(100, edge.as_bytes()))
        .unwrap();
    assert_eq!(streamed, c.classify(&edge));
}

#[test]
fn declines_without_evidence() {
    let c = classify("Run make\nmake: *** [Makefile:3: all] Error 2\nError: Process completed with exit code 2.\n");
    assert_eq!(c.category, Category::Unknown);
    assert_eq!(c.confidence, 0.0);
    assert!(matches!(c.remediation, Remediation::Escalate { .. }));
}

#[test]
fn cause_beats_consequences() {
    let mut log = String::new();
    for i in 0..200 {
        log.push_str(&format!(
            "FAILED tests/test_io.py::test_write_{i} - OSError\n"
        ));
    }
    log.push_str("OSError: [Errno 28] No space left on device: '/tmp/x'\n");
    log.push_str("==== 200 failed, 3 passed in 12.3s ====\n");
    let c = classify(&log);
    assert_eq!(c.category, Category::DiskFull, "{c:?}");
    assert!(matches!(c.remediation, Remediation::CleanAndRetry { .. }));
}

#[test]
fn user_patterns_extend_and_override() {
    let c = Classifier::builtin_with_yaml(
        r#"
- name: corp-artifactory-5xx
  category: network
  weight: 6
  pattern: 'artifactory\.corp\.example: 50[234]'
  remediation: {action: retry, another_agent: false, retry: {max_attempts: 5, initial_backoff_s: 30}}
"#,
    )
    .unwrap();
    let r = c.classify("fetch failed: artifactory.corp.example: 503\n");
    assert_eq!(r.category, Category::Network);
    match r.remediation {
        Remediation::Retry { retry, .. } => assert_eq!(retry.max_attempts, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        Classifier::builtin_with_yaml("- {name: x, category: oom, weight: 1, pattern: '('}")
            .is_err()
    );
    assert!(
        Classifier::builtin_with_yaml("- {name: x, category: nope, weight: 1, pattern: 'a'}")
            .is_err()
    );
}
