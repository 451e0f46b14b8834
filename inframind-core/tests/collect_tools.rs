//! The collectors against the real tools they meet in production: ccache and sccache on a
//! real gcc compile, Prometheus' own `promtool check metrics` on the exposition, and Python
//! psutil as a second independent reader of a busy process tree.
//!
//! All are `#[ignore]`d because they need programs a bare machine lacks; they are run by
//! scripts/suites/20-collect.sh, which installs them and sets `CCACHE_DIR`, `SCCACHE_DIR` and
//! `SCCACHE_SERVER_PORT` to throw-away values (and stops that sccache server afterwards), and
//! `IM_PYTHON` to the project venv's python with psutil.
#![cfg(all(target_os = "linux", feature = "collect"))]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use inframind_core::collect::{
    ccache_stats, sccache_stats, CacheStats, CacheTool, Collector, CollectorOptions,
    ProcessTreeSampler,
};

fn require_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this test through scripts/suites/20-collect.sh")
    })
}

/// A C file no cache has seen: its text carries a fresh nonce.
fn unique_c_file(dir: &Path) -> PathBuf {
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = dir.join("unit.c");
    std::fs::write(
        &path,
        format!(
            "int inframind_probe_{nonce}(int a, int b) {{ return a * b + {}; }}\n",
            nonce % 97
        ),
    )
    .unwrap();
    path
}

fn compile_twice(wrapper: &str, dir: &Path) {
    let src = unique_c_file(dir);
    for out in ["a.o", "b.o"] {
        let status = Command::new(wrapper)
            .args(["gcc", "-O1", "-c"])
            .arg(&src)
            .arg("-o")
            .arg(dir.join(out))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {wrapper}: {e}"));
        assert!(status.success(), "{wrapper} gcc failed: {status}");
    }
}

fn delta(before: Option<CacheStats>, after: CacheStats) -> (u64, u64) {
    let (h, m) = before.map_or((0, 0), |b| (b.hits, b.misses));
    (after.hits - h, after.misses - m)
}

#[test]
#[ignore = "needs ccache and gcc: run by scripts/suites/20-collect.sh"]
fn real_ccache_counts_one_miss_then_one_hit() {
    require_env("CCACHE_DIR");
    let dir = tempfile::tempdir().unwrap();
    let before = ccache_stats().unwrap();
    compile_twice("ccache", dir.path());
    let after = ccache_stats().unwrap().expect("ccache is installed");
    assert_eq!(after.tool, CacheTool::Ccache);
    assert_eq!(delta(before, after), (1, 1), "{before:?} -> {after:?}");
    assert!(after.hit_ratio().is_some());
}

#[test]
#[ignore = "needs sccache and gcc: run by scripts/suites/20-collect.sh"]
fn real_sccache_counts_one_miss_then_one_hit() {
    require_env("SCCACHE_DIR");
    require_env("SCCACHE_SERVER_PORT");
    let dir = tempfile::tempdir().unwrap();
    let before = sccache_stats().unwrap();
    compile_twice("sccache", dir.path());
    let after = sccache_stats().unwrap().expect("sccache is installed");
    assert_eq!(after.tool, CacheTool::Sccache);
    assert_eq!(delta(before, after), (1, 1), "{before:?} -> {after:?}");
}

fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), findings)
}

