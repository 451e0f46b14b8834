//! The optimizer never suggests a configuration that breaks a guard, whatever the history,
//! context and model. The floors are recomputed here from the rules in the docs, independently
//! of the optimizer's own code.

mod support;

use inframind_core::demo::demo_history;
use inframind_core::features::quantile;
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::telemetry::{BuildConfig, BuildRun, Capacity, RunContext, RunStatus};
use inframind_core::Error;
use proptest::prelude::*;
use std::sync::OnceLock;

const MIB: f64 = 1024.0 * 1024.0;

/// What a run that died of memory needed at least, when it did: OOM-killed (its peak, at least
/// its limit) or failed with its peak at 95% of its limit.
fn died_at(r: &BuildRun) -> Option<f64> {
    let limit = r.config.memory_bytes as f64;
    let peak = r.peak_rss_bytes().map(|b| b as f64);
    match r.status {
        RunStatus::OomKilled => Some(peak.unwrap_or(limit).max(limit)),
        RunStatus::Failure => peak.filter(|&p| p >= 0.95 * limit).map(|p| p.max(limit)),
        _ => None,
    }
}

/// The base RSS: the intercept of the least-squares line through the successful runs' peaks
/// against their jobs, within [0, the smallest of those peaks]; `None` without two job counts.
fn base_rss(ok: &[&BuildRun]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = ok
        .iter()
        .filter_map(|r| {
            r.peak_rss_bytes()
                .map(|b| (f64::from(r.config.concurrency), b as f64))
        })
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|(x, _)| x).sum::<f64>() / n;
    let my = pts.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let smallest = pts.iter().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
    Some((my - sxy / sxx * mx).max(0.0).min(smallest))
}

/// A peak measured with `jobs` jobs as a bound for `concurrency` jobs: times the ratio for more
/// jobs; for fewer, the base plus the remaining jobs' shares when the base is known, else as is.
fn scaled_peak(peak: f64, jobs: u32, base: Option<f64>, concurrency: u32) -> f64 {
    let ratio = f64::from(concurrency) / f64::from(jobs.max(1));
    if ratio >= 1.0 {
        return peak * ratio;
    }
    match base {
        Some(b) => {
            let b = b.max(0.0).min(peak);
            b + (peak - b) * ratio
        }
        None => peak,
    }
}

/// The OOM floor at `concurrency` of a run that died at `died` bytes with `jobs` jobs: VPA's
/// bump over the peak scaled to the candidate's jobs (base plus per-job shares for fewer jobs,
/// the whole peak times the ratio for more).
fn oom_floor(died: f64, jobs: u32, base: f64, concurrency: u32) -> f64 {
    let ratio = f64::from(concurrency) / f64::from(jobs.max(1));
    let need = if concurrency >= jobs {
        died * ratio
    } else {
        let base = base.max(0.0).min(died);
        base + (died - base) * ratio
    };
    (1.2 * need).max(need + 100.0 * MIB)
}

