//! Feature engineering: what the duration model sees of a build.
//!
//! A row of features describes one build *before it runs*: its configuration (what the
//! optimizer varies), the context the caller declares, and statistics of the pipeline's recent
//! history. Nothing in a row may come from the build's own outcome, or the model would learn
//! the answer instead of the effect of the configuration; so a historical run's row is built
//! from its config, its tool and step count, and the history *before* it.
//!
//! | # | name | meaning |
//! |---|---|---|
//! | 0 | `concurrency` | parallel jobs |
//! | 1 | `cpu_cores` | cores granted |
//! | 2 | `memory_gib` | memory granted, GiB |
//! | 3 | `jobs_per_core` | concurrency / cpu_cores (contention) |
//! | 4 | `memory_per_job_gib` | memory_gib / concurrency |
//! | 5 | `memory_headroom_ratio` | memory / expected peak RSS (-1 when unknown) |
//! | 6 | `num_steps` | steps the build runs |
//! | 7 | `avg_step_duration_s` | expected mean step duration |
//! | 8 | `max_step_duration_s` | expected longest step |
//! | 9 | `cache_hit_ratio` | expected build-cache hit ratio (-1 when unknown) |
//! | 10 | `rss_p95_gib` | 95th percentile of peak RSS over recent successful runs |
//! | 11 | `rss_max_gib` | largest peak RSS over recent runs |
//! | 12 | `rss_per_job_gib` | 95th percentile of peak RSS / concurrency over recent successful runs |
//! | 13 | `io_read_gib` | mean bytes read per recent run, GiB |
//! | 14 | `io_write_gib` | mean bytes written per recent run, GiB |
//! | 15 | `recent_median_duration_s` | median duration of the last successful runs |
//! | 16 | `recent_failure_rate` | share of recent runs that failed, OOM-killed or timed out |
//! | 17 | `tool_code` | build tool (cmake 1, bazel 2, gradle 3, npm 4, cargo 5, make 6, maven 7, other 0) |
//! | 18 | `history_runs` | runs seen so far (capped at 1,000) |
//!
//! "Recent" is the last [`HISTORY_WINDOW`] runs. Unknown values are `-1` (trees split them
//! off), never NaN.

use serde::{Deserialize, Serialize};

use crate::telemetry::{BuildConfig, BuildRun, RunContext, RunStatus, GIB};

/// Runs of history the statistics look back over.
pub const HISTORY_WINDOW: usize = 50;
/// Successful runs the recent median duration looks back over.
const MEDIAN_WINDOW: usize = 10;
/// Runs the recent failure rate looks back over.
const FAILURE_WINDOW: usize = 20;
/// Value of a feature that is not known.
pub const UNKNOWN: f64 = -1.0;

/// Names of the features, in row order.
pub const FEATURE_NAMES: [&str; 19] = [
    "concurrency",
    "cpu_cores",
    "memory_gib",
    "jobs_per_core",
    "memory_per_job_gib",
    "memory_headroom_ratio",
    "num_steps",
    "avg_step_duration_s",
    "max_step_duration_s",
    "cache_hit_ratio",
    "rss_p95_gib",
    "rss_max_gib",
    "rss_per_job_gib",
    "io_read_gib",
    "io_write_gib",
    "recent_median_duration_s",
    "recent_failure_rate",
    "tool_code",
    "history_runs",
];

/// Number of features in a row.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Indices of the features that depend on the configuration (the only ones that change
/// between the optimizer's candidates for one request).
pub const CONFIG_FEATURES: [usize; 6] = [0, 1, 2, 3, 4, 5];

/// Per feature, whether it is one of [`CONFIG_FEATURES`]: the mask the forest's shared
/// prediction takes.
pub(crate) const CONFIG_FEATURE_MASK: [bool; N_FEATURES] = {
    let mut mask = [false; N_FEATURES];
    let mut i = 0;
    while i < CONFIG_FEATURES.len() {
        mask[CONFIG_FEATURES[i]] = true;
        i += 1;
    }
    mask
};

/// Revision of the feature definitions; part of the fingerprint, so that a change of meaning
/// with the same names still invalidates old models.
const SCHEMA_REVISION: &str = "inframind-features/1";

/// The feature schema: names and a fingerprint every trained model records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// Feature names in row order.
    pub names: Vec<String>,
    /// Hex fingerprint of the names and the definitions' revision.
    pub fingerprint: String,
}

