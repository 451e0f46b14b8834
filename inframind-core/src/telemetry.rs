//! Build telemetry: runs, steps, configs and the context of a build about to start.
//!
//! The JSON shape is the one of the REST API InfraMind replaces (snake_case field names:
//! `run_id`, `pipeline`, `tool`, `status`, `duration_s`, `steps`...), so a request body can be
//! parsed straight into these types. Every value that reaches the model goes through
//! [`BuildRun::validate`] or [`RunContext::validate`] first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rules::{self, is_duration};

/// Bytes in one GiB, the unit features use for memory.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Resources a build runs with: what the optimizer tunes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BuildConfig {
    /// Parallel jobs (`make -jN`, Gradle workers, `CARGO_BUILD_JOBS`...). At least 1.
    pub concurrency: u32,
    /// CPU cores granted to the build (may be fractional, like a Kubernetes CPU limit).
    pub cpu_cores: f64,
    /// Memory granted to the build, in bytes.
    pub memory_bytes: u64,
}

impl BuildConfig {
    /// Memory in GiB.
    pub fn memory_gib(&self) -> f64 {
        self.memory_bytes as f64 / GIB
    }

    /// Checks every field; `prefix` names where the config sits (e.g. `config`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        // Checked without formatting first: histories validate every run's config, and the
        // field names are only needed for an error.
        let plausible = (1..=rules::MAX_CONCURRENCY).contains(&self.concurrency)
            && self.cpu_cores.is_finite()
            && self.cpu_cores > 0.0
            && self.cpu_cores <= rules::MAX_CPU_CORES
            && (1..=rules::MAX_BYTES).contains(&self.memory_bytes);
        if plausible {
            return Ok(());
        }
        rules::check_concurrency(&format!("{prefix}.concurrency"), self.concurrency)?;
        rules::check_cpu_cores(&format!("{prefix}.cpu_cores"), self.cpu_cores)?;
        rules::check_bytes(&format!("{prefix}.memory_bytes"), self.memory_bytes, true)
    }
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Still running (a run started but not completed).
    Running,
    /// Finished successfully.
    #[default]
    Success,
    /// Failed for a reason other than the ones below.
    Failure,
    /// Killed by the kernel's or the container runtime's OOM killer (exit 137).
    OomKilled,
    /// Hit its time limit.
    Timeout,
    /// Cancelled by a person or a newer build.
    Cancelled,
}

impl RunStatus {
    /// Every status, in declaration order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::OomKilled,
        RunStatus::Timeout,
        RunStatus::Cancelled,
    ];

    /// The status's name in JSON, in the REST API and in databases: `running`, `success`,
    /// `failure`, `oom_killed`, `timeout` or `cancelled`.
    ///
    /// ```
    /// use inframind_core::RunStatus;
    /// for s in RunStatus::ALL {
    ///     assert_eq!(s.as_str().parse::<RunStatus>()?, s);
    ///     assert_eq!(serde_json::to_string(&s)?, format!("\"{}\"", s.as_str()));
    /// }
    /// assert!("killed".parse::<RunStatus>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::OomKilled => "oom_killed",
            RunStatus::Timeout => "timeout",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The status of a GitHub Actions job or step from its `conclusion` (`success`, `failure`,
    /// `timed_out`, `cancelled`, `skipped`, `neutral`, `action_required`, `stale`; anything
    /// else or none is a failure). Shared by every host that reads GitHub's payloads.
    ///
    /// ```
    /// use inframind_core::RunStatus;
    /// assert_eq!(RunStatus::from_github_conclusion(Some("timed_out")), RunStatus::Timeout);
    /// assert_eq!(RunStatus::from_github_conclusion(Some("skipped")), RunStatus::Cancelled);
    /// assert_eq!(RunStatus::from_github_conclusion(None), RunStatus::Failure);
    /// ```
    pub fn from_github_conclusion(conclusion: Option<&str>) -> RunStatus {
        match conclusion {
            Some("success") => RunStatus::Success,
            Some("timed_out") => RunStatus::Timeout,
            Some("cancelled")
            | Some("skipped")
            | Some("neutral")
            | Some("action_required")
            | Some("stale") => RunStatus::Cancelled,
            _ => RunStatus::Failure,
        }
    }

    /// Whether the run finished with a result the model can learn a duration from.
    pub fn is_success(self) -> bool {
        self == RunStatus::Success
    }

    /// Whether the run failed on its own (not cancelled, not still running).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            RunStatus::Failure | RunStatus::OomKilled | RunStatus::Timeout
        )
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_field(
                    "status",
                    format!("{s:?}"),
                    "must be one of running, success, failure, oom_killed, timeout, cancelled",
                )
            })
    }
}

