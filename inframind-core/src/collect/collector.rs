//! The agent's one handle on every sampler, and what one of its samples holds.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::cache::{ccache_stats, sccache_stats, CacheStats, CacheTool};
use super::exposition;
use super::system::{SystemSample, SystemSampler};
use super::tree::{ProcessTreeSample, ProcessTreeSampler};
use crate::error::Result;

/// What a [`Collector`] samples.
///
/// ```
/// use inframind_core::collect::CollectorOptions;
/// let o = CollectorOptions::default().pid(4242).cache(true);
/// assert_eq!((o.pid, o.cache), (Some(4242), true));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct CollectorOptions {
    /// Root pid of a build whose process tree to watch; None for the system only.
    pub pid: Option<i32>,
    /// Whether to ask ccache and sccache for their statistics.
    pub cache: bool,
    /// How often the cache tools are asked (each call runs a process; between calls the last
    /// answer is reported again). Default 30 s; zero asks at every sample.
    pub cache_interval: Duration,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            pid: None,
            cache: false,
            cache_interval: Duration::from_secs(30),
        }
    }
}

impl CollectorOptions {
    /// Watch the process tree rooted at `pid`.
    pub fn pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Ask ccache and sccache for their statistics (tools that are not installed are skipped).
    pub fn cache(mut self, cache: bool) -> Self {
        self.cache = cache;
        self
    }

    /// How often to run the cache tools; see [`CollectorOptions::cache_interval`].
    pub fn cache_interval(mut self, interval: Duration) -> Self {
        self.cache_interval = interval;
        self
    }
}

/// Everything one [`Collector::sample`] read.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// When the sample was taken, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The whole machine.
    pub system: SystemSample,
    /// The watched build's process tree, when a pid was given.
    pub tree: Option<ProcessTreeSample>,
    /// Statistics of the installed compiler caches, when asked for.
    pub caches: Vec<CacheStats>,
}

impl Snapshot {
    /// The snapshot as one JSON object on one line (no trailing newline):
    /// `{"timestamp_ms":…,"system":{…},"tree":{…}|null,"caches":[{"tool":"ccache","hits":…,"misses":…}]}`
    /// with the field names of the Rust types.
    pub fn to_json_line(&self) -> String {
        // These types hold only numbers, booleans, enums and vectors, which always serialize.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
    }

    /// The snapshot in the Prometheus text exposition format 0.0.4 (HELP and TYPE for every
    /// metric; the metric names are listed in the [module docs](super)).
    pub fn render_prometheus(&self) -> String {
        exposition::render(self)
    }
}

/// Everything the agent samples, in one handle: the system, optionally a build's process
/// tree, optionally the compiler caches.
#[derive(Debug)]
pub struct Collector {
    system: SystemSampler,
    tree: Option<ProcessTreeSampler>,
    options: CollectorOptions,
    caches: Vec<CacheStats>,
    caches_read_at: Option<Instant>,
    cache_error: Option<String>,
}

impl Collector {
    /// Opens the samplers. Fails when `/proc` cannot be read or the pid does not exist.
    pub fn new(options: CollectorOptions) -> Result<Self> {
        let system = SystemSampler::new()?;
        let tree = options.pid.map(ProcessTreeSampler::new).transpose()?;
        Ok(Collector {
            system,
            tree,
            options,
            caches: Vec::new(),
            caches_read_at: None,
            cache_error: None,
        })
    }

    /// Samples everything now. A cache tool that fails does not fail the sample: its last
    /// good stats are kept and the failure is reported by [`Collector::last_cache_error`].
    pub fn sample(&mut self) -> Result<Snapshot> {
        let system = self.system.sample()?;
        let tree = self
            .tree
            .as_mut()
            .map(ProcessTreeSampler::sample)
            .transpose()?;
        if self.options.cache && self.caches_due() {
            self.refresh_caches();
        }
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Ok(Snapshot {
            timestamp_ms,
            system,
            tree,
            caches: self.caches.clone(),
        })
    }

    /// Why the last cache refresh failed for a tool, if it did (e.g. ccache timed out).
    pub fn last_cache_error(&self) -> Option<&str> {
        self.cache_error.as_deref()
    }

    fn caches_due(&self) -> bool {
        self.caches_read_at
            .is_none_or(|at| at.elapsed() >= self.options.cache_interval)
    }

