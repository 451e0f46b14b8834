//! The cost of a build and the regret of a sequence of builds.

use inframind_core::demo::SimPipeline;
use inframind_core::telemetry::{BuildConfig, BuildRun};

/// Cost of a build run with `config`, seconds, and whether it was OOM-killed: its expected
/// (noise-free) duration, or for an OOM-killed build the time it ran before the kill plus a
/// rerun at the oracle's duration `oracle_s`.
pub fn build_cost(
    sim: &SimPipeline,
    config: &BuildConfig,
    run: &BuildRun,
    oracle_s: f64,
) -> (f64, bool) {
    match sim.expected_duration(config, sim.cache_hit_ratio) {
        Some(d) => (d, false),
        None => (run.duration_s + oracle_s, true),
    }
}

/// Regret of `costs` in percent: their total over the oracle's total for as many builds, less
/// one (0 means every build cost what the oracle's would have).
pub fn regret_pct(costs: &[f64], oracle_s: f64) -> f64 {
    100.0 * (costs.iter().sum::<f64>() / (oracle_s * costs.len() as f64) - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inframind_core::telemetry::Capacity;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_oracle_costs_nothing_and_an_oom_costs_a_rerun() {
        let sim = SimPipeline::for_tool("cmake");
        let (oracle, d) = sim.oracle(&Capacity::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let run = sim.run(0, oracle, &mut rng);
        let (cost, oom) = build_cost(&sim, &oracle, &run, d);
        assert!(!oom);
        assert!(regret_pct(&[cost, cost], d).abs() < 1e-9);
        let mut starved = oracle;
        starved.memory_bytes /= 4;
        let run = sim.run(1, starved, &mut rng);
        let (cost, oom) = build_cost(&sim, &starved, &run, d);
        assert!(oom);
        assert!((cost - run.duration_s - d).abs() < 1e-9);
    }
}