/// One step (stage) of a build, with the resources it used where they were measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildStep {
    /// Step name, e.g. `compile`.
    pub name: String,
    /// Wall-clock duration in seconds.
    pub duration_s: f64,
    /// How the step ended.
    #[serde(default)]
    pub status: RunStatus,
    /// Peak resident memory of the step's process tree, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_bytes: Option<u64>,
    /// CPU time (user + system) of the step's process tree, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// Bytes read from storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_read_bytes: Option<u64>,
    /// Bytes written to storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_write_bytes: Option<u64>,
    /// Build-cache hits (ccache, sccache, Gradle, Bazel...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<u64>,
    /// Build-cache misses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_misses: Option<u64>,
}

impl BuildStep {
    /// A step with only a name and a duration.
    pub fn new(name: impl Into<String>, duration_s: f64) -> Self {
        BuildStep {
            name: name.into(),
            duration_s,
            status: RunStatus::Success,
            max_rss_bytes: None,
            cpu_seconds: None,
            io_read_bytes: None,
            io_write_bytes: None,
            cache_hits: None,
            cache_misses: None,
        }
    }

    /// Checks every field; `prefix` names the step (e.g. `steps[2]`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        self.validate_at(prefix)
    }

    /// [`validate`](Self::validate) with a prefix that is only formatted into an error: a valid
    /// history costs no allocation.
    fn validate_at(&self, prefix: impl std::fmt::Display) -> Result<()> {
        if self.name.trim().is_empty()
            || self.name.len() > rules::MAX_NAME_BYTES
            || self.name.contains('\0')
        {
            rules::check_name(&format!("{prefix}.name"), &self.name)?;
        }
        if !is_duration(self.duration_s) {
            rules::check_duration(&format!("{prefix}.duration_s"), self.duration_s)?;
        }
        if let Some(cpu) = self.cpu_seconds {
            rules::check_cpu_seconds(&format!("{prefix}.cpu_seconds"), cpu)?;
        }
        for (name, v) in [
            ("max_rss_bytes", self.max_rss_bytes),
            ("io_read_bytes", self.io_read_bytes),
            ("io_write_bytes", self.io_write_bytes),
            ("cache_hits", self.cache_hits),
            ("cache_misses", self.cache_misses),
        ] {
            if let Some(v) = v.filter(|&v| v > rules::MAX_BYTES) {
                rules::check_bytes(&format!("{prefix}.{name}"), v, false)?;
            }
        }
        Ok(())
    }
}

/// One build of a pipeline: what it ran with and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRun {
    /// Unique id of the run.
    pub run_id: String,
    /// Pipeline (job) the run belongs to, e.g. `demo/example-app`.
    pub pipeline: String,
    /// Build tool: `cmake`, `bazel`, `gradle`, `npm`, `cargo`, `make`, `maven` or any other name.
    pub tool: String,
    /// How the run ended.
    pub status: RunStatus,
    /// Wall-clock duration in seconds.
    pub duration_s: f64,
    /// Resources the run had.
    pub config: BuildConfig,
    /// Steps in the order they ran.
    #[serde(default)]
    pub steps: Vec<BuildStep>,
    /// Peak resident memory of the whole run in bytes; derived from the steps when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_bytes: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// Free-form labels (branch, agent, commit...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Steps may end up to this many seconds past their run (clock skew between reporters).
const STEP_OVERRUN_TOLERANCE_S: f64 = 1e-3;

impl BuildRun {
    /// Parses a run from JSON and validates it.
    pub fn from_json(json: &str) -> Result<Self> {
        let run: BuildRun = serde_json::from_str(json).map_err(|source| Error::Json {
            what: "build run",
            source,
        })?;
        run.validate()?;
        Ok(run)
    }

