//! How fast the optimizer learns in-process versus behind a real `inframind-server`: per
//! scenario × demo pipeline × seed, 40 consecutive builds of a simulated pipeline
//! ([`SimPipeline`]) through each path, against the oracle (the fastest safe config within the
//! node's capacity).
//!
//! Paths:
//! - `library`: [`Optimizer`] and [`DurationModel`] in this process, the model trained again
//!   whenever [`RetrainPolicy::default`] says it is due (the policy the hosts share);
//! - `server`: a real `inframind-server` child process (SQLite file and model store in a
//!   temporary folder, a free loopback port, an API token), driven over HTTP like a CI plugin:
//!   `POST /optimize`, then `/builds/start`, one `/builds/step` per step with its peak RSS and
//!   `/builds/complete`. An OOM-killed build is reported as a `failure` whose `log_tail` holds
//!   a kernel OOM-killer line, so the server's classifier decides it was an OOM;
//! - `keep_last` and `percentile`: the baselines of `im-simulate`, for reference.
//!
//! Scenarios (the capacity is declared in every context): `roomy` (16 cores, 64 GiB),
//! `tight` (16 cores, memory between what the usual config needs and what the roomy oracle
//! takes, so the best config is memory-limited) and `starved` (8 cores and 80% of what `-j8`
//! needs; the 5 warm-up runs ran `-j8` on the whole node and were all OOM-killed). The warm-up
//! history reaches each path the way builds do (library: as runs; server: start/steps/complete).
//!
//! Cost of a build = its expected (noise-free) duration; an OOM-killed build costs the time it
//! ran plus a rerun at the oracle's duration. Regret = total cost / oracle total - 1, over the
//! last 10 builds and over all 40. Also counted: OOM kills (all, and from the 3rd suggestion
//! on), cold answers (`cold_start` in the suggestion: no model, or too few successful runs) and
//! NoSafeConfig answers (a 422 with code `no_safe_config` from the server, an error of that kind
//! from the library; the build then runs with the last config).
//!
//! ```sh
//! cargo build --release -p server-example -p inframind-benches
//! target/release/im-simulate-server [--seeds 3] [--scenarios roomy,tight,starved] [--json OUT]
//! ```
//!
//! The server binary is looked for next to this one (`--server-bin PATH` to choose another).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use inframind_benches::sim::baseline::percentile_next;
use inframind_benches::sim::cost::{build_cost, regret_pct};
use inframind_benches::sim::scenario::{Scenario, Setup};
use inframind_benches::sim::server::{oom_log_tail, Optimized, Server};
use inframind_core::demo::{SimPipeline, DEMO_TOOLS};
use inframind_core::telemetry::{BuildConfig, BuildRun, RunContext, RunStatus, GIB};
use inframind_core::{
    DurationModel, ErrorKind, Optimizer, OptimizerParams, RandomForestParams, RetrainPolicy,
    TrainingProgress,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Builds per run of a path.
const BUILDS: usize = 40;
/// The "after learning" window: the last builds.
const LAST: usize = 10;
/// OOM kills from this suggestion on (0-based) count as not learnt from the first ones.
const LATE_FROM: usize = 2;
/// Trees of the library's forests: as many as the server's trainer grows.
const TREES: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
enum PathKind {
    Library,
    Server,
    KeepLast,
    Percentile,
}

impl PathKind {
    const ALL: [PathKind; 4] = [
        PathKind::Library,
        PathKind::Server,
        PathKind::KeepLast,
        PathKind::Percentile,
    ];

    fn name(self) -> &'static str {
        match self {
            PathKind::Library => "library",
            PathKind::Server => "server",
            PathKind::KeepLast => "keep_last",
            PathKind::Percentile => "percentile",
        }
    }

    fn learns(self) -> bool {
        matches!(self, PathKind::Library | PathKind::Server)
    }
}

/// What a path chose for one build.
#[derive(Default)]
struct Decision {
    /// `None`: no safe config (the build runs with the last one).
    config: Option<BuildConfig>,
    cold: bool,
    explored: bool,
    model_version: Option<String>,
    /// Why no config was safe, when none was.
    refusal: Option<String>,
}

