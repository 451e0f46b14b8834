//! Suggestions pinned byte for byte: the serialized JSON is a contract (REST, C and Python
//! hand it on unchanged), so any change to it must be deliberate.

use inframind_core::demo::demo_history;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::telemetry::{BuildRun, Capacity, RunContext};

fn with_capacity(tool: &str, cpu: Option<f64>, mem: Option<u64>) -> RunContext {
    RunContext {
        tool: tool.into(),
        capacity: Some(Capacity {
            cpu_cores: cpu,
            memory_bytes: mem,
        }),
        ..RunContext::default()
    }
}

fn suggest_json(history: &[BuildRun], ctx: &RunContext, seed: u64) -> String {
    let opt = Optimizer::new(OptimizerParams::default()).expect("default params");
    let s = opt
        .suggest(None, history, ctx, Some(seed))
        .expect("a suggestion");
    serde_json::to_string(&s).expect("serializes")
}

#[test]
fn cold_start_without_history() {
    let history: Vec<BuildRun> = vec![];
    assert_eq!(
        suggest_json(&history, &RunContext::for_tool("cmake"), 1),
        r#"{"config":{"concurrency":4,"cpu_cores":2.0,"memory_bytes":4294967296},"predicted_duration_s":null,"spread_s":null,"baseline_config":{"concurrency":4,"cpu_cores":2.0,"memory_bytes":4294967296},"baseline_duration_s":null,"expected_change_s":null,"explored":false,"cold_start":true,"guards":[{"name":"memory_floor","limit":0.0,"unit":"bytes","reason":"no memory data yet","binding":false},{"name":"cpu_floor","limit":1.0,"unit":"cores","reason":"concurrency 4 / 4","binding":false},{"name":"exploration_bound","limit":0.25,"unit":"ratio","reason":"each resource within ±25% of 4 jobs, 2 cores, 4.00 GiB","binding":false}],"candidates_considered":105,"candidates_rejected":0,"model_version":null,"seed":1,"rationale":["History: 0 runs; the defaults: 4 jobs, 2 cores, 4.00 GiB.","Cold start: no history for this pipeline, so the documented defaults are used.","Suggest 4 jobs, 2 cores, 4.00 GiB."]}"#
    );
}

#[test]
fn cold_start_under_a_cpu_capacity() {
    let history: Vec<BuildRun> = demo_history("gradle", 90, 1);
    assert_eq!(
        suggest_json(
            &history,
            &with_capacity("gradle", Some(3.0), Some(12 << 30)),
            0
        ),
        r#"{"config":{"concurrency":3,"cpu_cores":3.0,"memory_bytes":7784628224},"predicted_duration_s":503.20433304779465,"spread_s":0.0,"baseline_config":{"concurrency":3,"cpu_cores":3.0,"memory_bytes":7784628224},"baseline_duration_s":503.20433304779465,"expected_change_s":0.0,"explored":false,"cold_start":true,"guards":[{"name":"memory_floor","limit":5004047924.419584,"unit":"bytes","reason":"max(1.2 x RSS p95 = 4.66 GiB, 1.1 x max peak = 4.30 GiB, 1.28 GiB per job x 3 = 3.85 GiB)","binding":false},{"name":"cpu_floor","limit":0.75,"unit":"cores","reason":"concurrency 3 / 4","binding":false},{"name":"exploration_bound","limit":0.25,"unit":"ratio","reason":"each resource within ±25% of 3 jobs, 3 cores, 7.25 GiB","binding":false},{"name":"cpu_capacity","limit":3.0,"unit":"cores","reason":"declared capacity","binding":true},{"name":"memory_capacity","limit":12884901888.0,"unit":"bytes","reason":"declared capacity","binding":false}],"candidates_considered":147,"candidates_rejected":63,"model_version":null,"seed":0,"rationale":["History: 90 runs (88 successful); last successful config: 3 jobs, 3 cores, 7.25 GiB.","Cold start: no trained model; keeping the last successful config.","Suggest 3 jobs, 3 cores, 7.25 GiB: recent median duration 503 s.","Guard cpu_capacity: 3.00 cores (declared capacity)."]}"#
    );
}

#[test]
fn cold_start_under_a_memory_capacity() {
    let history: Vec<BuildRun> = demo_history("bazel", 90, 2);
    assert_eq!(
        suggest_json(
            &history,
            &with_capacity("bazel", Some(64.0), Some(8 << 30)),
            0
        ),
        r#"{"config":{"concurrency":6,"cpu_cores":3.0,"memory_bytes":8589934592},"predicted_duration_s":712.6813847212512,"spread_s":0.0,"baseline_config":{"concurrency":6,"cpu_cores":3.0,"memory_bytes":9395240960},"baseline_duration_s":712.6813847212512,"expected_change_s":0.0,"explored":false,"cold_start":true,"guards":[{"name":"memory_floor","limit":4718026297.590247,"unit":"bytes","reason":"max(1.2 x RSS p95 = 4.39 GiB, 1.1 x max peak = 4.06 GiB, 0.60 GiB per job x 6 = 3.58 GiB)","binding":false},{"name":"cpu_floor","limit":1.5,"unit":"cores","reason":"concurrency 6 / 4","binding":false},{"name":"exploration_bound","limit":0.25,"unit":"ratio","reason":"each resource within ±25% of 6 jobs, 3 cores, 8.75 GiB","binding":false},{"name":"cpu_capacity","limit":64.0,"unit":"cores","reason":"declared capacity","binding":false},{"name":"memory_capacity","limit":8589934592.0,"unit":"bytes","reason":"declared capacity","binding":true}],"candidates_considered":196,"candidates_rejected":112,"model_version":null,"seed":0,"rationale":["History: 90 runs (86 successful); last successful config: 6 jobs, 3 cores, 8.75 GiB.","Cold start: no trained model; keeping the last successful config.","Suggest 6 jobs, 3 cores, 8.00 GiB: recent median duration 713 s.","Guard memory_capacity: 8.00 GiB (declared capacity)."]}"#
    );
}