impl FeatureSchema {
    /// The schema this build computes.
    ///
    /// ```
    /// let s = inframind_core::features::FeatureSchema::current();
    /// assert_eq!(s.names.len(), 19);
    /// assert_eq!(s.fingerprint.len(), 16);
    /// ```
    pub fn current() -> Self {
        Self::from_names(SCHEMA_REVISION, FEATURE_NAMES.iter().map(|s| s.to_string()))
    }

    /// [`current`](Self::current), computed once: the per-request schema check of a model
    /// costs a string comparison, not a hash.
    pub(crate) fn current_cached() -> &'static FeatureSchema {
        static CURRENT: std::sync::OnceLock<FeatureSchema> = std::sync::OnceLock::new();
        CURRENT.get_or_init(Self::current)
    }

    /// A schema for user-supplied features (models fitted on plain arrays).
    pub fn custom(names: Vec<String>) -> Self {
        Self::from_names("custom", names)
    }

    fn from_names(revision: &str, names: impl IntoIterator<Item = String>) -> Self {
        let names: Vec<String> = names.into_iter().collect();
        let mut text = String::from(revision);
        for n in &names {
            text.push('\n');
            text.push_str(n);
        }
        FeatureSchema {
            fingerprint: format!("{:016x}", crate::hash::fnv1a64(text.as_bytes())),
            names,
        }
    }
}

/// Numeric code of a build tool.
pub fn tool_code(tool: &str) -> f64 {
    match tool.to_ascii_lowercase().as_str() {
        "cmake" | "ninja" => 1.0,
        "bazel" => 2.0,
        "gradle" => 3.0,
        "npm" | "yarn" | "pnpm" => 4.0,
        "cargo" => 5.0,
        "make" => 6.0,
        "maven" | "mvn" => 7.0,
        _ => 0.0,
    }
}

/// Statistics of a pipeline's recent history, computed once per request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryStats {
    /// 95th percentile of peak RSS over recent successful runs, bytes.
    pub rss_p95_bytes: Option<f64>,
    /// Largest peak RSS over recent runs (any status), bytes.
    pub rss_max_bytes: Option<f64>,
    /// 95th percentile of peak RSS per parallel job over recent successful runs, bytes.
    pub rss_per_job_p95_bytes: Option<f64>,
    /// Mean bytes read per recent run.
    pub io_read_bytes: Option<f64>,
    /// Mean bytes written per recent run.
    pub io_write_bytes: Option<f64>,
    /// Median duration of the last successful runs, seconds.
    pub recent_median_duration_s: Option<f64>,
    /// Share of recent runs that failed.
    pub recent_failure_rate: f64,
    /// Mean step duration of the last successful run.
    pub last_avg_step_duration_s: Option<f64>,
    /// Longest step of the last successful run.
    pub last_max_step_duration_s: Option<f64>,
    /// Steps of the last run.
    pub last_num_steps: Option<u32>,
    /// Mean cache hit ratio of recent runs that report one.
    pub cache_hit_ratio: Option<f64>,
    /// Runs in the whole history.
    pub runs: usize,
}

/// The `q` quantile (0..=1) of `v`, linear interpolation; `None` when empty.
pub fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