#[derive(Serialize)]
struct BuildRecord {
    index: usize,
    config: BuildConfig,
    status: RunStatus,
    /// The status the server recorded (server path).
    #[serde(skip_serializing_if = "Option::is_none")]
    server_status: Option<RunStatus>,
    duration_s: f64,
    cost_s: f64,
    cold: bool,
    explored: bool,
    no_safe_config: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<String>,
}

#[derive(Serialize)]
struct Outcome {
    scenario: Scenario,
    tool: String,
    seed: u64,
    path: PathKind,
    regret_last_10_pct: f64,
    regret_all_pct: f64,
    oom_kills: usize,
    oom_kills_from_3rd: usize,
    /// Cold suggestions (learning paths only).
    cold_answers: Option<usize>,
    no_safe_config: usize,
    /// The first NoSafeConfig message.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_refusal: Option<String>,
    /// Models trained (library) or model versions seen in answers (server).
    models: Option<usize>,
    /// Runs the server recorded with another status than the simulated one.
    status_mismatches: Option<usize>,
    elapsed_s: f64,
    final_config: BuildConfig,
    builds: Vec<BuildRecord>,
}

/// A policy driven through warm-up and builds.
trait Driver {
    /// Learns of a completed run, the last of `history`; returns the status it was recorded
    /// with when that is another one.
    fn observe(&mut self, history: &[BuildRun], run_id: &str) -> Result<Option<RunStatus>, String>;
    /// The config of build `b`.
    fn decide(
        &mut self,
        b: usize,
        history: &[BuildRun],
        last: &BuildConfig,
    ) -> Result<Decision, String>;
    /// Models trained or seen.
    fn models(&self) -> Option<usize>;
}

struct Library {
    optimizer: Optimizer,
    policy: RetrainPolicy,
    model: Option<DurationModel>,
    progress: TrainingProgress,
    context: RunContext,
    seed: u64,
    trained: usize,
}

impl Driver for Library {
    fn observe(
        &mut self,
        history: &[BuildRun],
        _run_id: &str,
    ) -> Result<Option<RunStatus>, String> {
        let Some((run, before)) = history.split_last() else {
            return Ok(None);
        };
        let predicted = self
            .model
            .as_ref()
            .and_then(|m| m.predict(&self.context, &run.config, before).ok());
        let p = &mut self.progress;
        p.completed += 1;
        p.successes += u64::from(run.status.is_success());
        p.surprise |= self
            .policy
            .is_surprise(run.status, run.duration_s, predicted);
        if self.policy.is_due(p).is_some() {
            p.trained_at = Some(p.completed);
            p.surprise = false;
            match DurationModel::train(history, RandomForestParams::new().n_trees(TREES)) {
                Ok(m) => {
                    self.model = Some(m);
                    self.trained += 1;
                }
                // Like a host: too little data keeps the model it has.
                Err(e) if e.kind() == ErrorKind::NotEnoughData => {}
                Err(e) => return Err(format!("training: {e}")),
            }
            p.has_model = self.model.is_some();
        }
        Ok(None)
    }

    fn decide(
        &mut self,
        b: usize,
        history: &[BuildRun],
        _last: &BuildConfig,
    ) -> Result<Decision, String> {
        match self.optimizer.suggest(
            self.model.as_ref(),
            history,
            &self.context,
            Some(self.seed ^ b as u64),
        ) {
            Ok(s) => Ok(Decision {
                config: Some(s.config),
                cold: s.cold_start,
                explored: s.explored,
                model_version: s.model_version,
                refusal: None,
            }),
            Err(e) if e.kind() == ErrorKind::NoSafeConfig => Ok(Decision {
                refusal: Some(e.to_string()),
                ..Decision::default()
            }),
            Err(e) => Err(format!("suggest: {e}")),
        }
    }

    fn models(&self) -> Option<usize> {
        Some(self.trained)
    }
}

struct ServerPath<'a> {
    server: &'a Server,
    pipeline: String,
    context: RunContext,
    seed: u64,
    pause: Duration,
    versions: BTreeSet<String>,
}

