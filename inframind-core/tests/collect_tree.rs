//! ProcessTreeSampler against real process trees (sh and python3 children that burn CPU,
//! hold memory and write to disk), checked with an independent reader: this file's own
//! parsing of /proc/PID/stat, /proc/PID/status (VmRSS) and /proc/PID/io, with the clock tick
//! from `getconf CLK_TCK`.
#![cfg(all(target_os = "linux", feature = "collect"))]

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inframind_core::collect::{ProcessTreeSample, ProcessTreeSampler};
use inframind_core::Error;

/// Kills the whole process group of a spawned tree when the test ends, however it ends.
struct Tree {
    child: Child,
}

impl Tree {
    fn spawn(script: &str) -> Tree {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        Tree { child }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        kill_group_members(self.pid());
        let _ = self.child.wait();
    }
}

/// SIGKILL, one by one and by pid, to the processes of the process group `pgid` that this
/// test created (`process_group(0)` made the spawned root its leader; its descendants inherit
/// the group). Never a negative pid: `kill(-1)` would hit every process on the machine.
fn kill_group_members(pgid: i32) {
    assert!(pgid > 1, "refusing to signal process group {pgid}");
    let me = std::process::id() as i32;
    let start = Instant::now();
    // Until none is left running (zombies wait for their parent), for at most 5 s.
    while start.elapsed() < Duration::from_secs(5) {
        let mut alive = 0;
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(pid) = name.parse::<i32>() else {
                continue;
            };
            let Some(f) = stat_fields(&name) else {
                continue;
            };
            if pid > 1 && pid != me && f[2] == pgid.to_string() && f[0] != "Z" {
                alive += 1;
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
        if alive == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn getconf(name: &str) -> u64 {
    let out = Command::new("getconf").arg(name).output().expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("getconf number")
}

/// What the independent reader saw of the tree.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    processes: u32,
    cpu_seconds: f64,
    rss_bytes: u64,
    read_bytes: u64,
    write_bytes: u64,
}

fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// Root + descendants by ppid, summing utime+stime+cutime+cstime, VmRSS and io bytes.
fn read_tree(root: i32) -> Seen {
    let tck = getconf("CLK_TCK") as f64;
    let mut parent: HashMap<i32, (i32, Vec<String>)> = HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        if let Some(f) = stat_fields(&name) {
            parent.insert(pid, (f[1].parse().unwrap(), f));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        i += 1;
        for (&pid, (ppid, _)) in &parent {
            if *ppid == p && pid != root {
                tree.push(pid);
            }
        }
    }
    let mut seen = Seen::default();
    for pid in tree {
        let Some((_, f)) = parent.get(&pid) else {
            continue;
        };
        let n = |i: usize| f[i].parse::<i64>().unwrap().max(0) as f64;
        seen.cpu_seconds += (n(11) + n(12) + n(13) + n(14)) / tck;
        if f[0] != "Z" {
            seen.processes += 1;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for line in status.lines() {
                if let Some(kb) = line.strip_prefix("VmRSS:") {
                    seen.rss_bytes += kb
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                        * 1024;
                }
            }
        }
        if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
            for line in io.lines() {
                if let Some(v) = line.strip_prefix("read_bytes: ") {
                    seen.read_bytes += v.parse::<u64>().unwrap();
                }
                if let Some(v) = line.strip_prefix("write_bytes: ") {
                    seen.write_bytes += v.parse::<u64>().unwrap();
                }
            }
        }
    }
    seen
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_monotone(samples: &[ProcessTreeSample]) {
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            b.cpu_seconds_total >= a.cpu_seconds_total,
            "cpu went back: {a:?} -> {b:?}"
        );
        assert!(
            b.io_read_bytes_total >= a.io_read_bytes_total,
            "read went back: {a:?} -> {b:?}"
        );
        assert!(
            b.io_write_bytes_total >= a.io_write_bytes_total,
            "write went back: {a:?} -> {b:?}"
        );
        assert!(
            b.peak_rss_bytes >= a.peak_rss_bytes,
            "peak went back: {a:?} -> {b:?}"
        );
        assert!(b.peak_rss_bytes >= b.rss_bytes);
    }
}

const BURN_FOREVER: &str = "python3 -c 'while True: pass'";
const HOLD_64_MIB: &str = "python3 -c 'import time; b = b\"x\" * (64 << 20); time.sleep(120)'";

fn writer(path: &Path, mib: u32, then_sleep: u32) -> String {
    format!(
        "python3 -c 'import os, time; f = open(\"{}\", \"wb\"); f.write(b\"x\" * ({mib} << 20)); \
         f.flush(); os.fsync(f.fileno()); time.sleep({then_sleep})'",
        path.display()
    )
}