impl HistoryStats {
    /// Statistics over the last [`HISTORY_WINDOW`] runs of `history` (oldest first).
    pub fn from_history(history: &[BuildRun]) -> Self {
        let recent = &history[history.len().saturating_sub(HISTORY_WINDOW)..];
        let ok = || recent.iter().filter(|r| r.status.is_success());
        let mut rss: Vec<f64> = ok()
            .filter_map(|r| r.peak_rss_bytes())
            .map(|b| b as f64)
            .collect();
        let mut per_job: Vec<f64> = ok()
            .filter_map(|r| {
                r.peak_rss_bytes()
                    .map(|b| b as f64 / r.config.concurrency as f64)
            })
            .collect();
        let rss_max = recent
            .iter()
            .filter_map(|r| r.peak_rss_bytes())
            .max()
            .map(|b| b as f64);
        let io: Vec<(u64, u64)> = recent
            .iter()
            .filter(|r| {
                r.steps
                    .iter()
                    .any(|s| s.io_read_bytes.is_some() || s.io_write_bytes.is_some())
            })
            .map(BuildRun::io_bytes)
            .collect();
        let mean =
            |v: &mut dyn Iterator<Item = f64>, n: usize| (n > 0).then(|| v.sum::<f64>() / n as f64);
        let io_read = mean(&mut io.iter().map(|p| p.0 as f64), io.len());
        let io_write = mean(&mut io.iter().map(|p| p.1 as f64), io.len());
        let mut durations: Vec<f64> = ok().map(|r| r.duration_s).collect();
        let tail = durations.len().saturating_sub(MEDIAN_WINDOW);
        let recent_median = quantile(&mut durations[tail..], 0.5);
        let fail_window = &recent[recent.len().saturating_sub(FAILURE_WINDOW)..];
        let finished = fail_window
            .iter()
            .filter(|r| r.status != RunStatus::Running && r.status != RunStatus::Cancelled)
            .count();
        let failed = fail_window.iter().filter(|r| r.status.is_failure()).count();
        let last_ok = recent.iter().rev().find(|r| r.status.is_success());
        let last_ctx = last_ok.map(BuildRun::context);
        let ratios: Vec<f64> = recent
            .iter()
            .filter_map(BuildRun::cache_hit_ratio)
            .collect();
        HistoryStats {
            rss_p95_bytes: quantile(&mut rss, 0.95),
            rss_max_bytes: rss_max,
            rss_per_job_p95_bytes: quantile(&mut per_job, 0.95),
            io_read_bytes: io_read,
            io_write_bytes: io_write,
            recent_median_duration_s: recent_median,
            recent_failure_rate: if finished > 0 {
                failed as f64 / finished as f64
            } else {
                0.0
            },
            last_avg_step_duration_s: last_ctx.as_ref().and_then(|c| c.avg_step_duration_s),
            last_max_step_duration_s: last_ctx.as_ref().and_then(|c| c.max_step_duration_s),
            last_num_steps: recent
                .last()
                .map(|r| r.steps.len() as u32)
                .filter(|&n| n > 0),
            cache_hit_ratio: mean(&mut ratios.iter().copied(), ratios.len()),
            runs: history.len(),
        }
    }
}

/// The features of a build about to run with `config`, given what the caller declares in
/// `context` and the pipeline's history statistics. Context values win over history.
pub fn features_with_stats(
    context: &RunContext,
    config: &BuildConfig,
    stats: &HistoryStats,
) -> [f64; N_FEATURES] {
    let mut row = [0.0; N_FEATURES];
    fill_context_features(&mut row, context, stats);
    fill_config_features(&mut row, config, context, stats);
    row
}

/// Fills the features that do not depend on the config.
pub(crate) fn fill_context_features(
    row: &mut [f64; N_FEATURES],
    context: &RunContext,
    stats: &HistoryStats,
) {
    let or_unknown = |v: Option<f64>| v.unwrap_or(UNKNOWN);
    row[6] = context
        .num_steps
        .or(stats.last_num_steps)
        .map_or(UNKNOWN, f64::from);
    row[7] = or_unknown(
        context
            .avg_step_duration_s
            .or(stats.last_avg_step_duration_s),
    );
    row[8] = or_unknown(
        context
            .max_step_duration_s
            .or(stats.last_max_step_duration_s),
    );
    row[9] = or_unknown(context.cache_hit_ratio.or(stats.cache_hit_ratio));
    row[10] = or_unknown(stats.rss_p95_bytes.map(|b| b / GIB));
    row[11] = or_unknown(stats.rss_max_bytes.map(|b| b / GIB));
    row[12] = or_unknown(stats.rss_per_job_p95_bytes.map(|b| b / GIB));
    row[13] = or_unknown(stats.io_read_bytes.map(|b| b / GIB));
    row[14] = or_unknown(stats.io_write_bytes.map(|b| b / GIB));
    row[15] = or_unknown(stats.recent_median_duration_s);
    row[16] = stats.recent_failure_rate;
    row[17] = tool_code(&context.tool);
    row[18] = stats.runs.min(1000) as f64;
}

/// Fills the features that depend on the config (see [`CONFIG_FEATURES`]).
pub(crate) fn fill_config_features(
    row: &mut [f64; N_FEATURES],
    config: &BuildConfig,
    context: &RunContext,
    stats: &HistoryStats,
) {
    let c = f64::from(config.concurrency.max(1));
    let mem = config.memory_gib();
    row[0] = c;
    row[1] = config.cpu_cores;
    row[2] = mem;
    row[3] = c / config.cpu_cores.max(1e-3);
    row[4] = mem / c;
    let expected_rss = context
        .rss_bytes()
        .map(|b| b as f64)
        .or(stats.rss_p95_bytes)
        .filter(|&b| b > 0.0);
    row[5] = expected_rss.map_or(UNKNOWN, |rss| config.memory_bytes as f64 / rss);
}