    /// Checks every field and names the first bad one.
    pub fn validate(&self) -> Result<()> {
        rules::check_name("run_id", &self.run_id)?;
        rules::check_name("pipeline", &self.pipeline)?;
        rules::check_name("tool", &self.tool)?;
        rules::check_duration("duration_s", self.duration_s)?;
        if let Some(rss) = self.max_rss_bytes {
            rules::check_bytes("max_rss_bytes", rss, false)?;
        }
        self.config.validate("config")?;
        for (i, step) in self.steps.iter().enumerate() {
            step.validate_at(StepPath(i))?;
            if self.status != RunStatus::Running
                && step.duration_s > self.duration_s + STEP_OVERRUN_TOLERANCE_S
            {
                return Err(Error::invalid_field(
                    format!("steps[{i}].duration_s"),
                    step.duration_s,
                    format!(
                        "a step cannot last longer than its run (duration_s = {})",
                        self.duration_s
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Peak resident memory of the run: the recorded one, else the largest step's.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        self.max_rss_bytes
            .or_else(|| self.steps.iter().filter_map(|s| s.max_rss_bytes).max())
    }

    /// Build-cache hit ratio over all steps that report cache counters.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let (hits, misses) = self.steps.iter().fold((0u64, 0u64), |(h, m), s| {
            (
                h.saturating_add(s.cache_hits.unwrap_or(0)),
                m.saturating_add(s.cache_misses.unwrap_or(0)),
            )
        });
        let total = hits.saturating_add(misses);
        (total > 0).then(|| hits as f64 / total as f64)
    }

    /// Total bytes read and written by all steps.
    pub fn io_bytes(&self) -> (u64, u64) {
        self.steps.iter().fold((0, 0), |(r, w), s| {
            (
                r + s.io_read_bytes.unwrap_or(0),
                w + s.io_write_bytes.unwrap_or(0),
            )
        })
    }

    /// The context this run started from: what was known before it ran, minus its config.
    pub fn context(&self) -> RunContext {
        let n = self.steps.len();
        let (avg, max) = if n == 0 {
            (None, None)
        } else {
            let sum: f64 = self.steps.iter().map(|s| s.duration_s).sum();
            let max = self.steps.iter().map(|s| s.duration_s).fold(0.0, f64::max);
            (Some(sum / n as f64), Some(max))
        };
        RunContext {
            tool: self.tool.clone(),
            num_steps: (n > 0).then_some(n as u32),
            avg_step_duration_s: avg,
            max_step_duration_s: max,
            max_rss_bytes: self.peak_rss_bytes(),
            max_rss_gb: None,
            cache_hit_ratio: self.cache_hit_ratio(),
            capacity: None,
        }
    }
}

/// Upper limits the caller declares for a build: the optimizer never suggests more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Capacity {
    /// Most cores the build may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    /// Most memory the build may have, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// What is known about a build before it starts: the `context` of an `/optimize` request.
///
/// All fields but `tool` are optional; missing ones fall back to the pipeline's history.
/// `max_rss_gb` is accepted for compatibility with the API InfraMind replaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunContext {
    /// Build tool, as in [`BuildRun::tool`].
    pub tool: String,
    /// Number of steps the build will run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_steps: Option<u32>,
    /// Expected mean step duration, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_step_duration_s: Option<f64>,
    /// Expected longest step, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_step_duration_s: Option<f64>,
    /// Expected peak resident memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_bytes: Option<u64>,
    /// Expected peak resident memory in GiB (legacy field; `max_rss_bytes` wins when both exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_gb: Option<f64>,
    /// Expected build-cache hit ratio, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    /// Declared upper limits for the suggestion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

impl RunContext {
    /// A context with only the tool named.
    pub fn for_tool(tool: impl Into<String>) -> Self {
        RunContext {
            tool: tool.into(),
            ..RunContext::default()
        }
    }

    /// Parses a context from JSON and validates it.
    pub fn from_json(json: &str) -> Result<Self> {
        let ctx: RunContext = serde_json::from_str(json).map_err(|source| Error::Json {
            what: "run context",
            source,
        })?;
        ctx.validate()?;
        Ok(ctx)
    }

    /// Peak RSS in bytes from either field.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.max_rss_bytes
            .or_else(|| self.max_rss_gb.map(|gb| (gb * GIB) as u64))
    }

    /// Checks every field and names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if let Some(n) = self.num_steps {
            if n == 0 {
                return Err(Error::invalid_field(
                    "context.num_steps",
                    0,
                    "must be at least 1 when given",
                ));
            }
        }
        for (name, v) in [
            ("context.avg_step_duration_s", self.avg_step_duration_s),
            ("context.max_step_duration_s", self.max_step_duration_s),
        ] {
            if let Some(v) = v {
                rules::check_duration(name, v)?;
            }
        }
        if let Some(gb) = self.max_rss_gb {
            if !gb.is_finite() || gb < 0.0 {
                return Err(Error::invalid_field(
                    "context.max_rss_gb",
                    gb,
                    "must be a finite number of GiB, 0 or more",
                ));
            }
        }
        if let Some(r) = self.cache_hit_ratio {
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::invalid_field(
                    "context.cache_hit_ratio",
                    r,
                    "must be a ratio between 0 and 1",
                ));
            }
        }
        if let Some(rss) = self.max_rss_bytes {
            rules::check_bytes("context.max_rss_bytes", rss, false)?;
        }
        if let Some(cap) = &self.capacity {
            if let Some(c) = cap.cpu_cores {
                rules::check_cpu_cores("context.capacity.cpu_cores", c)?;
            }
            if let Some(m) = cap.memory_bytes {
                rules::check_bytes("context.capacity.memory_bytes", m, true)?;
            }
        }
        Ok(())
    }
}

