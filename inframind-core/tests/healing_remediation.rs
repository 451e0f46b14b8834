#![cfg(feature = "healing")]
//! Remediation plans through the public API: the plan of a classified failure, the configuration
//! to retry with, and the retry schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inframind_core::healing::{classify, run_status, Category, RetryPolicy};
use inframind_core::telemetry::{BuildConfig, RunStatus};

#[test]
fn oom_connects_to_the_optimizer() {
    let c = classify("g++: fatal error: Killed signal terminated program cc1plus\n");
    assert_eq!(c.category, Category::Oom);
    assert_eq!(run_status(&c), RunStatus::OomKilled);
    let cfg = BuildConfig {
        concurrency: 8,
        cpu_cores: 8.0,
        memory_bytes: 8 << 30,
    };
    assert_eq!(c.remediation.next_config(&cfg).concurrency, 4);
    let one = BuildConfig {
        concurrency: 1,
        ..cfg
    };
    assert_eq!(c.remediation.next_config(&one).concurrency, 1);
    let three = BuildConfig {
        concurrency: 3,
        ..cfg
    };
    assert_eq!(c.remediation.next_config(&three).concurrency, 1);
}

#[test]
fn retry_backoff_grows_with_jitter_bounds() {
    let p = RetryPolicy {
        max_attempts: 10,
        ..RetryPolicy::default()
    };
    for attempt in 1..=10 {
        let lo = p.delay(attempt, 0.0).unwrap().as_secs_f64();
        let hi = p.delay(attempt, 1.0).unwrap().as_secs_f64();
        let base = (10.0 * 2f64.powi(attempt as i32 - 1)).min(300.0);
        assert!((lo - base * 0.8).abs() < 1e-6 && (hi - base * 1.2).abs() < 1e-6);
    }
    assert!(p.delay(0, 0.5).is_none());
    assert!(p.delay(1, f64::NAN).is_some());
}