/// The features of a build about to run: see the module docs for each column.
///
/// ```
/// use inframind_core::{features, telemetry::{BuildConfig, RunContext}};
///
/// let history = inframind_core::demo::demo_history("cmake", 30, 1);
/// let cfg = BuildConfig { concurrency: 8, cpu_cores: 4.0, memory_bytes: 8 << 30 };
/// let row = features::features(&RunContext::for_tool("cmake"), &cfg, &history);
/// assert_eq!(row.len(), features::N_FEATURES);
/// assert_eq!(row[0], 8.0);
/// assert!(row.iter().all(|v| v.is_finite()));
/// ```
pub fn features(
    context: &RunContext,
    config: &BuildConfig,
    history: &[BuildRun],
) -> [f64; N_FEATURES] {
    features_with_stats(context, config, &HistoryStats::from_history(history))
}

/// The features of a historical `run`, from its config, tool and step count and the
/// `history_before` it (never from its own outcome).
pub fn run_features(run: &BuildRun, history_before: &[BuildRun]) -> [f64; N_FEATURES] {
    let ctx = RunContext {
        tool: run.tool.clone(),
        num_steps: (!run.steps.is_empty()).then_some(run.steps.len() as u32),
        ..RunContext::default()
    };
    features(&ctx, &run.config, history_before)
}

/// Training rows for a pipeline's history (oldest first): one row per successful run, each
/// built from the runs before it. Returns the rows and the durations.
pub fn training_rows(history: &[BuildRun]) -> (Vec<[f64; N_FEATURES]>, Vec<f64>) {
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for (i, run) in history.iter().enumerate() {
        if run.status.is_success() {
            let before = &history[i.saturating_sub(HISTORY_WINDOW)..i];
            let mut row = run_features(run, before);
            // The window hides older runs from the statistics but not from the count.
            row[18] = i.min(1000) as f64;
            rows.push(row);
            y.push(run.duration_s);
        }
    }
    (rows, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::BuildStep;

    fn run(i: usize, status: RunStatus, rss: u64, duration: f64) -> BuildRun {
        let mut step = BuildStep::new("compile", duration / 2.0);
        step.max_rss_bytes = Some(rss);
        BuildRun {
            run_id: format!("r{i}"),
            pipeline: "p".into(),
            tool: "cmake".into(),
            status,
            duration_s: duration,
            config: BuildConfig {
                concurrency: 4,
                cpu_cores: 4.0,
                memory_bytes: 8 << 30,
            },
            steps: vec![step],
            max_rss_bytes: None,
            started_at: None,
            labels: Default::default(),
        }
    }

    #[test]
    fn schema_fingerprint_changes_with_names() {
        let a = FeatureSchema::current();
        let mut names = a.names.clone();
        names.swap(0, 1);
        assert_ne!(FeatureSchema::custom(names).fingerprint, a.fingerprint);
        assert_eq!(FeatureSchema::current(), a);
    }

    #[test]
    fn quantile_interpolates() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), Some(2.5));
        assert_eq!(quantile(&mut v, 1.0), Some(4.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn stats_ignore_failed_runs_for_p95_but_not_for_max() {
        let h = vec![
            run(0, RunStatus::Success, 1 << 30, 100.0),
            run(1, RunStatus::OomKilled, 6 << 30, 10.0),
            run(2, RunStatus::Success, 2 << 30, 120.0),
        ];
        let s = HistoryStats::from_history(&h);
        assert!(s.rss_p95_bytes.unwrap() <= (2u64 << 30) as f64);
        assert_eq!(s.rss_max_bytes, Some((6u64 << 30) as f64));
        assert!((s.recent_failure_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.recent_median_duration_s, Some(110.0));
    }

    #[test]
    fn training_rows_never_see_their_own_outcome() {
        let h: Vec<BuildRun> = (0..5)
            .map(|i| run(i, RunStatus::Success, 1 << 30, 100.0 + i as f64))
            .collect();
        let (rows, y) = training_rows(&h);
        assert_eq!(rows.len(), 5);
        // Row i's median is over runs < i only.
        assert_eq!(rows[0][15], UNKNOWN);
        assert_eq!(rows[1][15], 100.0);
        assert_eq!(rows[3][15], 101.0);
        assert_eq!(y[4], 104.0);
    }

    #[test]
    fn context_values_win_over_history() {
        let h = vec![run(0, RunStatus::Success, 1 << 30, 100.0)];
        let ctx = RunContext {
            tool: "bazel".into(),
            num_steps: Some(9),
            avg_step_duration_s: Some(7.0),
            ..Default::default()
        };
        let row = features(&ctx, &h[0].config, &h);
        assert_eq!(row[6], 9.0);
        assert_eq!(row[7], 7.0);
        assert_eq!(row[17], 2.0);
    }
}
