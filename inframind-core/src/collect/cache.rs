//! Build-cache statistics: ccache (`ccache --print-stats`) and sccache
//! (`sccache --show-stats --stats-format=json`).
//!
//! The parsers take the tools' saved output, so stats captured elsewhere (a CI log, a file)
//! read the same as a live call. Running a tool that is not installed is "no data"
//! (`Ok(None)`), not an error; a tool that does not answer within [`TOOL_TIMEOUT`] is stopped.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use wait_timeout::ChildExt;

use crate::error::{Error, Result};

/// How long a cache tool may take to print its statistics before it is killed.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of a tool's output is kept (real statistics are a few KiB).
const MAX_OUTPUT_BYTES: u64 = 4 << 20;

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

/// Reads a pipe to its end (or to [`MAX_OUTPUT_BYTES`]) on a thread, into a shared buffer, so
/// that a grandchild keeping the pipe open cannot make us wait.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> (Arc<Mutex<Vec<u8>>>, std::sync::mpsc::Receiver<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    if let Some(pipe) = pipe {
        let sink = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut pipe = pipe.take(MAX_OUTPUT_BYTES);
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut b) = sink.lock() {
                            b.extend_from_slice(&chunk[..n]);
                        }
                    }
                }
            }
            let _ = done_tx.send(());
        });
    } else {
        let _ = done_tx.send(());
    }
    (buf, done_rx)
}