/// Validates every run of a pipeline's history, naming the bad one by its index:
/// `history[first + i].field`. `first` is the index of `runs[0]` in the whole history, for
/// callers that check a window (or a batch appended to what they hold already).
///
/// ```
/// use inframind_core::{demo, telemetry::validate_history};
/// let mut runs = demo::demo_history("npm", 5, 1);
/// assert!(validate_history(&runs, 0).is_ok());
/// runs[3].duration_s = f64::NAN;
/// let e = validate_history(&runs[2..], 2).unwrap_err();
/// assert!(e.to_string().starts_with("invalid history[3].duration_s = NaN"), "{e}");
/// ```
pub fn validate_history(runs: &[BuildRun], first: usize) -> Result<()> {
    for (i, run) in runs.iter().enumerate() {
        run.validate()
            .map_err(|e| e.prefixed(&format!("history[{}]", first + i)))?;
    }
    Ok(())
}

/// `steps[i]`, formatted only when a step is invalid.
struct StepPath(usize);

impl std::fmt::Display for StepPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "steps[{}]", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> BuildRun {
        BuildRun {
            run_id: "r1".into(),
            pipeline: "p".into(),
            tool: "cmake".into(),
            status: RunStatus::Success,
            duration_s: 100.0,
            config: BuildConfig {
                concurrency: 4,
                cpu_cores: 4.0,
                memory_bytes: 8 << 30,
            },
            steps: vec![BuildStep::new("compile", 80.0)],
            max_rss_bytes: None,
            started_at: None,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn negative_duration_names_the_field() {
        let mut r = run();
        r.duration_s = -1.0;
        let msg = r.validate().unwrap_err().to_string();
        assert!(msg.contains("duration_s = -1"), "{msg}");
    }

    #[test]
    fn nan_step_duration_names_the_step() {
        let mut r = run();
        r.steps[0].duration_s = f64::NAN;
        let msg = r.validate().unwrap_err().to_string();
        assert!(msg.contains("steps[0].duration_s = NaN"), "{msg}");
    }

    #[test]
    fn step_longer_than_run_is_rejected() {
        let mut r = run();
        r.steps[0].duration_s = 101.0;
        let msg = r.validate().unwrap_err().to_string();
        assert!(msg.contains("longer than its run"), "{msg}");
    }

    #[test]
    fn zero_concurrency_is_rejected() {
        let mut r = run();
        r.config.concurrency = 0;
        let msg = r.validate().unwrap_err().to_string();
        assert!(msg.contains("config.concurrency = 0"), "{msg}");
    }

    #[test]
    fn json_uses_the_rest_api_field_names() {
        let json = r#"{"run_id":"42","pipeline":"demo/app","tool":"cmake","status":"oom_killed",
            "duration_s":12.5,"config":{"concurrency":8,"cpu_cores":4,"memory_bytes":4294967296},
            "steps":[{"name":"compile","duration_s":10,"max_rss_bytes":1000}]}"#;
        let r = BuildRun::from_json(json).unwrap();
        assert_eq!(r.status, RunStatus::OomKilled);
        assert_eq!(r.peak_rss_bytes(), Some(1000));
        let back: BuildRun = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_status_is_a_json_error_naming_the_variant() {
        let json = r#"{"run_id":"1","pipeline":"p","tool":"x","status":"exploded","duration_s":1,
            "config":{"concurrency":1,"cpu_cores":1,"memory_bytes":1}}"#;
        let msg = BuildRun::from_json(json).unwrap_err().to_string();
        assert!(msg.contains("exploded"), "{msg}");
    }

    #[test]
    fn legacy_rss_gb_is_read() {
        let c = RunContext::from_json(r#"{"tool":"cmake","max_rss_gb":4,"num_steps":5}"#).unwrap();
        assert_eq!(c.rss_bytes(), Some(4 << 30));
    }
}