fn burn(cpu_seconds: f64) -> String {
    format!(
        "python3 -c 'import time; t = time.process_time()\nwhile time.process_time() - t < {cpu_seconds}: pass'"
    )
}

/// Accuracy. Tolerance: CPU within the independent readings taken just before and just after
/// the sample, widened by 2 clock ticks per process for reads that interleave; RSS within
/// 5% plus 1 MiB of the mean of the two readings (python's heap moves a little); I/O bytes
/// within the two readings; the process count exact (the tree is stable while it is read).
#[test]
fn busy_tree_matches_an_independent_proc_reader() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let script = format!(
        "{BURN_FOREVER} & sh -c \"{BURN_FOREVER} & wait\" & {HOLD_64_MIB} & {} & wait",
        writer(&dir.path().join("w"), 8, 120)
    );
    let tree = Tree::spawn(&script);
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    // sh, burner, sh, burner, holder, writer
    wait_until(
        "the tree to start, allocate and write",
        Duration::from_secs(30),
        || {
            let s = read_tree(tree.pid());
            s.processes == 6 && s.rss_bytes >= 64 << 20 && s.write_bytes >= 8 << 20
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let tck = getconf("CLK_TCK") as f64;
    for round in 0..5 {
        let before = read_tree(tree.pid());
        let s = sampler.sample().unwrap();
        let after = read_tree(tree.pid());
        let slack = 2.0 * 6.0 / tck;
        assert!(s.root_alive && s.root_pid == tree.pid());
        assert_eq!(s.processes, 6, "round {round}: {s:?}");
        assert!(
            s.cpu_seconds_total >= before.cpu_seconds - slack
                && s.cpu_seconds_total <= after.cpu_seconds + slack,
            "round {round}: cpu {} outside [{}, {}]",
            s.cpu_seconds_total,
            before.cpu_seconds,
            after.cpu_seconds
        );
        let rss = (before.rss_bytes + after.rss_bytes) as f64 / 2.0;
        assert!(
            (s.rss_bytes as f64 - rss).abs() <= 0.05 * rss + 1_048_576.0,
            "round {round}: rss {} vs independent {rss}",
            s.rss_bytes
        );
        assert!(s.rss_bytes >= 64 << 20);
        assert!(
            s.io_write_bytes_total >= before.write_bytes
                && s.io_write_bytes_total <= after.write_bytes
        );
        assert!(
            s.io_read_bytes_total >= before.read_bytes && s.io_read_bytes_total <= after.read_bytes
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // two burners ran for at least 0.5 s + 4 × 0.2 s of wall time; on a loaded machine they get
    // less than a core each, so only demand that CPU time is visibly accumulating.
    let last = sampler.sample().unwrap();
    assert!(last.cpu_seconds_total > 0.3, "{last:?}");
}

#[test]
fn exited_children_never_make_counts_go_back() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // Two burners and a writer exit while the root lives on; then the root sleeps.
    let script = format!(
        "{} & {} & {} & wait; sleep 3",
        burn(0.4),
        burn(0.4),
        writer(&dir.path().join("w"), 4, 0)
    );
    let tree = Tree::spawn(&script);
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    let mut samples = Vec::new();
    let mut max_seen_children = 0;
    let start = Instant::now();
    let tck = getconf("CLK_TCK");
    // Sample until the shell has reaped both burners and only it and its `sleep` are left
    // (as the independent reader sees it), and a bit longer.
    loop {
        let s = sampler.sample().unwrap();
        max_seen_children = max_seen_children.max(s.processes);
        samples.push(s);
        let f = stat_fields(&tree.pid().to_string()).unwrap();
        let reaped_ticks = f[13].parse::<u64>().unwrap() + f[14].parse::<u64>().unwrap();
        if reaped_ticks * 100 >= 78 * tck && read_tree(tree.pid()).processes <= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "tree never settled: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    for _ in 0..5 {
        samples.push(sampler.sample().unwrap());
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_monotone(&samples);
    assert!(
        max_seen_children >= 3,
        "the burners were never seen running"
    );
    let last = samples.last().unwrap();
    // The shell reaped both burners (0.4 s of CPU each) and the writer (4 MiB written).
    assert!(last.cpu_seconds_total >= 0.75, "{last:?}");
    assert!(last.io_write_bytes_total >= 4 << 20, "{last:?}");
    // and the independent reader agrees: the shell's own stat now carries them
    let indep = read_tree(tree.pid());
    assert!(
        last.cpu_seconds_total >= indep.cpu_seconds - 0.02,
        "{last:?} vs {indep:?}"
    );
}

#[test]
fn a_child_that_lives_entirely_between_two_samples_is_counted() {
    // A burner and a writer start after the first sample and are gone before the second:
    // only their parent's cutime/cstime and its /proc/PID/io (which fold in reaped children)
    // can tell about them.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let tree = Tree::spawn(&format!(
        "sleep 0.3; {}; {}; sleep 30",
        burn(0.3),
        writer(&dir.path().join("w"), 4, 0)
    ));
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    let first = sampler.sample().unwrap();
    let tck = getconf("CLK_TCK");
    wait_until(
        "the burner and the writer to finish",
        Duration::from_secs(30),
        || {
            let f = stat_fields(&tree.pid().to_string()).unwrap();
            let reaped_ticks = f[13].parse::<u64>().unwrap() + f[14].parse::<u64>().unwrap();
            let seen = read_tree(tree.pid());
            reaped_ticks * 100 >= 28 * tck && seen.write_bytes >= 4 << 20 && seen.processes == 2
        },
    );
    let second = sampler.sample().unwrap();
    assert!(first.cpu_seconds_total < 0.1, "{first:?}");
    assert!(first.io_write_bytes_total < 4 << 20, "{first:?}");
    assert!(second.cpu_seconds_total >= 0.28, "{second:?}");
    assert!(second.io_write_bytes_total >= 4 << 20, "{second:?}");
    assert_eq!(second.processes, 2, "{second:?}"); // sh and `sleep 30`
}

#[test]
fn orphaned_children_and_an_exited_root_keep_their_counts() {
    // The root starts a burner in the background and exits at once: the burner is
    // reparented out of the tree.
    let mut root = Command::new("sh")
        .args(["-c", &format!("{} & sleep 0.8", burn(0.5))])
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = root.id() as i32;
    let mut sampler = ProcessTreeSampler::new(pid).unwrap();
    let mut samples = vec![sampler.sample().unwrap()];
    let start = Instant::now();
    while root.try_wait().unwrap().is_none() {
        samples.push(sampler.sample().unwrap());
        std::thread::sleep(Duration::from_millis(30));
        assert!(start.elapsed() < Duration::from_secs(30));
    }
    for _ in 0..3 {
        samples.push(sampler.sample().unwrap());
    }
    assert_monotone(&samples);
    let last = samples.last().unwrap();
    assert!(!last.root_alive);
    assert_eq!(last.processes, 0);
    assert!(samples.iter().any(|s| s.processes >= 2));
    assert!(last.cpu_seconds_total > 0.0, "{last:?}");
    // the orphan may still run: it kept the root's process group
    kill_group_members(pid);
}

#[test]
fn a_zombie_root_is_not_alive() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    let mut sampler = ProcessTreeSampler::new(pid).unwrap();
    // `true` exits at once and stays a zombie until we wait for it.
    wait_until("the zombie", Duration::from_secs(10), || {
        stat_fields(&pid.to_string()).is_some_and(|f| f[0] == "Z")
    });
    let s = sampler.sample().unwrap();
    assert!(!s.root_alive);
    assert_eq!((s.processes, s.rss_bytes), (0, 0));
    child.wait().unwrap();
    let s = sampler.sample().unwrap();
    assert!(!s.root_alive);
}