impl Driver for ServerPath<'_> {
    fn observe(&mut self, history: &[BuildRun], run_id: &str) -> Result<Option<RunStatus>, String> {
        let Some(run) = history.last() else {
            return Ok(None);
        };
        let log = oom_log_tail(
            &run.tool,
            20_000 + history.len() as u32,
            run.config.memory_bytes,
        );
        let recorded = self.server.report(&self.pipeline, run_id, run, &log)?;
        Ok((recorded != run.status).then_some(recorded))
    }

    fn decide(
        &mut self,
        b: usize,
        _history: &[BuildRun],
        _last: &BuildConfig,
    ) -> Result<Decision, String> {
        // Builds are minutes apart in CI: give the server's background trainer the time a
        // training takes before the next build asks.
        std::thread::sleep(self.pause);
        match self
            .server
            .optimize(&self.pipeline, &self.context, self.seed ^ b as u64)?
        {
            Optimized::Suggestion(a) => {
                if let Some(v) = &a.model_version {
                    self.versions.insert(v.clone());
                }
                Ok(Decision {
                    config: Some(a.config),
                    cold: a.cold_start,
                    explored: a.explored,
                    model_version: a.model_version,
                    refusal: None,
                })
            }
            Optimized::NoSafeConfig(msg) => Ok(Decision {
                refusal: Some(msg),
                ..Decision::default()
            }),
        }
    }

    fn models(&self) -> Option<usize> {
        Some(self.versions.len())
    }
}

struct Baseline {
    kind: PathKind,
    setup: Setup,
}

impl Driver for Baseline {
    fn observe(
        &mut self,
        _history: &[BuildRun],
        _run_id: &str,
    ) -> Result<Option<RunStatus>, String> {
        Ok(None)
    }

    fn decide(
        &mut self,
        _b: usize,
        history: &[BuildRun],
        last: &BuildConfig,
    ) -> Result<Decision, String> {
        let config = match self.kind {
            PathKind::Percentile => percentile_next(history, last, &self.setup.capacity),
            _ => self.setup.base,
        };
        Ok(Decision {
            config: Some(config),
            ..Decision::default()
        })
    }

    fn models(&self) -> Option<usize> {
        None
    }
}

/// The random stream of one scenario × tool × seed: the same for every path, so all of them
/// see the same warm-up history.
fn rng_for(scenario: Scenario, tool_index: usize, seed: u64) -> ChaCha8Rng {
    let s = scenario as u64;
    ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (s << 40) ^ ((tool_index as u64) << 32),
    )
}

struct Episode<'a> {
    sim: &'a SimPipeline,
    setup: &'a Setup,
    tool_index: usize,
    seed: u64,
}

