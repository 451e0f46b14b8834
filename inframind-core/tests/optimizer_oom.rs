//! The OOM trap, with numbers worked by hand: an OOM kill is per-job evidence, its floor scales
//! to the candidate's jobs, and a capacity that the baseline's jobs no longer fit makes the
//! optimizer run fewer jobs instead of refusing.

mod support;

use inframind_core::features::HistoryStats;
use inframind_core::optimizer::{Floors, Optimizer, OptimizerParams};
use inframind_core::telemetry::{BuildConfig, BuildRun, Capacity, RunContext, RunStatus};
use inframind_core::Error;

const GIB: u64 = 1 << 30;

fn cfg(jobs: u32, cores: f64, gib: f64) -> BuildConfig {
    BuildConfig {
        concurrency: jobs,
        cpu_cores: cores,
        memory_bytes: (gib * GIB as f64) as u64,
    }
}

fn oom(i: usize, config: BuildConfig) -> BuildRun {
    support::run(
        i,
        RunStatus::OomKilled,
        config,
        100.0,
        Some(config.memory_bytes),
    )
}

fn capped(cores: f64, gib: u64) -> RunContext {
    RunContext {
        tool: "cmake".into(),
        capacity: Some(Capacity {
            cpu_cores: Some(cores),
            memory_bytes: Some(gib * GIB),
        }),
        ..RunContext::default()
    }
}

fn floors(history: &[BuildRun]) -> Floors {
    let ctx = RunContext::for_tool("cmake");
    Floors::learn(history, &HistoryStats::from_history(history), &ctx)
}

fn assert_gib(bytes: f64, gib: f64) {
    assert!(
        (bytes / GIB as f64 - gib).abs() < 1e-9,
        "{} GiB, expected {gib}",
        bytes / GIB as f64
    );
}

#[test]
fn the_oom_floor_scales_with_jobs_from_a_per_job_estimate() {
    // Killed at 10 GiB with 8 jobs and no successful run: 1.25 GiB a job, no base.
    let f = floors(&[oom(0, cfg(8, 4.0, 10.0))]);
    assert_eq!(f.base_bytes, None);
    assert_gib(f.ooms[0].per_job_bytes(0.0), 1.25);
    // max(1.2 x need, need + 100 MiB): 1.2 x 10 = 12 at 8 jobs, 1.2 x 7.5 = 9 at 6, 1.2 x 5 = 6 at 4.
    assert_gib(f.memory(8), 12.0);
    assert_gib(f.memory(6), 9.0);
    assert_gib(f.memory(4), 6.0);
    // At 1 job, 1.25 GiB: 1.2 x 1.25 = 1.5 GiB beats 1.25 GiB + 100 MiB.
    assert_gib(f.memory(1), 1.5);
    // More jobs than it died with: the whole peak scales up, 1.2 x 10 x 12 / 8 = 18.
    assert_gib(f.memory(12), 18.0);
}

#[test]
fn a_base_rss_from_successful_runs_stays_whatever_the_jobs() {
    // Successful peaks 3 GiB at 2 jobs and 5 GiB at 6 jobs: 2 GiB + 0.5 GiB a job.
    let ok = |i, jobs, peak: f64| {
        support::run(
            i,
            RunStatus::Success,
            cfg(jobs, 4.0, 12.0),
            100.0,
            Some((peak * GIB as f64) as u64),
        )
    };
    let history = vec![ok(0, 2, 3.0), ok(1, 6, 5.0), oom(2, cfg(8, 4.0, 8.0))];
    let f = floors(&history);
    assert_gib(f.base_bytes.expect("two job counts"), 2.0);
    // Died at 8 GiB with 8 jobs: (8 - 2) / 8 = 0.75 GiB a job above the 2 GiB base.
    assert_gib(f.ooms[0].per_job_bytes(2.0 * GIB as f64), 0.75);
    // At 4 jobs it needs 2 + 4 x 0.75 = 5 GiB, floor 6 GiB (without the base, 1.2 x 8 x 4 / 8
    // = 4.8 GiB).
    let (floor, run) = f.oom_floor(4).expect("an OOM");
    assert_gib(floor, 6.0);
    assert_eq!(run.run_id, "run-2");
    // At 8 jobs it is the peak itself: 1.2 x 8 = 9.6 GiB.
    assert_gib(f.oom_floor(8).expect("an OOM").0, 9.6);
}