/// The memory floor by the documented rules, over the last 50 runs.
fn expected_memory_floor(history: &[BuildRun], ctx: &RunContext, concurrency: u32) -> f64 {
    let recent = &history[history.len().saturating_sub(50)..];
    let ok: Vec<&BuildRun> = recent
        .iter()
        .filter(|r| r.status == RunStatus::Success)
        .collect();
    let base = base_rss(&ok);
    let scaled =
        |r: &BuildRun, b: u64| scaled_peak(b as f64, r.config.concurrency, base, concurrency);
    let mut rss: Vec<f64> = ok
        .iter()
        .filter_map(|r| r.peak_rss_bytes().map(|b| scaled(r, b)))
        .collect();
    let mut per_job: Vec<f64> = ok
        .iter()
        .filter_map(|r| {
            r.peak_rss_bytes()
                .map(|b| b as f64 / f64::from(r.config.concurrency))
        })
        .collect();
    // Floors learned from peaks.
    let mut learned: f64 = 0.0;
    if let Some(p95) = quantile(&mut rss, 0.95) {
        learned = learned.max(1.2 * p95);
    }
    // A run that died of memory is priced by its OOM floor instead.
    if let Some(max) = recent
        .iter()
        .filter(|r| died_at(r).is_none())
        .filter_map(|r| r.peak_rss_bytes().map(|b| scaled(r, b)))
        .reduce(f64::max)
    {
        learned = learned.max(1.1 * max);
    }
    if let Some(pj) = quantile(&mut per_job, 0.95) {
        learned = learned.max(pj * f64::from(concurrency));
    }
    // ...capped by the most memory a successful run with at least these jobs had.
    if let Some(cap) = ok
        .iter()
        .filter(|r| r.config.concurrency >= concurrency)
        .map(|r| r.config.memory_bytes as f64)
        .reduce(f64::max)
    {
        learned = learned.min(cap);
    }
    let mut floor = learned;
    for r in recent {
        if let Some(d) = died_at(r) {
            floor = floor.max(oom_floor(
                d,
                r.config.concurrency,
                base.unwrap_or(0.0),
                concurrency,
            ));
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

/// A starved start: every warm-up run OOM-killed at `jobs` jobs, memory limits rising, each
/// killed at its limit or reporting a peak up to 10% above it.
fn arb_starved() -> impl Strategy<Value = (Vec<BuildRun>, u32)> {
    (
        1u32..48,
        1u32..32,
        prop::collection::vec((1u64..(48u64 << 30), prop::option::of(0u32..=10)), 1..6),
    )
        .prop_map(|(jobs, cpu, runs)| {
            let history = runs
                .into_iter()
                .enumerate()
                .map(|(i, (mem, over))| {
                    let cfg = BuildConfig {
                        concurrency: jobs,
                        cpu_cores: f64::from(cpu),
                        memory_bytes: mem,
                    };
                    let peak = over.map(|pct| mem + mem / 100 * u64::from(pct));
                    support::run(i, RunStatus::OomKilled, cfg, 120.0, peak)
                })
                .collect();
            (history, jobs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// While one job fits the capacity, a starved start is never refused and never given less
    /// memory than the floor scaled to the suggested jobs.
    #[test]
    fn a_starved_start_steps_down_instead_of_refusing(
        (history, _jobs) in arb_starved(),
        cap_cpu in 1u32..64,
        cap_mem in (1u64 << 30)..(64u64 << 30),
        seed in any::<u64>(),
    ) {
        let opt = Optimizer::new(OptimizerParams::default()).expect("valid params");
        let ctx = RunContext {
            tool: "cmake".into(),
            capacity: Some(Capacity { cpu_cores: Some(f64::from(cap_cpu)), memory_bytes: Some(cap_mem) }),
            ..RunContext::default()
        };
        let step = 64.0 * MIB;
        let one_job_fits = (expected_memory_floor(&history, &ctx, 1) / step).ceil() * step <= cap_mem as f64;
        match opt.suggest(None, &history, &ctx, Some(seed)) {
            Ok(s) => {
                let c = s.config;
                prop_assert!(c.concurrency >= 1);
                let floor = expected_memory_floor(&history, &ctx, c.concurrency);
                prop_assert!(c.memory_bytes as f64 >= floor, "memory {} below floor {} at {} jobs", c.memory_bytes, floor, c.concurrency);
                prop_assert!(c.memory_bytes <= cap_mem);
                prop_assert!(c.cpu_cores >= f64::from(c.concurrency) / 4.0);
                prop_assert!(c.cpu_cores <= f64::from(cap_cpu));
                prop_assert!(
                    s.rationale.iter().all(|l| !l.contains("last successful config")),
                    "{:?}", s.rationale
                );
            }
            Err(Error::NoSafeConfig(msg)) => {
                prop_assert!(!one_job_fits, "refused although 1 job fits: {msg}");
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
    let mut cfg = BuildConfig {
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