impl Episode<'_> {
    fn run_id(&self, index: usize) -> String {
        format!(
            "{}-{}-s{}-{index}",
            self.setup.scenario.name(),
            self.sim.tool,
            self.seed
        )
    }

    fn warm_up(
        &self,
        driver: &mut dyn Driver,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<BuildRun>, String> {
        let mut history = Vec::with_capacity(self.setup.warm_up_runs + BUILDS);
        for i in 0..self.setup.warm_up_runs {
            let config = self.setup.warm_up_config(self.sim, rng);
            history.push(self.sim.run(i, config, rng));
            driver.observe(&history, &self.run_id(i))?;
        }
        Ok(history)
    }

    fn play(&self, path: PathKind, driver: &mut dyn Driver) -> Result<Outcome, String> {
        let started = Instant::now();
        let mut rng = rng_for(self.setup.scenario, self.tool_index, self.seed);
        let mut history = self.warm_up(driver, &mut rng)?;
        let oracle_s = self.setup.oracle_duration_s;
        let mut last = history.last().map_or(self.setup.base, |r| r.config);
        let mut builds = Vec::with_capacity(BUILDS);
        let mut first_refusal = None;
        for b in 0..BUILDS {
            let d = driver.decide(b, &history, &last)?;
            if first_refusal.is_none() {
                first_refusal = d.refusal;
            }
            let config = d.config.unwrap_or(last);
            let index = self.setup.warm_up_runs + b;
            let run = self.sim.run(index, config, &mut rng);
            let (cost_s, _) = build_cost(self.sim, &config, &run, oracle_s);
            let (status, duration_s) = (run.status, run.duration_s);
            history.push(run);
            let mismatch = driver.observe(&history, &self.run_id(index))?;
            builds.push(BuildRecord {
                index: b,
                config,
                status,
                server_status: mismatch,
                duration_s,
                cost_s,
                cold: d.cold,
                explored: d.explored,
                no_safe_config: d.config.is_none(),
                model_version: d.model_version,
            });
            last = config;
        }
        let mut o = self.outcome(path, driver, builds, started.elapsed());
        o.first_refusal = first_refusal;
        Ok(o)
    }

    fn outcome(
        &self,
        path: PathKind,
        driver: &dyn Driver,
        builds: Vec<BuildRecord>,
        elapsed: Duration,
    ) -> Outcome {
        let costs: Vec<f64> = builds.iter().map(|b| b.cost_s).collect();
        let oracle_s = self.setup.oracle_duration_s;
        let oom = |b: &&BuildRecord| b.status == RunStatus::OomKilled;
        Outcome {
            scenario: self.setup.scenario,
            tool: self.sim.tool.clone(),
            seed: self.seed,
            path,
            regret_last_10_pct: regret_pct(&costs[BUILDS - LAST..], oracle_s),
            regret_all_pct: regret_pct(&costs, oracle_s),
            oom_kills: builds.iter().filter(oom).count(),
            oom_kills_from_3rd: builds.iter().skip(LATE_FROM).filter(oom).count(),
            cold_answers: path
                .learns()
                .then(|| builds.iter().filter(|b| b.cold).count()),
            no_safe_config: builds.iter().filter(|b| b.no_safe_config).count(),
            first_refusal: None,
            models: driver.models(),
            status_mismatches: (path == PathKind::Server)
                .then(|| builds.iter().filter(|b| b.server_status.is_some()).count()),
            elapsed_s: elapsed.as_secs_f64(),
            final_config: builds.last().map_or(self.setup.base, |b| b.config),
            builds,
        }
    }
}

struct Args {
    seeds: u64,
    scenarios: Vec<Scenario>,
    tools: Vec<String>,
    json_out: Option<PathBuf>,
    server_bin: Option<PathBuf>,
    pause: Duration,
}