#[test]
#[ignore = "needs promtool (Debian prometheus), ccache and gcc: run by scripts/suites/20-collect.sh"]
fn promtool_finds_nothing_to_complain_about() {
    require_env("CCACHE_DIR");
    // promtool is a working linter: it flags a counter without `_total`.
    let (ok, findings) = promtool("# HELP im_bad Bad.\n# TYPE im_bad counter\nim_bad 1\n");
    assert!(
        !ok || !findings.trim().is_empty(),
        "promtool accepted a bad counter name"
    );

    // Every family present: system, a live tree, and ccache with a hit ratio.
    compile_twice("ccache", tempfile::tempdir().unwrap().path());
    let mut collector = Collector::new(
        CollectorOptions::default()
            .pid(std::process::id() as i32)
            .cache(true),
    )
    .unwrap();
    let snapshot = collector.sample().unwrap();
    assert!(snapshot.tree.is_some());
    assert!(
        snapshot
            .caches
            .iter()
            .any(|c| c.tool == CacheTool::Ccache && c.hit_ratio().is_some()),
        "{:?} / {:?}",
        snapshot.caches,
        collector.last_cache_error()
    );
    let text = snapshot.render_prometheus();
    for name in [
        "im_cpu_usage_ratio",
        "im_build_rss_bytes",
        "im_cache_hit_ratio",
        "im_build_info",
    ] {
        assert!(
            text.contains(&format!("\n{name}")),
            "{name} missing:\n{text}"
        );
    }
    let (ok, findings) = promtool(&text);
    assert!(
        ok && findings.trim().is_empty(),
        "promtool findings:\n{findings}\non:\n{text}"
    );
}

/// Stops the test's tree by pid, never by a negative pid (procps `kill -KILL -1234` is
/// `kill -1`).
struct Tree(Child);

impl Drop for Tree {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        assert!(pgid > 1);
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(pid) = name.parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let pgrp = stat[close + 1..].split_whitespace().nth(2);
            if pid > 1 && pid != std::process::id() as i32 && pgrp == Some(&pgid.to_string()) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
        let _ = self.0.wait();
    }
}

#[derive(Debug, serde::Deserialize)]
struct Psutil {
    processes: u32,
    cpu_seconds: f64,
    rss_bytes: u64,
    read_bytes: u64,
    write_bytes: u64,
}

fn psutil(python: &str, root: i32) -> Psutil {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/collect/psutil_tree.py");
    let out = Command::new(python)
        .arg(script)
        .arg(root.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Tolerance as in collect_tree.rs: CPU and I/O within psutil's readings just before and
/// just after the sample (CPU widened by 0.1 s: psutil rounds through floats), RSS within
/// 5% plus 1 MiB of their mean, the process count exact.
#[test]
#[ignore = "needs python3 with psutil (IM_PYTHON): run by scripts/suites/20-collect.sh"]
fn busy_tree_matches_psutil() {
    let python = require_env("IM_PYTHON");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let w = dir.path().join("w");
    let script = format!(
        "python3 -c 'while True: pass' & \
         sh -c \"python3 -c 'while True: pass' & wait\" & \
         python3 -c 'import time; b = b\"x\" * (48 << 20); time.sleep(120)' & \
         python3 -c 'import os, time; f = open(\"{}\", \"wb\"); f.write(b\"y\" * (6 << 20)); f.flush(); os.fsync(f.fileno()); time.sleep(120)' & \
         wait",
        w.display()
    );
    let tree = Tree(
        Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let root = tree.0.id() as i32;
    let start = Instant::now();
    loop {
        let p = psutil(&python, root);
        if p.processes == 6 && p.rss_bytes >= 48 << 20 && p.write_bytes >= 6 << 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "tree never settled: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut sampler = ProcessTreeSampler::new(root).unwrap();
    for round in 0..3 {
        let before = psutil(&python, root);
        let s = sampler.sample().unwrap();
        let after = psutil(&python, root);
        assert_eq!(s.processes, before.processes, "round {round}");
        assert!(
            s.cpu_seconds_total >= before.cpu_seconds - 0.1
                && s.cpu_seconds_total <= after.cpu_seconds + 0.1,
            "round {round}: {} outside psutil's [{}, {}]",
            s.cpu_seconds_total,
            before.cpu_seconds,
            after.cpu_seconds
        );
        let rss = (before.rss_bytes + after.rss_bytes) as f64 / 2.0;
        assert!(
            (s.rss_bytes as f64 - rss).abs() <= 0.05 * rss + 1_048_576.0,
            "round {round}: rss {} vs psutil {rss}",
            s.rss_bytes
        );
        assert!(
            s.io_write_bytes_total >= before.write_bytes
                && s.io_write_bytes_total <= after.write_bytes
        );
        assert!(
            s.io_read_bytes_total >= before.read_bytes && s.io_read_bytes_total <= after.read_bytes
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
