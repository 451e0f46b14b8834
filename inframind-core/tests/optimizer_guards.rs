//! The optimizer never suggests a configuration that breaks a guard, whatever the history,
//! context and model. The floors are recomputed here from the rules in the docs, independently
//! of the optimizer's own code.

mod support;

use inframind_core::demo::demo_history;
use inframind_core::features::quantile;
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::telemetry::{BuildRun, Capacity, RunContext, RunStatus};
use inframind_core::Error;
use proptest::prelude::*;
use std::sync::OnceLock;

const MIB: f64 = 1024.0 * 1024.0;

/// The memory floor by the documented rules, over the last 50 runs.
fn expected_memory_floor(history: &[BuildRun], ctx: &RunContext, concurrency: u32) -> f64 {
    let recent = &history[history.len().saturating_sub(50)..];
    let ok: Vec<&BuildRun> = recent
        .iter()
        .filter(|r| r.status == RunStatus::Success)
        .collect();
    let mut rss: Vec<f64> = ok
        .iter()
        .filter_map(|r| r.peak_rss_bytes())
        .map(|b| b as f64)
        .collect();
    let mut per_job: Vec<f64> = ok
        .iter()
        .filter_map(|r| {
            r.peak_rss_bytes()
                .map(|b| b as f64 / f64::from(r.config.concurrency))
        })
        .collect();
    let mut floor: f64 = 0.0;
    if let Some(p95) = quantile(&mut rss, 0.95) {
        floor = floor.max(1.2 * p95);
    }
    if let Some(max) = recent.iter().filter_map(|r| r.peak_rss_bytes()).max() {
        floor = floor.max(1.1 * max as f64);
    }
    if let Some(pj) = quantile(&mut per_job, 0.95) {
        floor = floor.max(pj * f64::from(concurrency));
    }
    for r in recent {
        let limit = r.config.memory_bytes as f64;
        let peak = r.peak_rss_bytes().map(|b| b as f64);
        let died = match r.status {
            RunStatus::OomKilled => Some(peak.unwrap_or(limit).max(limit)),
            RunStatus::Failure => peak.filter(|&p| p >= 0.95 * limit).map(|p| p.max(limit)),
            _ => None,
        };
        if let Some(d) = died {
            floor = floor.max((1.2 * d).max(d + 100.0 * MIB));
        }
    }
    if let Some(b) = ctx.rss_bytes() {
        floor = floor.max(1.2 * b as f64);
    }
    floor
}

fn model() -> &'static DurationModel {
    static M: OnceLock<DurationModel> = OnceLock::new();
    M.get_or_init(|| {
        DurationModel::train(
            &demo_history("cmake", 200, 5),
            RandomForestParams::new().n_trees(20),
        )
        .expect("demo model trains")
    })
}

fn arb_context() -> impl Strategy<Value = RunContext> {
    (
        prop::option::of(1u32..40),
        prop::option::of(1u64..(32u64 << 30)),
        prop::option::of(1u32..64),
        prop::option::of(1u64..(128u64 << 30)),
    )
        .prop_map(|(steps, rss, cap_cpu, cap_mem)| RunContext {
            tool: "cmake".into(),
            num_steps: steps,
            max_rss_bytes: rss,
            capacity: (cap_cpu.is_some() || cap_mem.is_some()).then_some(Capacity {
                cpu_cores: cap_cpu.map(f64::from),
                memory_bytes: cap_mem,
            }),
            ..RunContext::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_suggestion_breaks_a_guard(
        history in support::arb_history(),
        ctx in arb_context(),
        use_model in any::<bool>(),
        seed in any::<u64>(),
        exploration in 0.0f64..0.99,
    ) {
        let params = OptimizerParams::default().exploration(exploration).min_successful_runs(3);
        let opt = Optimizer::new(params).expect("valid params");
        let m = use_model.then(model);
        match opt.suggest(m, &history, &ctx, Some(seed)) {
            Ok(s) => {
                let c = s.config;
                prop_assert!(c.concurrency >= 1);
                prop_assert!(c.cpu_cores >= f64::from(c.concurrency) / 4.0, "cpu {} for {} jobs", c.cpu_cores, c.concurrency);
                let floor = expected_memory_floor(&history, &ctx, c.concurrency);
                prop_assert!(c.memory_bytes as f64 >= floor, "memory {} below floor {}", c.memory_bytes, floor);
                if let Some(cap) = ctx.capacity {
                    if let Some(cpu) = cap.cpu_cores { prop_assert!(c.cpu_cores <= cpu); }
                    if let Some(mem) = cap.memory_bytes { prop_assert!(c.memory_bytes <= mem); }
                }
                if let Some(p) = s.predicted_duration_s { prop_assert!(p.is_finite()); }
                prop_assert!(!s.rationale.is_empty());
            }
            // Refusing is allowed only when a capacity was declared that the floors exceed.
            Err(Error::NoSafeConfig(msg)) => {
                prop_assert!(ctx.capacity.is_some(), "refused without a capacity: {msg}");
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn repeated_ooms_keep_raising_memory_until_none() {
    // A pipeline that needs 10 GiB and starts with 6 GiB: each OOM must lift the suggestion.
    let opt = Optimizer::new(OptimizerParams::default().exploration(0.0)).expect("params");
    let need = 10u64 << 30;
    let mut cfg = inframind_core::BuildConfig {
        concurrency: 8,
        cpu_cores: 4.0,
        memory_bytes: 6 << 30,
    };
    let mut history = Vec::new();
    let mut ooms = 0;
    for i in 0..12 {
        let status = if cfg.memory_bytes < need {
            RunStatus::OomKilled
        } else {
            RunStatus::Success
        };
        if status == RunStatus::OomKilled {
            ooms += 1;
        }
        let rss = if status == RunStatus::OomKilled {
            cfg.memory_bytes
        } else {
            need
        };
        history.push(support::run(i, status, cfg, 300.0, Some(rss)));
        cfg = opt
            .suggest(None, &history, &RunContext::for_tool("cmake"), Some(1))
            .expect("suggest")
            .config;
    }
    assert!(
        cfg.memory_bytes >= need,
        "still short: {}",
        cfg.memory_bytes
    );
    assert!(ooms <= 3, "{ooms} OOM kills before memory sufficed");
}
