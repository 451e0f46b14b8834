//! `/proc` collectors (Linux only): system CPU, memory and I/O, a build's process tree, and
//! build-cache statistics; plus their Prometheus text exposition.
//!
//! ## Sampling
//!
//! Each sampler is a handle that remembers what it read last, so rates and "never goes
//! backwards" counters work across calls. [`Collector`] bundles all of them for an agent:
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use inframind_core::collect::{Collector, CollectorOptions};
//!
//! // Watch this process's tree. `.cache(true)` would also ask ccache and sccache for their
//! // stats (a tool that is not installed is skipped; sccache starts its server if none runs).
//! let mut collector = Collector::new(CollectorOptions::default().pid(std::process::id() as i32))?;
//! let snapshot = collector.sample()?;
//! let tree = snapshot.tree.expect("a pid was given");
//! assert!(tree.root_alive && tree.processes >= 1 && tree.rss_bytes > 0);
//! assert!((0.0..=1.0).contains(&snapshot.system.cpu_usage_ratio));
//!
//! // One JSON object per sample, for logs...
//! let line = snapshot.to_json_line();
//! assert!(line.starts_with('{') && !line.contains('\n'));
//! // ...and the Prometheus text format, for `GET /metrics`.
//! let text = snapshot.render_prometheus();
//! assert!(text.contains("# TYPE im_cpu_usage_ratio gauge\n"));
//! assert!(text.contains(&format!("im_build_processes{{pid=\"{}\"}} ", tree.root_pid)));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parts can be used alone: [`SystemSampler`], [`ProcessTreeSampler`],
//! [`ccache_stats`] / [`sccache_stats`], and the parsers [`parse_ccache_stats`] and
//! [`parse_sccache_stats`] for saved tool output.
//!
//! ## Metric names
//!
//! Prometheus practice: base units, `_total` counters, 0..1 `_ratio`. The agent this library
//! replaces used other names: `im_cpu_usage_percent` is now `im_cpu_usage_ratio` (÷ 100),
//! `im_mem_used_mb` is `im_mem_used_bytes` (× 1048576), and disk I/O is the counters
//! `im_io_read_bytes_total` / `im_io_write_bytes_total` (take `rate()` for bytes per second).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `im_cpu_usage_ratio`, `im_mem_used_bytes`, `im_mem_total_bytes` | gauge | |
//! | `im_cpu_seconds_total`, `im_io_read_bytes_total`, `im_io_write_bytes_total` | counter | |
//! | `im_build_processes`, `im_build_rss_bytes`, `im_build_peak_rss_bytes` | gauge | `pid` |
//! | `im_build_cpu_seconds_total`, `im_build_io_read_bytes_total`, `im_build_io_write_bytes_total` | counter | `pid` |
//! | `im_cache_hits_total`, `im_cache_misses_total` | counter | `tool` |
//! | `im_cache_hit_ratio` | gauge | `tool` |
//! | `im_build_info` (always 1) | gauge | `version` |

mod cache;
mod collector;
mod exposition;
mod system;
mod tool;
mod tree;

pub use cache::{
    ccache_stats, parse_ccache_stats, parse_sccache_stats, sccache_stats, CacheStats, CacheTool,
    TOOL_TIMEOUT,
};
pub use collector::{Collector, CollectorOptions, Snapshot};
pub use system::{SystemSample, SystemSampler};
pub use tree::{ProcessTreeSample, ProcessTreeSampler};

use crate::error::Error;

/// Maps a procfs error on `what` to [`Error::Collector`], with what to do about it.
pub(crate) fn proc_error(what: &str, e: procfs::ProcError) -> Error {
    let hint = match &e {
        procfs::ProcError::PermissionDenied(_) => "run with permission to read it",
        procfs::ProcError::NotFound(_) => "mount procfs on /proc (`mount -t proc proc /proc`)",
        _ => "this kernel's format is not understood; please report it with the file's contents",
    };
    Error::Collector {
        source_name: what.to_owned(),
        reason: format!("{e}; {hint}"),
    }
}