#[test]
fn churning_tree_is_sampled_without_errors() {
    // Hundreds of processes start and exit while the sampler reads /proc.
    let tree = Tree::spawn("for i in $(seq 400); do /bin/true & /bin/true; done; wait; sleep 30");
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        samples.push(sampler.sample().unwrap());
    }
    assert!(samples.len() > 5);
    assert_monotone(&samples);
}

#[test]
fn missing_and_invalid_pids_are_errors_naming_the_pid() {
    for pid in [0, -5, i32::MAX] {
        let err = ProcessTreeSampler::new(pid).unwrap_err();
        assert!(
            matches!(err, Error::ProcessNotFound { pid: p, .. } if p == pid),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("no process with pid {pid}")),
            "{err}"
        );
    }
    // A thread id is not a process id.
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let tid = std::fs::read_link("/proc/thread-self").unwrap();
        let tid: i32 = tid.file_name().unwrap().to_string_lossy().parse().unwrap();
        tx.send(tid).unwrap();
        let _ = stop_rx.recv();
    });
    let tid = rx.recv().unwrap();
    let err = ProcessTreeSampler::new(tid).unwrap_err().to_string();
    assert!(
        err.contains(&format!("is a thread of process {}", std::process::id())),
        "{err}"
    );
    stop_tx.send(()).unwrap();
    t.join().unwrap();
}
