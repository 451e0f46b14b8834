//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

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