    fn refresh_caches(&mut self) {
        self.caches_read_at = Some(Instant::now());
        let mut errors = Vec::new();
        for (tool, read) in [
            (
                CacheTool::Ccache,
                ccache_stats as fn() -> Result<Option<CacheStats>>,
            ),
            (CacheTool::Sccache, sccache_stats),
        ] {
            match read() {
                Ok(Some(stats)) => match self.caches.iter_mut().find(|c| c.tool == tool) {
                    Some(slot) => *slot = stats,
                    None => self.caches.push(stats),
                },
                Ok(None) => self.caches.retain(|c| c.tool != tool),
                Err(e) => errors.push(e.to_string()),
            }
        }
        self.cache_error = (!errors.is_empty()).then(|| errors.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            timestamp_ms: 1_700_000_000_000,
            system: SystemSample {
                cpu_usage_ratio: 0.25,
                cpu_seconds_total: 1234.5,
                cpu_count: 2,
                mem_total_bytes: 8 << 30,
                mem_used_bytes: 3 << 30,
                io_read_bytes_total: 1 << 20,
                io_write_bytes_total: 2 << 20,
            },
            tree: Some(ProcessTreeSample {
                root_pid: 42,
                root_alive: true,
                processes: 3,
                cpu_seconds_total: 1.5,
                rss_bytes: 100,
                peak_rss_bytes: 200,
                io_read_bytes_total: 0,
                io_write_bytes_total: 4096,
            }),
            caches: vec![
                CacheStats::new(CacheTool::Ccache, 1, 1),
                CacheStats::new(CacheTool::Sccache, 0, 0),
            ],
        }
    }

    #[test]
    fn json_line_is_one_object_with_api_field_names() {
        let line = snapshot().to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp_ms"], 1_700_000_000_000u64);
        assert_eq!(v["system"]["cpu_usage_ratio"], 0.25);
        assert_eq!(v["tree"]["root_pid"], 42);
        assert_eq!(v["tree"]["peak_rss_bytes"], 200);
        assert_eq!(v["caches"][0]["tool"], "ccache");
        assert_eq!(v["caches"][1]["tool"], "sccache");
    }

    #[test]
    fn prometheus_text_has_every_metric_with_help_and_type() {
        let text = snapshot().render_prometheus();
        for (name, kind) in [
            ("im_cpu_usage_ratio", "gauge"),
            ("im_cpu_seconds_total", "counter"),
            ("im_mem_used_bytes", "gauge"),
            ("im_mem_total_bytes", "gauge"),
            ("im_io_read_bytes_total", "counter"),
            ("im_io_write_bytes_total", "counter"),
            ("im_build_processes", "gauge"),
            ("im_build_cpu_seconds_total", "counter"),
            ("im_build_rss_bytes", "gauge"),
            ("im_build_peak_rss_bytes", "gauge"),
            ("im_build_io_read_bytes_total", "counter"),
            ("im_build_io_write_bytes_total", "counter"),
            ("im_cache_hits_total", "counter"),
            ("im_cache_misses_total", "counter"),
            ("im_cache_hit_ratio", "gauge"),
            ("im_build_info", "gauge"),
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} HELP");
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} TYPE"
            );
        }
        assert!(text.contains("im_cpu_usage_ratio 0.25\n"));
        assert!(text.contains("im_mem_used_bytes 3221225472\n"));
        assert!(text.contains("im_build_cpu_seconds_total{pid=\"42\"} 1.5\n"));
        assert!(text.contains("im_cache_hit_ratio{tool=\"ccache\"} 0.5\n"));
        // no cacheable compilation yet: no ratio rather than NaN
        assert!(!text.contains("im_cache_hit_ratio{tool=\"sccache\"}"));
        assert!(text.contains("im_cache_hits_total{tool=\"sccache\"} 0\n"));
        assert!(text.contains(&format!(
            "im_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn prometheus_text_without_tree_or_caches_leaves_their_families_out() {
        let mut s = snapshot();
        s.tree = None;
        s.caches.clear();
        let text = s.render_prometheus();
        assert!(!text.contains("im_build_processes"));
        assert!(!text.contains("im_cache_"));
        assert!(text.contains("im_build_info"));
    }
}