fn take_text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    match buf.lock() {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// Runs `program args`, returning its stdout; `Ok(None)` when the program is not installed.
/// A program still running after `timeout` is killed; a failing one is an error quoting its
/// stderr. The error is a reason, for the caller to wrap with the tool's name.
pub(crate) fn run_tool(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> std::result::Result<Option<String>, String> {
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot run `{shown}`: {e}")),
    };
    let started = Instant::now();
    let (out, out_done) = drain(child.stdout.take());
    let (err, err_done) = drain(child.stderr.take());
    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`{shown}` did not finish within {} s and was stopped; check that the cache \
                 directory is reachable (a network mount, a remote storage backend)",
                timeout.as_secs_f64()
            ));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("waiting for `{shown}` failed: {e}"));
        }
    };
    // The pipes reach their end when the program exits, unless something it started keeps
    // them open: wait a little, then use what arrived.
    let grace = Duration::from_secs(1).min(
        timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100)),
    );
    let _ = out_done.recv_timeout(grace);
    let _ = err_done.recv_timeout(Duration::from_millis(100));
    let stdout = take_text(&out);
    if !status.success() {
        let stderr = take_text(&err);
        let stderr = stderr.trim();
        let stderr: String = stderr.chars().take(500).collect();
        return Err(format!(
            "`{shown}` failed ({status}){}{stderr}",
            if stderr.is_empty() { "" } else { ": " }
        ));
    }
    Ok(Some(stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CCACHE_475: &str = include_str!("../../tests/data/collect/ccache-4.7.5-print-stats.txt");
    const CCACHE_475_EMPTY: &str =
        include_str!("../../tests/data/collect/ccache-4.7.5-print-stats-empty.txt");
    const SCCACHE_040: &str = include_str!("../../tests/data/collect/sccache-0.4.0-stats.json");
    const SCCACHE_040_EMPTY: &str =
        include_str!("../../tests/data/collect/sccache-0.4.0-stats-empty.json");
    const SCCACHE_ADV: &str =
        include_str!("../../tests/data/collect/sccache-adv-counts-stats.json");

    #[test]
    fn ccache_4_saved_output_one_hit_one_miss() {
        // Captured from ccache 4.7.5 after compiling one file twice into an empty cache.
        let s = parse_ccache_stats(CCACHE_475).unwrap();
        assert_eq!((s.tool, s.hits, s.misses), (CacheTool::Ccache, 1, 1));
        assert_eq!(s.hit_ratio(), Some(0.5));
    }

    #[test]
    fn ccache_empty_cache_has_no_ratio() {
        let s = parse_ccache_stats(CCACHE_475_EMPTY).unwrap();
        assert_eq!((s.hits, s.misses, s.hit_ratio()), (0, 0, None));
    }

    #[test]
    fn ccache_3_7_names_and_crlf_lines() {
        let s = parse_ccache_stats(
            "cache_hit_direct 4\r\ncache_hit_preprocessed 2\r\ncache_miss 6\r\n",
        )
        .unwrap();
        assert_eq!((s.hits, s.misses), (6, 6));
    }

    #[test]
    fn ccache_human_output_is_refused_with_a_hint() {
        let err = parse_ccache_stats("Cacheable calls: 2 / 2 (100.0%)\n  Hits: 1 / 2 (50.00%)\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ccache --print-stats"), "{err}");
    }

    #[test]
    fn ccache_bad_number_names_line_and_key() {
        let err = parse_ccache_stats("direct_cache_hit\t1\ncache_miss\tlots\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("cache_miss"),
            "{err}"
        );
    }

    #[test]
    fn sccache_0_4_saved_output_one_hit_one_miss() {
        // Captured from Debian's sccache 0.4.0 after compiling one file twice.
        let s = parse_sccache_stats(SCCACHE_040).unwrap();
        assert_eq!((s.tool, s.hits, s.misses), (CacheTool::Sccache, 1, 1));
        let empty = parse_sccache_stats(SCCACHE_040_EMPTY).unwrap();
        assert_eq!((empty.hits, empty.misses), (0, 0));
    }

    #[test]
    fn sccache_newer_format_with_adv_counts_sums_languages() {
        let s = parse_sccache_stats(SCCACHE_ADV).unwrap();
        assert_eq!((s.hits, s.misses), (343, 1760));
    }

    #[test]
    fn sccache_old_plain_numbers() {
        let s = parse_sccache_stats(r#"{"stats":{"cache_hits":7,"cache_misses":3}}"#).unwrap();
        assert_eq!((s.hits, s.misses), (7, 3));
    }

    #[test]
    fn sccache_errors_name_the_field() {
        let e = parse_sccache_stats("Compile requests 2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid JSON for sccache"), "{e}");
        let e = parse_sccache_stats(r#"{"stats":{"cache_hits":{"counts":{}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stats.cache_misses is missing"), "{e}");
        let e =
            parse_sccache_stats(r#"{"stats":{"cache_hits":{"counts":{"C":-1}},"cache_misses":0}}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("stats.cache_hits.counts[\"C\"]"), "{e}");
        let e = parse_sccache_stats(r#"{"cache_hits":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"stats\""), "{e}");
    }

    #[test]
    fn missing_tool_is_no_data() {
        assert_eq!(
            run_tool("inframind-no-such-tool-x9", &[], TOOL_TIMEOUT),
            Ok(None)
        );
    }

    #[test]
    fn hanging_tool_is_killed_at_the_deadline() {
        let start = Instant::now();
        let err = run_tool("sleep", &["30"], Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not finish within 0.3 s"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn failing_tool_quotes_its_stderr() {
        let err =
            run_tool("sh", &["-c", "echo broken cache >&2; exit 3"], TOOL_TIMEOUT).unwrap_err();
        assert!(
            err.contains("broken cache") && err.contains("exit status: 3"),
            "{err}"
        );
    }

    #[test]
    fn grandchild_holding_the_pipe_does_not_block() {
        let start = Instant::now();
        let out = run_tool(
            "sh",
            &["-c", "echo direct_cache_hit 1; sleep 20 &"],
            TOOL_TIMEOUT,
        )
        .unwrap()
        .unwrap();
        assert!(out.contains("direct_cache_hit 1"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_text(text in "\\PC*") {
            let _ = parse_ccache_stats(&text);
            let _ = parse_sccache_stats(&text);
        }

        #[test]
        fn ccache_parser_reads_any_counts(d in 0u64..u64::MAX / 2, p in 0u64..u64::MAX / 2, m: u64) {
            let text = format!("stats_updated_timestamp\t0\ndirect_cache_hit\t{d}\ncache_miss\t{m}\npreprocessed_cache_hit\t{p}\n");
            let s = parse_ccache_stats(&text).unwrap();
            proptest::prop_assert_eq!((s.hits, s.misses), (d + p, m));
        }

        #[test]
        fn sccache_parser_sums_any_languages(counts in proptest::collection::btree_map("[A-Za-z/+]{1,8}", 0u64..1 << 40, 0..6)) {
            let obj = serde_json::json!({"stats": {"cache_hits": {"counts": counts}, "cache_misses": {"counts": {}}}});
            let s = parse_sccache_stats(&obj.to_string()).unwrap();
            proptest::prop_assert_eq!(s.hits, counts.values().sum::<u64>());
        }
    }
}
