//! The nodes a simulated pipeline runs on, and the history it brings to them.

use inframind_core::demo::SimPipeline;
use inframind_core::telemetry::{BuildConfig, Capacity, GIB};
use rand::Rng;
use serde::Serialize;

/// A node and a warm-up history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// 16 cores and 64 GiB: nothing binds but the tool's own parallelism. Warm-up: 20 runs
    /// around the tool's usual config.
    Roomy,
    /// 16 cores and half-way between what the usual config needs and what the roomy oracle
    /// takes, so the best config is limited by memory. Warm-up as in `Roomy`.
    Tight,
    /// 8 cores and 80% of what `-j8` needs: a team that ran `-j8` on the whole node and saw
    /// every one of its 5 warm-up runs OOM-killed.
    Starved,
}

/// Jobs of the starved warm-up runs.
pub const STARVED_JOBS: u32 = 8;

/// Warm-up runs of the roomy and tight scenarios (as many as `im-simulate` gives).
pub const WARM_UP_RUNS: usize = 20;

/// Warm-up runs of the starved scenario, all OOM-killed.
pub const STARVED_WARM_UP_RUNS: usize = 5;

/// A scenario made concrete for one tool.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    /// The scenario.
    pub scenario: Scenario,
    /// The tool.
    pub tool: String,
    /// The node, declared in every `/optimize` context.
    pub capacity: Capacity,
    /// The config the warm-up runs start from, and the one the keep-last baseline keeps.
    pub base: BuildConfig,
    /// Number of warm-up runs.
    pub warm_up_runs: usize,
    /// Whether warm-up configs are jittered around `base` (teams tweak their settings).
    pub jitter: bool,
    /// The fastest safe config within `capacity`.
    pub oracle: BuildConfig,
    /// Its expected duration, seconds.
    pub oracle_duration_s: f64,
    /// Whether the oracle is faster with the same cores and 4x the memory.
    pub memory_limited: bool,
}

impl Scenario {
    /// All scenarios, in report order.
    pub const ALL: [Scenario; 3] = [Scenario::Roomy, Scenario::Tight, Scenario::Starved];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Roomy => "roomy",
            Scenario::Tight => "tight",
            Scenario::Starved => "starved",
        }
    }

    /// The scenario called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The node and warm-up for `sim`.
    pub fn setup(self, sim: &SimPipeline) -> Setup {
        let roomy = Capacity {
            cpu_cores: Some(16.0),
            memory_bytes: Some(64 << 30),
        };
        let (capacity, base, warm_up_runs, jitter) = match self {
            Scenario::Roomy => (roomy, sim.initial, WARM_UP_RUNS, true),
            Scenario::Tight => {
                let usual = sim.peak_rss_bytes(&sim.initial) * 1.25;
                let best = sim.oracle(&roomy).0.memory_bytes as f64;
                let cap = Capacity {
                    cpu_cores: Some(16.0),
                    memory_bytes: Some(half_gib_floor((usual + best) / 2.0)),
                };
                (cap, within(&sim.initial, &cap), WARM_UP_RUNS, true)
            }
            Scenario::Starved => {
                let mut j8 = BuildConfig {
                    concurrency: STARVED_JOBS,
                    cpu_cores: f64::from(STARVED_JOBS),
                    memory_bytes: 0,
                };
                let mem = half_gib_floor(0.8 * sim.peak_rss_bytes(&j8));
                j8.memory_bytes = mem;
                let cap = Capacity {
                    cpu_cores: Some(f64::from(STARVED_JOBS)),
                    memory_bytes: Some(mem),
                };
                (cap, j8, STARVED_WARM_UP_RUNS, false)
            }
        };
        let (oracle, oracle_duration_s) = sim.oracle(&capacity);
        let more_memory = Capacity {
            memory_bytes: capacity.memory_bytes.map(|m| m.saturating_mul(4)),
            ..capacity
        };
        let memory_limited = sim.oracle(&more_memory).1 < oracle_duration_s * (1.0 - 1e-9);
        Setup {
            scenario: self,
            tool: sim.tool.clone(),
            capacity,
            base,
            warm_up_runs,
            jitter,
            oracle,
            oracle_duration_s,
            memory_limited,
        }
    }
}

impl Setup {
    /// The config of the next warm-up run: `base`, jittered if the scenario says so, never
    /// beyond the node.
    pub fn warm_up_config<R: Rng>(&self, sim: &SimPipeline, rng: &mut R) -> BuildConfig {
        if self.jitter {
            within(&sim.jitter(&self.base, rng), &self.capacity)
        } else {
            self.base
        }
    }
}

/// `config` cut down to what `capacity` has.
pub fn within(config: &BuildConfig, capacity: &Capacity) -> BuildConfig {
    BuildConfig {
        concurrency: config.concurrency,
        cpu_cores: capacity
            .cpu_cores
            .map_or(config.cpu_cores, |c| config.cpu_cores.min(c)),
        memory_bytes: capacity
            .memory_bytes
            .map_or(config.memory_bytes, |m| config.memory_bytes.min(m)),
    }
}

/// `bytes` rounded down to a multiple of 0.5 GiB (at least 0.5 GiB), as a node is sized.
fn half_gib_floor(bytes: f64) -> u64 {
    let half = GIB / 2.0;
    ((bytes / half).floor().max(1.0) * half) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use inframind_core::demo::DEMO_TOOLS;
    use inframind_core::telemetry::RunStatus;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn only_the_tight_node_binds_on_memory_for_every_tool() {
        for tool in DEMO_TOOLS {
            let sim = SimPipeline::for_tool(tool);
            assert!(!Scenario::Roomy.setup(&sim).memory_limited, "{tool}");
            assert!(Scenario::Tight.setup(&sim).memory_limited, "{tool}");
        }
    }

    #[test]
    fn every_starved_warm_up_run_is_oom_killed_and_warm_ups_fit_the_node() {
        for tool in DEMO_TOOLS {
            let sim = SimPipeline::for_tool(tool);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            for sc in Scenario::ALL {
                let setup = sc.setup(&sim);
                for i in 0..setup.warm_up_runs {
                    let c = setup.warm_up_config(&sim, &mut rng);
                    assert!(c.memory_bytes <= setup.capacity.memory_bytes.unwrap_or(0));
                    assert!(c.cpu_cores <= setup.capacity.cpu_cores.unwrap_or(0.0));
                    let run = sim.run(i, c, &mut rng);
                    if sc == Scenario::Starved {
                        assert_eq!(run.status, RunStatus::OomKilled, "{tool}");
                    }
                }
            }
        }
    }

    #[test]
    fn scenarios_parse_their_names() {
        for sc in Scenario::ALL {
            assert_eq!(Scenario::parse(sc.name()), Some(sc));
        }
        assert_eq!(Scenario::parse("huge"), None);
    }
}
