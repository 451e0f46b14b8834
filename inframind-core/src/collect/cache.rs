//! Build-cache statistics: ccache (`ccache --print-stats`) and sccache
//! (`sccache --show-stats --stats-format=json`).
//!
//! The parsers take the tools' saved output, so stats captured elsewhere (a CI log, a file)
//! read the same as a live call. Running a tool that is not installed is "no data"
//! (`Ok(None)`), not an error; a tool that does not answer within [`TOOL_TIMEOUT`] is stopped.

use std::time::Duration;

use serde::Serialize;

use super::tool::run_tool;
use crate::error::{Error, Result};

/// How long a cache tool may take to print its statistics before it is killed.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// A compiler cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheTool {
    /// [ccache](https://ccache.dev).
    Ccache,
    /// [sccache](https://github.com/mozilla/sccache).
    Sccache,
}

impl CacheTool {
    /// The tool's command name: `"ccache"` or `"sccache"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheTool::Ccache => "ccache",
            CacheTool::Sccache => "sccache",
        }
    }
}

impl std::fmt::Display for CacheTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hits and misses of one compiler cache, as counted by the tool since its statistics were
/// last zeroed (ccache) or since its server started (sccache).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CacheStats {
    /// Which cache.
    pub tool: CacheTool,
    /// Compilations answered from the cache (ccache: direct + preprocessed hits; sccache: all
    /// languages).
    pub hits: u64,
    /// Cacheable compilations that were not in the cache.
    pub misses: u64,
}

impl CacheStats {
    /// Stats for `tool` from counts already known.
    pub fn new(tool: CacheTool, hits: u64, misses: u64) -> Self {
        CacheStats { tool, hits, misses }
    }

    /// `hits / (hits + misses)`, or None when there was no cacheable compilation.
    ///
    /// ```
    /// use inframind_core::collect::{CacheStats, CacheTool};
    /// assert_eq!(CacheStats::new(CacheTool::Ccache, 3, 1).hit_ratio(), Some(0.75));
    /// assert_eq!(CacheStats::new(CacheTool::Ccache, 0, 0).hit_ratio(), None);
    /// ```
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.hits as f64 + self.misses as f64;
        (total > 0.0).then(|| self.hits as f64 / total)
    }
}

fn ccache_error(reason: impl Into<String>) -> Error {
    Error::CacheStats {
        tool: "ccache",
        reason: reason.into(),
    }
}

fn sccache_error(reason: impl Into<String>) -> Error {
    Error::CacheStats {
        tool: "sccache",
        reason: reason.into(),
    }
}

/// Parses the key/value lines of `ccache --print-stats` (ccache 4.x: `direct_cache_hit`,
/// `preprocessed_cache_hit`, `cache_miss`; ccache 3.7's `cache_hit_direct` and
/// `cache_hit_preprocessed` are read too). Other keys are ignored.
///
/// ```
/// let stats = inframind_core::collect::parse_ccache_stats(
///     "cache_miss\t1\ndirect_cache_hit\t2\ndirect_cache_miss\t1\npreprocessed_cache_hit\t1\n",
/// )?;
/// assert_eq!((stats.hits, stats.misses), (3, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_ccache_stats(text: &str) -> Result<CacheStats> {
    let (mut direct, mut preprocessed, mut miss) = (None, None, None);
    for (n, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let slot = match key {
            "direct_cache_hit" | "cache_hit_direct" => &mut direct,
            "preprocessed_cache_hit" | "cache_hit_preprocessed" => &mut preprocessed,
            "cache_miss" => &mut miss,
            _ => continue,
        };
        let v: u64 = value.parse().map_err(|_| {
            ccache_error(format!(
                "line {}: {key} = {value:?} is not a whole number; pass the unmodified output \
                 of `ccache --print-stats`",
                n + 1
            ))
        })?;
        *slot = Some(v);
    }
    if direct.is_none() && preprocessed.is_none() && miss.is_none() {
        return Err(ccache_error(
            "no direct_cache_hit, preprocessed_cache_hit or cache_miss line found; pass the \
             output of `ccache --print-stats` (ccache 4.x; `ccache -s` is for people, not \
             programs)",
        ));
    }
    Ok(CacheStats {
        tool: CacheTool::Ccache,
        hits: direct
            .unwrap_or(0)
            .saturating_add(preprocessed.unwrap_or(0)),
        misses: miss.unwrap_or(0),
    })
}

/// Sum of one counter of `sccache --show-stats --stats-format=json`: a per-language
/// `{"counts": {"C/C++": 3, ...}}` (sccache 0.3 and later) or a plain number (older).
fn sccache_count(stats: &serde_json::Value, key: &str) -> Result<u64> {
    let value = stats.get(key).ok_or_else(|| {
        sccache_error(format!(
            "stats.{key} is missing; pass the output of `sccache --show-stats --stats-format=json`"
        ))
    })?;
    if let Some(n) = value.as_u64() {
        return Ok(n);
    }
    let counts = value
        .get("counts")
        .and_then(|c| c.as_object())
        .ok_or_else(|| {
            sccache_error(format!(
                "stats.{key} is {value}, expected a number or {{\"counts\": {{language: number}}}}"
            ))
        })?;
    let mut sum: u64 = 0;
    for (lang, n) in counts {
        let n = n.as_u64().ok_or_else(|| {
            sccache_error(format!(
                "stats.{key}.counts[{lang:?}] = {n} is not a whole number of compilations"
            ))
        })?;
        sum = sum.saturating_add(n);
    }
    Ok(sum)
}

/// Parses `sccache --show-stats --stats-format=json`: hits and misses summed over languages.
///
/// ```
/// let stats = inframind_core::collect::parse_sccache_stats(
///     r#"{"stats":{"cache_hits":{"counts":{"C/C++":4,"Rust":1}},"cache_misses":{"counts":{"C/C++":5}}}}"#,
/// )?;
/// assert_eq!((stats.hits, stats.misses), (5, 5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_sccache_stats(json: &str) -> Result<CacheStats> {
    let doc: serde_json::Value = serde_json::from_str(json).map_err(|source| Error::Json {
        what: "sccache statistics (`sccache --show-stats --stats-format=json`)",
        source,
    })?;
    let stats = doc.get("stats").ok_or_else(|| {
        sccache_error(
            "no top-level \"stats\" object; pass the output of \
             `sccache --show-stats --stats-format=json`",
        )
    })?;
    Ok(CacheStats {
        tool: CacheTool::Sccache,
        hits: sccache_count(stats, "cache_hits")?,
        misses: sccache_count(stats, "cache_misses")?,
    })
}

/// Runs `ccache --print-stats` (the one on `PATH`, with this process's environment, so
/// `CCACHE_DIR` applies). `Ok(None)` when ccache is not installed.
pub fn ccache_stats() -> Result<Option<CacheStats>> {
    match run_tool("ccache", &["--print-stats"], TOOL_TIMEOUT).map_err(ccache_error)? {
        None => Ok(None),
        Some(out) => parse_ccache_stats(&out).map(Some),
    }
}

/// Runs `sccache --show-stats --stats-format=json`. `Ok(None)` when sccache is not
/// installed. Note that sccache starts its server (which exits after its idle timeout, 10
/// minutes by default) when none is running.
pub fn sccache_stats() -> Result<Option<CacheStats>> {
    match run_tool(
        "sccache",
        &["--show-stats", "--stats-format=json"],
        TOOL_TIMEOUT,
    )
    .map_err(sccache_error)?
    {
        None => Ok(None),
        Some(out) => parse_sccache_stats(&out).map(Some),
    }
}