#[test]
fn an_oom_kill_that_prices_8_jobs_out_steps_down_to_6() {
    // Killed at 10 GiB with 8 jobs, capacity 10 GiB: 8 jobs need 12 GiB, 7 jobs 10.5 GiB,
    // 6 jobs 9 GiB (lifted to 9.00 GiB, a multiple of 64 MiB), so 6 jobs within ±25% fit.
    let history = vec![oom(0, cfg(8, 4.0, 10.0))];
    let opt = Optimizer::new(OptimizerParams::default()).expect("params");
    let s = opt
        .suggest(None, &history, &capped(8.0, 10), Some(1))
        .expect("6 jobs fit");
    assert_eq!(s.config.concurrency, 6);
    assert_eq!(s.config.memory_bytes, 10 * GIB);
    assert_eq!(s.config.cpu_cores, 4.0);
    assert_eq!(
        s.rationale[0],
        "History: 1 runs (0 successful); last config (all 1 runs failed: OOM): 8 jobs, 4 cores, 10.00 GiB."
    );
    assert_eq!(
        s.rationale[1],
        "8 jobs need ~12.00 GiB (OOM-killed at 10.00 GiB with 8 jobs in run run-0), more than the \
         10.00 GiB capacity; 6 jobs fit in 10.00 GiB with 4 cores."
    );
    assert!(
        s.rationale.iter().all(|l| !l.contains("last successful")),
        "{:?}",
        s.rationale
    );
}

#[test]
fn when_nothing_near_fits_concurrency_steps_down_past_the_bound() {
    // Killed at 16 GiB with 8 jobs, capacity 8 GiB: the floor is 1.2 x 2 GiB = 2.4 GiB a job,
    // so 3 jobs (7.2 GiB, 7.25 GiB in 64 MiB steps) is the most that fits; 6 to 10 jobs (the
    // ±25% neighbourhood) all need 14.4 GiB or more.
    let history = vec![oom(0, cfg(8, 4.0, 16.0))];
    let opt = Optimizer::new(OptimizerParams::default()).expect("params");
    let s = opt
        .suggest(None, &history, &capped(8.0, 8), Some(1))
        .expect("3 jobs fit");
    assert_eq!(s.config, cfg(3, 4.0, 8.0));
    assert_eq!(
        s.rationale[1],
        "8 jobs need ~19.20 GiB (OOM-killed at 16.00 GiB with 8 jobs in run run-0), more than the \
         8.00 GiB capacity; 3 jobs fit in 8.00 GiB with 4 cores."
    );
    // The guard names the per-job evidence at 3 jobs.
    let memory_floor = &s.guards[0];
    assert_eq!(memory_floor.kind.as_str(), "memory_floor");
    assert_gib(memory_floor.limit, 7.2);
    assert!(
        memory_floor
            .reason
            .contains("OOM kill in run run-0 at 16.00 GiB with 8 jobs, 2.00 GiB per job x 3"),
        "{}",
        memory_floor.reason
    );
}

#[test]
fn a_cpu_capacity_below_the_jobs_steps_down_too() {
    // 8 jobs need 2 cores; with 1 core, 4 jobs is the most (4 x 0.25 = 1).
    let ok = |i| support::run(i, RunStatus::Success, cfg(8, 2.0, 4.0), 100.0, Some(GIB));
    let history: Vec<BuildRun> = (0..3).map(ok).collect();
    let opt = Optimizer::new(OptimizerParams::default()).expect("params");
    let ctx = RunContext {
        tool: "cmake".into(),
        capacity: Some(Capacity {
            cpu_cores: Some(1.0),
            memory_bytes: None,
        }),
        ..RunContext::default()
    };
    let s = opt
        .suggest(None, &history, &ctx, Some(1))
        .expect("4 jobs fit");
    assert_eq!(s.config.concurrency, 4);
    assert_eq!(s.config.cpu_cores, 1.0);
    assert!(
        s.rationale[1]
            .starts_with("8 jobs need 2.00 cores, more than the 1 cores capacity; 4 jobs fit in"),
        "{:?}",
        s.rationale
    );
}

