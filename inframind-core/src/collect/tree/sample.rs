//! What one sample of a build's process tree reports.

use serde::Serialize;

/// One reading of a build's process tree. Counters (`*_total`) never decrease between samples
/// of one [`ProcessTreeSampler`](super::ProcessTreeSampler).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProcessTreeSample {
    /// The pid the tree was asked for.
    pub root_pid: i32,
    /// Whether the root process is still running (not exited, not a zombie).
    pub root_alive: bool,
    /// Live (not zombie) processes in the tree now, the root included.
    pub processes: u32,
    /// CPU seconds (user + system) of the tree since the root started: live members, the
    /// children they reaped, and the last values of members that vanished otherwise.
    pub cpu_seconds_total: f64,
    /// Resident memory of the live members now, summed (shared pages count once per process,
    /// as `ps` and psutil sum them).
    pub rss_bytes: u64,
    /// The largest `rss_bytes` over this sampler's samples.
    pub peak_rss_bytes: u64,
    /// Bytes the tree caused to be read from storage (`/proc/PID/io` `read_bytes`), counted
    /// like `cpu_seconds_total`.
    pub io_read_bytes_total: u64,
    /// Bytes the tree caused to be written to storage (`write_bytes`), counted likewise.
    pub io_write_bytes_total: u64,
}
