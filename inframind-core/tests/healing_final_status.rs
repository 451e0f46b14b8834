#![cfg(feature = "healing")]
//! `final_status`, the rule hosts use to record a finished run, on real log excerpts from the
//! classifier's corpora (`tests/data/healing/<corpus>/<category>/*.log`).
//!
//! The rule must answer what the server answered before it called `final_status`: the server's
//! previous code is kept below as the reference and compared on every excerpt and status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::PathBuf;

use inframind_core::healing::{classify, final_status, Category, Classification};
use inframind_core::RunStatus;

const STATUSES: [RunStatus; 6] = RunStatus::ALL;

/// The server's `POST /builds/complete` before it called `final_status`
/// (`server-example/src/routes/builds.rs`).
fn server_reference(
    status: RunStatus,
    log_tail: Option<&str>,
) -> (RunStatus, Option<Classification>) {
    let classification = match (&log_tail, status.is_failure()) {
        (Some(log), true) if !log.trim().is_empty() => Some(classify(log)),
        _ => None,
    };
    let final_status = match (&classification, status) {
        (Some(c), RunStatus::Failure) => c.run_status(),
        _ => status,
    };
    (final_status, classification)
}

fn excerpt(rel: &str) -> String {
    fs::read_to_string(support::data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `*.log` of both corpora.
fn all_excerpts() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for corpus in ["logs", "logs_holdout2"] {
        for dir in fs::read_dir(support::data(corpus)).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for f in fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "log") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_failure_whose_log_shows_oom_is_recorded_oom_killed() {
    let log = excerpt("logs/oom/gcc_cc1plus_killed.log");
    let (status, c) = final_status(RunStatus::Failure, Some(&log));
    assert_eq!(status, RunStatus::OomKilled);
    let c = c.unwrap();
    assert_eq!(c.category, Category::Oom);
    assert!(c.evidence[0].text.contains("cc1plus"), "{c:?}");
}

#[test]
fn a_failure_whose_log_shows_a_time_limit_is_recorded_timeout() {
    let log = excerpt("logs/timeout/jenkins_build_timed_out.log");
    let (status, c) = final_status(RunStatus::Failure, Some(&log));
    assert_eq!(status, RunStatus::Timeout);
    assert_eq!(c.unwrap().category, Category::Timeout);
}

#[test]
fn other_causes_keep_failure_and_carry_the_classification() {
    let log = excerpt("logs/disk_full/npm_enospc.log");
    let (status, c) = final_status(RunStatus::Failure, Some(&log));
    assert_eq!(status, RunStatus::Failure);
    assert_eq!(c.unwrap().category, Category::DiskFull);
    // A log that does not show the cause is still classified (as unknown) for the host to show.
    let log = excerpt("logs/unknown/make_error_2_only.log");
    let (status, c) = final_status(RunStatus::Failure, Some(&log));
    assert_eq!(status, RunStatus::Failure);
    assert_eq!(c.unwrap().category, Category::Unknown);
}

#[test]
fn cancelled_success_and_running_are_never_classified() {
    let log = excerpt("logs/oom/gcc_cc1plus_killed.log");
    for reported in [RunStatus::Cancelled, RunStatus::Success, RunStatus::Running] {
        assert_eq!(final_status(reported, Some(&log)), (reported, None));
    }
}

#[test]
fn the_ci_verdicts_oom_killed_and_timeout_are_kept() {
    let oom = excerpt("logs/oom/gcc_cc1plus_killed.log");
    let (status, c) = final_status(RunStatus::Timeout, Some(&oom));
    assert_eq!(status, RunStatus::Timeout);
    assert_eq!(c.unwrap().category, Category::Oom);
    let timeout = excerpt("logs/timeout/jenkins_build_timed_out.log");
    let (status, c) = final_status(RunStatus::OomKilled, Some(&timeout));
    assert_eq!(status, RunStatus::OomKilled);
    assert_eq!(c.unwrap().category, Category::Timeout);
}

#[test]
fn a_missing_or_blank_log_is_not_classified() {
    for reported in STATUSES {
        assert_eq!(final_status(reported, None), (reported, None));
        assert_eq!(final_status(reported, Some("")), (reported, None));
        assert_eq!(final_status(reported, Some(" \n\t\r\n")), (reported, None));
    }
}

#[test]
fn agrees_with_the_server_on_every_excerpt_and_status() {
    let files = all_excerpts();
    assert!(files.len() > 100, "corpora found: {}", files.len());
    let mut rewritten = 0;
    for f in &files {
        let log = fs::read_to_string(f).unwrap();
        for reported in STATUSES {
            let got = final_status(reported, Some(&log));
            assert_eq!(
                got,
                server_reference(reported, Some(&log)),
                "{} reported {reported:?}",
                f.display()
            );
            rewritten += usize::from(got.0 != reported);
        }
    }
    // The corpora hold OOM and timeout excerpts, so some failures must be rewritten.
    assert!(rewritten > 10, "{rewritten} rewritten");
}
