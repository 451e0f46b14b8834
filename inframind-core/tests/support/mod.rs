//! Helpers shared by the integration tests: build runs and histories for the optimizer and
//! forest tests, alerts and data files for the `healing_*` tests.
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "healing")]
use std::path::PathBuf;

#[cfg(feature = "healing")]
use inframind_core::healing::{Alert, AlertStatus, LabelSet};

/// `inframind-core/tests/data/healing/<rel>`.
#[cfg(feature = "healing")]
pub(crate) fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/healing")
        .join(rel)
}

/// A firing alert with these labels, its fingerprint computed like Alertmanager does.
#[cfg(feature = "healing")]
pub(crate) fn alert(labels: &[(&str, &str)]) -> Alert {
    let labels: LabelSet = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Alert {
        status: AlertStatus::Firing,
        fingerprint: inframind_core::healing::fingerprint(&labels),
        labels,
        annotations: LabelSet::new(),
        starts_at: jiff::Timestamp::UNIX_EPOCH,
        ends_at: None,
        generator_url: String::new(),
    }
}

use inframind_core::telemetry::{BuildConfig, BuildRun, BuildStep, RunStatus};
use proptest::prelude::*;

/// A run with the given outcome and peak memory.
pub fn run(
    i: usize,
    status: RunStatus,
    config: BuildConfig,
    duration_s: f64,
    rss: Option<u64>,
) -> BuildRun {
    let mut step = BuildStep::new("compile", duration_s * 0.8);
    step.max_rss_bytes = rss;
    step.status = status;
    BuildRun {
        run_id: format!("run-{i}"),
        pipeline: "prop/pipeline".into(),
        tool: "cmake".into(),
        status,
        duration_s,
        config,
        steps: vec![step],
        max_rss_bytes: rss,
        started_at: None,
        labels: Default::default(),
    }
}

pub fn arb_config() -> impl Strategy<Value = BuildConfig> {
    (1u32..64, 1u32..64, 1u64..64).prop_map(|(c, cpu4, mem_half_gib)| BuildConfig {
        concurrency: c,
        cpu_cores: f64::from(cpu4) / 4.0 * 4.0,
        memory_bytes: mem_half_gib * (512 << 20),
    })
}

pub fn arb_status() -> impl Strategy<Value = RunStatus> {
    prop_oneof![
        6 => Just(RunStatus::Success),
        1 => Just(RunStatus::Failure),
        1 => Just(RunStatus::OomKilled),
        1 => Just(RunStatus::Timeout),
        1 => Just(RunStatus::Cancelled),
    ]
}

/// Histories of 0..60 arbitrary runs: any status, any config, peaks from nothing to 64 GiB.
pub fn arb_history() -> impl Strategy<Value = Vec<BuildRun>> {
    prop::collection::vec(
        (
            arb_status(),
            arb_config(),
            1.0f64..5000.0,
            prop::option::of(1u64..(64u64 << 30)),
        ),
        0..60,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (s, c, d, rss))| run(i, s, c, d, rss))
            .collect()
    })
}