#[test]
fn no_safe_config_only_when_one_job_does_not_fit() {
    // Killed at 32 GiB with 4 jobs: 1 job still needs 1.2 x 8 = 9.6 GiB, above 8 GiB.
    let history = vec![oom(0, cfg(4, 4.0, 32.0))];
    let opt = Optimizer::new(OptimizerParams::default()).expect("params");
    match opt.suggest(None, &history, &capped(8.0, 8), Some(1)) {
        Err(Error::NoSafeConfig(msg)) => {
            assert!(msg.contains("even 1 job needs 9.60 GiB"), "{msg}");
            assert!(msg.ends_with("declared memory capacity 8.00 GiB; declared CPU capacity 8 cores: raise the capacity"), "{msg}");
        }
        other => panic!("expected NoSafeConfig, got {other:?}"),
    }
    // With 10 GiB, 1 job fits (9.6 GiB, 9.62 GiB in 64 MiB steps).
    let s = opt
        .suggest(None, &history, &capped(8.0, 10), Some(1))
        .expect("1 job fits");
    assert_eq!(s.config.concurrency, 1);
    assert!(s.config.memory_bytes as f64 >= 9.6 * GIB as f64);
}

#[test]
fn a_history_without_success_names_how_its_runs_ended() {
    let c = cfg(4, 2.0, 4.0);
    let history = vec![
        oom(0, c),
        support::run(1, RunStatus::Timeout, c, 100.0, None),
        oom(2, c),
    ];
    let opt = Optimizer::new(OptimizerParams::default()).expect("params");
    let s = opt
        .suggest(None, &history, &RunContext::for_tool("cmake"), Some(1))
        .expect("a suggestion");
    assert_eq!(
        s.rationale[0],
        "History: 3 runs (0 successful); last config (all 3 runs failed: 2 OOM, 1 timeout): 4 jobs, 2 cores, 4.00 GiB."
    );
    assert_eq!(
        s.rationale[1],
        "Cold start: 0 successful runs, fewer than the 10 the model needs; keeping the last config."
    );
}

#[test]
fn a_config_that_succeeded_is_never_refused_for_the_headroom_alone() {
    // Succeeded at 5 jobs with a 3.86 GiB peak in 4.5 GiB; killed at 6 jobs in 4.5 GiB. The
    // headroom over the peak (1.2 x 3.86 = 4.63 GiB) is more than the node's 4.5 GiB, but 5
    // jobs are known to fit in 4.5 GiB: the floor at 5 jobs is capped there.
    let ok = |i| {
        support::run(
            i,
            RunStatus::Success,
            cfg(5, 5.0, 4.5),
            100.0,
            Some((3.86 * GIB as f64) as u64),
        )
    };
    let history = vec![ok(0), ok(1), ok(2), oom(3, cfg(6, 6.0, 4.5)), ok(4)];
    let f = floors(&history);
    assert_eq!(f.base_bytes, None, "one job count: no base");
    assert!(f.learned_and_capped(5).0 > 4.6 * GIB as f64);
    assert_gib(f.memory(5), 4.5);
    // At 6 jobs no success caps the peaks: 1.2 x 3.86 x 6 / 5 = 5.56 GiB (above the OOM's
    // 1.2 x 4.5 = 5.4 GiB).
    assert!((f.memory(6) / GIB as f64 - 1.2 * 3.86 * 6.0 / 5.0).abs() < 1e-6);
    let optimizer = Optimizer::new(OptimizerParams::default()).expect("params");
    // With 4 GiB, nothing says how the 3.86 GiB split between jobs (every success ran 5): the
    // peak is not scaled down, and the refusal says what even 1 job needs.
    match optimizer.suggest(None, &history, &capped(8.0, 4), Some(1)) {
        Err(Error::NoSafeConfig(m)) => assert!(m.contains("even 1 job needs 4.50 GiB"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A success at 3 jobs with 2.5 GiB gives a base (2.5 - 0.68 x 3 = 0.46 GiB): peaks scale
    // down to fewer jobs, and 4 GiB fits fewer than 5.
    let mut known = history.clone();
    known.push(support::run(
        5,
        RunStatus::Success,
        cfg(3, 3.0, 4.0),
        100.0,
        Some((2.5 * GIB as f64) as u64),
    ));
    assert!(floors(&known).base_bytes.is_some());
    let s = optimizer
        .suggest(None, &known, &capped(8.0, 4), Some(1))
        .expect("fewer jobs fit");
    assert!(s.config.concurrency < 5, "{:?}", s.config);
    assert!(s.config.memory_bytes <= 4 * GIB);
    let s = Optimizer::new(OptimizerParams::default())
        .expect("params")
        .suggest(None, &history, &capped(8.0, 5), Some(1))
        .expect("the config that succeeded fits");
    assert!(s.config.concurrency >= 5, "{:?}", s.config);
}