const USAGE: &str = "usage: im-simulate-server [--seeds N] [--scenarios roomy,tight,starved] \
                     [--tools cmake,bazel,gradle,npm,cargo] [--json OUT] [--server-bin PATH] \
                     [--pause-ms MS]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seeds: 3,
        scenarios: Scenario::ALL.to_vec(),
        tools: DEMO_TOOLS.iter().map(|t| t.to_string()).collect(),
        json_out: None,
        server_bin: None,
        pause: Duration::from_millis(100),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seeds" => {
                a.seeds = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--seeds {value}: expected a count above 0"))?
            }
            "--scenarios" => {
                a.scenarios = value
                    .split(',')
                    .map(|s| {
                        Scenario::parse(s.trim()).ok_or_else(|| format!("unknown scenario {s:?}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--tools" => {
                a.tools = value
                    .split(',')
                    .map(|t| {
                        DEMO_TOOLS
                            .contains(&t.trim())
                            .then(|| t.trim().to_string())
                            .ok_or_else(|| {
                                format!("unknown tool {t:?} (demo tools: {DEMO_TOOLS:?})")
                            })
                    })
                    .collect::<Result<_, _>>()?
            }
            "--json" => a.json_out = Some(PathBuf::from(value)),
            "--server-bin" => a.server_bin = Some(PathBuf::from(value)),
            "--pause-ms" => {
                a.pause = Duration::from_millis(
                    value
                        .parse()
                        .map_err(|_| format!("--pause-ms {value}: expected milliseconds"))?,
                )
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn server_bin(args: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &args.server_bin {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
    let bin = exe.with_file_name("inframind-server");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "no {}: build it first with `cargo build --release -p server-example`, or pass \
             --server-bin PATH",
            bin.display()
        ))
    }
}

fn gib(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / GIB))
}

fn describe(c: &BuildConfig) -> String {
    format!(
        "-j{} {}c {:.1}G",
        c.concurrency,
        c.cpu_cores,
        c.memory_gib()
    )
}

fn print_setups(setups: &[(Scenario, Vec<Setup>)]) {
    println!(
        "{:<9}{:<8}{:>14}{:>18}{:>18}{:>11}{:>10}",
        "scenario", "tool", "node (c, GiB)", "warm-up base", "oracle", "oracle s", "mem-bound"
    );
    for (_, list) in setups {
        for s in list {
            println!(
                "{:<9}{:<8}{:>14}{:>18}{:>18}{:>11.0}{:>10}",
                s.scenario.name(),
                s.tool,
                format!(
                    "{}, {}",
                    s.capacity.cpu_cores.unwrap_or(f64::NAN),
                    gib(s.capacity.memory_bytes)
                ),
                describe(&s.base),
                describe(&s.oracle),
                s.oracle_duration_s,
                if s.memory_limited { "yes" } else { "no" }
            );
        }
    }
    println!();
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn print_rows(label: &str, rows: &[(String, PathKind, Vec<&Outcome>)]) {
    println!(
        "{:<16}{:<12}{:>14}{:>13}{:>14}{:>7}{:>10}{:>7}{:>8}{:>7}",
        label,
        "path",
        "regret last10",
        "(max)",
        "regret all40",
        "OOMs",
        "OOMs ≥3rd",
        "cold",
        "no-safe",
        "models"
    );
    for (key, path, runs) in rows {
        let sum = |f: &dyn Fn(&Outcome) -> usize| runs.iter().map(|o| f(o)).sum::<usize>();
        let opt = |f: &dyn Fn(&Outcome) -> Option<usize>| {
            runs.iter()
                .map(|o| f(o))
                .sum::<Option<usize>>()
                .map_or("-".to_string(), |n| n.to_string())
        };
        println!(
            "{:<16}{:<12}{:>13.1}%{:>12.1}%{:>13.1}%{:>7}{:>10}{:>7}{:>8}{:>7}",
            key,
            path.name(),
            mean(runs.iter().map(|o| o.regret_last_10_pct)),
            runs.iter()
                .map(|o| o.regret_last_10_pct)
                .fold(f64::NEG_INFINITY, f64::max),
            mean(runs.iter().map(|o| o.regret_all_pct)),
            sum(&|o| o.oom_kills),
            sum(&|o| o.oom_kills_from_3rd),
            opt(&|o| o.cold_answers),
            sum(&|o| o.no_safe_config),
            opt(&|o| o.models),
        );
    }
    println!();
}

fn report(args: &Args, all: &[Outcome]) {
    let group = |by_tool: bool| {
        let mut rows: Vec<(String, PathKind, Vec<&Outcome>)> = Vec::new();
        for sc in &args.scenarios {
            let tools: Vec<Option<&str>> = if by_tool {
                args.tools.iter().map(|t| Some(t.as_str())).collect()
            } else {
                vec![None]
            };
            for tool in tools {
                for path in PathKind::ALL {
                    let runs: Vec<&Outcome> = all
                        .iter()
                        .filter(|o| o.scenario == *sc && o.path == path)
                        .filter(|o| tool.is_none_or(|t| o.tool == t))
                        .collect();
                    let key = match tool {
                        Some(t) => format!("{} {t}", sc.name()),
                        None => sc.name().to_string(),
                    };
                    rows.push((key, path, runs));
                }
            }
        }
        rows
    };
    println!(
        "Per scenario and path ({} tools x {} seeds per row; {BUILDS} builds each; regret = \
         mean over the runs, max in brackets; counts summed):",
        args.tools.len(),
        args.seeds
    );
    print_rows("scenario", &group(false));
    println!(
        "Per scenario, tool and path ({} seeds per row):",
        args.seeds
    );
    print_rows("scenario tool", &group(true));
    let mismatches: usize = all.iter().filter_map(|o| o.status_mismatches).sum();
    let server_ooms: usize = all
        .iter()
        .filter(|o| o.path == PathKind::Server)
        .map(|o| o.oom_kills)
        .sum();
    println!(
        "Server: {server_ooms} OOM-killed builds reported as failure + kernel log line; {mismatches} \
         recorded with another status than the simulated one."
    );
    for path in PathKind::ALL {
        let t: f64 = all
            .iter()
            .filter(|o| o.path == path)
            .map(|o| o.elapsed_s)
            .sum();
        println!("Wall time of the {} path: {t:.1} s", path.name());
    }
}

fn setups_for(args: &Args) -> Result<Vec<(Scenario, Vec<Setup>)>, String> {
    let mut out = Vec::new();
    for sc in &args.scenarios {
        let list: Vec<Setup> = args
            .tools
            .iter()
            .map(|t| sc.setup(&SimPipeline::for_tool(t)))
            .collect();
        if let Some(s) = list
            .iter()
            .find(|s| *sc == Scenario::Tight && !s.memory_limited)
        {
            return Err(format!(
                "tight {}: the oracle is not memory-limited at {} GiB",
                s.tool,
                gib(s.capacity.memory_bytes)
            ));
        }
        out.push((*sc, list));
    }
    Ok(out)
}

fn run(args: &Args) -> Result<Vec<Outcome>, String> {
    let setups = setups_for(args)?;
    print_setups(&setups);
    let bin = server_bin(args)?;
    let server = Server::spawn(
        &bin,
        &std::env::temp_dir(),
        // Durability is not measured here; a sync per commit would only slow the run.
        &["--sqlite-synchronous".into(), "normal".into()],
    )?;
    eprintln!(
        "im-simulate-server: inframind-server pid {} in {}",
        server.pid(),
        server.dir().display()
    );
    let optimizer = Optimizer::new(OptimizerParams::default()).map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    for (scenario, list) in &setups {
        for setup in list {
            let sim = SimPipeline::for_tool(&setup.tool);
            let tool_index = DEMO_TOOLS
                .iter()
                .position(|t| *t == setup.tool)
                .unwrap_or(0);
            let context = RunContext {
                capacity: Some(setup.capacity),
                ..RunContext::for_tool(setup.tool.as_str())
            };
            for seed in 1..=args.seeds {
                let ep = Episode {
                    sim: &sim,
                    setup,
                    tool_index,
                    seed,
                };
                let draw = seed.wrapping_mul(1000) + tool_index as u64;
                for path in PathKind::ALL {
                    let mut driver: Box<dyn Driver + '_> = match path {
                        PathKind::Library => Box::new(Library {
                            optimizer: optimizer.clone(),
                            policy: RetrainPolicy::default(),
                            model: None,
                            progress: TrainingProgress::default(),
                            context: context.clone(),
                            seed: draw,
                            trained: 0,
                        }),
                        PathKind::Server => Box::new(ServerPath {
                            server: &server,
                            pipeline: format!("sim/{}/{}-s{seed}", scenario.name(), setup.tool),
                            context: context.clone(),
                            seed: draw,
                            pause: args.pause,
                            versions: BTreeSet::new(),
                        }),
                        PathKind::KeepLast | PathKind::Percentile => Box::new(Baseline {
                            kind: path,
                            setup: setup.clone(),
                        }),
                    };
                    let o = ep.play(path, driver.as_mut()).map_err(|e| {
                        format!(
                            "{} {} seed {seed} {}: {e}",
                            scenario.name(),
                            setup.tool,
                            path.name()
                        )
                    })?;
                    all.push(o);
                }
            }
            eprintln!(
                "im-simulate-server: {} {} done",
                scenario.name(),
                setup.tool
            );
        }
    }
    server.stop(false)?;
    Ok(all)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("im-simulate-server: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let started = Instant::now();
    let all = match run(&args) {
        Ok(all) => all,
        Err(e) => {
            eprintln!("im-simulate-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    report(&args, &all);
    println!(
        "({} seeds; {BUILDS} builds per path after the warm-up; {:.0} s in all)",
        args.seeds,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.json_out {
        let written = serde_json::to_string_pretty(&all)
            .map_err(|e| e.to_string())
            .and_then(|s| std::fs::write(path, s).map_err(|e| format!("{}: {e}", path.display())));
        if let Err(e) = written {
            eprintln!("im-simulate-server: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
