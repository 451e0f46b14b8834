//! Optimizer quality: 100 consecutive builds of a simulated pipeline (true duration depends on
//! concurrency, cores and memory; OOM kill below the true peak RSS), each run with a policy's
//! suggestion, against the oracle (the fastest safe config on a fine grid).
//!
//! Policies: InfraMind's optimizer (retrained after every build, 15% exploration), "keep last"
//! (the team's initial config forever), and a KRR/VPA-style percentile recommender (cores = p95
//! of CPU usage, memory = max peak + 15%, VPA's bump after an OOM; concurrency unchanged).
//!
//! Cost of a build = its expected (noise-free) duration with its config; an OOM-killed build
//! costs the time it ran before the kill plus a rerun at the oracle's duration. Regret = total
//! cost / oracle total - 1, over builds 31-100 ("after 30 builds") and over all 100.
//!
//! ```sh
//! cargo run --release -p inframind-benches --bin im-simulate [-- --json OUT]
//! ```

use std::process::ExitCode;

use inframind_benches::sim::baseline::percentile_next;
use inframind_benches::sim::cost::{build_cost, regret_pct};
use inframind_core::demo::{SimPipeline, DEMO_TOOLS};
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::telemetry::{BuildConfig, BuildRun, Capacity, RunContext};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

const BUILDS: usize = 100;
const WARM_UP_HISTORY: usize = 20;
const AFTER: usize = 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Policy {
    Inframind,
    KeepLast,
    Percentile,
}

#[derive(Serialize)]
struct Outcome {
    seed: u64,
    tool: String,
    policy: Policy,
    regret_after_30_pct: f64,
    regret_all_pct: f64,
    oom_kills: usize,
    oom_kills_after_warm_up: usize,
    final_config: BuildConfig,
    oracle_config: BuildConfig,
}

fn capacity() -> Capacity {
    Capacity {
        cpu_cores: Some(16.0),
        memory_bytes: Some(32 << 30),
    }
}

fn simulate(tool: &str, policy: Policy, seed: u64) -> Result<Outcome, String> {
    let sim = SimPipeline::for_tool(tool);
    let (oracle_cfg, oracle_d) = sim.oracle(&capacity());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut history: Vec<BuildRun> = (0..WARM_UP_HISTORY)
        .map(|i| {
            let c = sim.jitter(&sim.initial, &mut rng);
            sim.run(i, c, &mut rng)
        })
        .collect();
    let optimizer = Optimizer::new(OptimizerParams::default()).map_err(|e| e.to_string())?;
    let ctx = RunContext {
        tool: tool.into(),
        capacity: Some(capacity()),
        ..RunContext::default()
    };
    let mut costs = Vec::with_capacity(BUILDS);
    let (mut ooms, mut ooms_late) = (0, 0);
    let mut config = sim.initial;
    for b in 0..BUILDS {
        config = match policy {
            Policy::KeepLast => sim.initial,
            Policy::Percentile => percentile_next(&history, &config, &capacity()),
            Policy::Inframind => {
                let model = DurationModel::train(
                    &history,
                    RandomForestParams::new().n_trees(50).seed(b as u64),
                )
                .map_err(|e| e.to_string())?;
                let s = optimizer
                    .suggest(Some(&model), &history, &ctx, Some(seed ^ b as u64))
                    .map_err(|e| e.to_string())?;
                if std::env::var("IM_TRACE").is_ok_and(|t| t == tool) {
                    eprintln!(
                        "build {b}: {}j {}c {:.1}G pred {:.0} (base {:.0}) explored {} true {:.0}",
                        s.config.concurrency,
                        s.config.cpu_cores,
                        s.config.memory_gib(),
                        s.predicted_duration_s.unwrap_or(f64::NAN),
                        s.baseline_duration_s.unwrap_or(f64::NAN),
                        s.explored,
                        sim.expected_duration(&s.config, sim.cache_hit_ratio)
                            .unwrap_or(f64::NAN)
                    );
                }
                s.config
            }
        };
        let run = sim.run(WARM_UP_HISTORY + b, config, &mut rng);
        let (cost, oom) = build_cost(&sim, &config, &run, oracle_d);
        if oom {
            ooms += 1;
            if b >= 10 {
                ooms_late += 1;
            }
        }
        costs.push(cost);
        history.push(run);
    }
    let regret = |c: &[f64]| regret_pct(c, oracle_d);
    Ok(Outcome {
        seed,
        tool: tool.into(),
        policy,
        regret_after_30_pct: regret(&costs[AFTER..]),
        regret_all_pct: regret(&costs),
        oom_kills: ooms,
        oom_kills_after_warm_up: ooms_late,
        final_config: config,
        oracle_config: oracle_cfg,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut json_out = None;
    let mut seeds = 5u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--json", Some(p)) => json_out = Some(p.clone()),
            ("--seeds", Some(n)) if n.parse::<u64>().is_ok_and(|n| n > 0) => {
                seeds = n.parse().unwrap_or(5)
            }
            _ => {
                eprintln!("usage: im-simulate [--seeds N] [--json OUT]");
                return ExitCode::from(2);
            }
        }
    }
    let mut all = Vec::new();
    println!(
        "{:<8}{:<12}{:>22}{:>20}{:>10}{:>16}",
        "tool", "policy", "regret 31-100 mean", "regret 31-100 max", "OOMs", "OOMs after 10"
    );
    for tool in DEMO_TOOLS {
        for policy in [Policy::Inframind, Policy::KeepLast, Policy::Percentile] {
            let mut runs = Vec::new();
            for seed in 1..=seeds {
                match simulate(tool, policy, seed) {
                    Ok(o) => runs.push(o),
                    Err(e) => {
                        eprintln!("im-simulate: {tool} {policy:?} seed {seed}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let mean = runs.iter().map(|o| o.regret_after_30_pct).sum::<f64>() / runs.len() as f64;
            let max = runs
                .iter()
                .map(|o| o.regret_after_30_pct)
                .fold(f64::NEG_INFINITY, f64::max);
            let ooms: usize = runs.iter().map(|o| o.oom_kills).sum();
            let late: usize = runs.iter().map(|o| o.oom_kills_after_warm_up).sum();
            println!(
                "{:<8}{:<12}{:>21.1}%{:>19.1}%{:>10}{:>16}",
                tool,
                format!("{policy:?}"),
                mean,
                max,
                ooms,
                late
            );
            all.extend(runs);
        }
    }
    println!(
        "({seeds} seeds per row; {BUILDS} builds each after {WARM_UP_HISTORY} runs of history)"
    );
    if let Some(path) = json_out {
        match serde_json::to_string_pretty(&all) {
            Ok(s) => {
                if let Err(e) = std::fs::write(&path, s) {
                    eprintln!("im-simulate: {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("im-simulate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
