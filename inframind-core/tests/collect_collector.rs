//! The [`Collector`] handle through the public API: system-only sampling and the error for a
//! pid that does not exist.
#![cfg(all(target_os = "linux", feature = "collect"))]

use inframind_core::collect::{Collector, CollectorOptions};

#[test]
fn collector_without_pid_samples_the_system_only() {
    let mut c = Collector::new(CollectorOptions::default()).unwrap();
    let s = c.sample().unwrap();
    assert!(s.tree.is_none() && s.caches.is_empty());
    assert!(s.timestamp_ms > 1_600_000_000_000);
}

#[test]
fn collector_with_missing_pid_names_it() {
    let err = Collector::new(CollectorOptions::default().pid(i32::MAX)).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("no process with pid {}", i32::MAX)),
        "{err}"
    );
}
