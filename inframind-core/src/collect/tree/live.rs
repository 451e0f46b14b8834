//! The shortcut on real process trees: it must give what full readings give, and fall back
//! to them whenever a process ran, has threads, or lost its parent.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ProcessTreeSample, ProcessTreeSampler};

/// A spawned tree in a process group of its own, killed process by process when dropped.
struct Spawned(Child);

impl Spawned {
    fn new(program: &str, args: &[&str]) -> Spawned {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn");
        Spawned(child)
    }

    fn sh(script: &str) -> Spawned {
        Spawned::new("sh", &["-c", script])
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Spawned {
    /// SIGKILL by pid to each live process of the group, until none is left (at most
    /// 5 s). Never `kill(-pgid)`: a negative pid is one slip away from `kill(-1)`.
    fn drop(&mut self) {
        let pgid = self.pid();
        let me = std::process::id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let mut alive = 0;
            for pid in pids() {
                let Some(f) = fields(pid) else { continue };
                if pid > 1 && pid != me && f[2] == pgid.to_string() && f[0] != "Z" {
                    alive += 1;
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
            if alive == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.wait();
    }
}

fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [2] pgrp,
/// [11] utime, [12] stime, [13] cutime, [14] cstime, [17] num_threads.
fn fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

fn field(pid: i32, i: usize) -> Option<u64> {
    fields(pid)?.get(i)?.parse().ok()
}

fn children(pid: i32) -> Vec<i32> {
    let ppid = pid.to_string();
    pids()
        .into_iter()
        .filter(|&p| fields(p).is_some_and(|f| f[1] == ppid))
        .collect()
}

/// A child of `pid` whose command line starts with `command` (arguments joined by spaces).
fn child_running(pid: i32, command: &str) -> Option<i32> {
    children(pid)
        .into_iter()
        .find(|&c| cmdline(c).starts_with(command))
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn wait_for<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(t) = found() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn python3() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip("python3 is not installed; this test needs it to run a threaded process");
    }
    ok
}

/// Where a test can write a file that counts as storage I/O (not tmpfs): the target dir.
fn scratch() -> tempfile::TempDir {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap(); // target/<profile>/deps/<exe>
    tempfile::tempdir_in(target).unwrap()
}

fn assert_monotone(samples: &[ProcessTreeSample]) {
    for w in samples.windows(2) {
        assert!(w[1].cpu_seconds_total >= w[0].cpu_seconds_total, "{w:?}");
        assert!(
            w[1].io_read_bytes_total >= w[0].io_read_bytes_total,
            "{w:?}"
        );
        assert!(
            w[1].io_write_bytes_total >= w[0].io_write_bytes_total,
            "{w:?}"
        );
    }
}

/// A long-lived sampler (its idle members on the shortcut) against brand-new ones (all
/// full readings), taken just before and just after it. Per process, CPU and I/O counters
/// only grow, so the long-lived sampler's totals must lie between the two new ones' (up to
/// 2 clock ticks, for rounding); the process count is exact (this tree does not fork
/// once started); RSS within 2% (the busy shells' heaps move a little).
#[test]
fn the_shortcut_agrees_with_full_readings() {
    if !schedstat_here() {
        return;
    }
    let dir = scratch();
    let fifo = dir.path().join("never");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let written = dir.path().join("written");
    let done = dir.path().join("done");
    // 12 sleeps; a shell waiting for 2 sleeps; a shell that reaped a 2 MiB writer and
    // sleeps; a CPU burner; a bash that counts for a while then sleeps 50 ms, without
    // forking (mostly asleep when read, yet its counters keep moving).
    let tree = Spawned::sh(&format!(
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 60 & done
             sh -c 'sleep 60 & sleep 60 & wait' &
             sh -c 'dd if=/dev/zero of={written} bs=1M count=2 conv=fsync 2>/dev/null; touch {done}; sleep 60' &
             sh -c 'while :; do :; done' &
             bash -c 'exec 9<>\"$0\"; while :; do for ((i = 0; i < 5000; i++)); do :; done; read -t 0.05 -u 9; done' {fifo} &
             wait",
        written = written.display(),
        done = done.display(),
        fifo = fifo.display(),
    ));
    const PROCESSES: u32 = 20;
    let mut long = ProcessTreeSampler::new(tree.pid()).unwrap();
    wait_for("the tree to start and the writer to finish", || {
        let s = long.sample().unwrap();
        (done.exists() && s.processes == PROCESSES).then_some(())
    });
    let burner = child_running(tree.pid(), "sh -c while :; do :; done").expect("the burner");
    let mut samples = Vec::new();
    let warm_up = Instant::now();
    while warm_up.elapsed() < Duration::from_millis(500) {
        samples.push(long.sample().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let tick = 1.0 / procfs::ticks_per_second() as f64;
    for round in 0..5 {
        let before = ProcessTreeSampler::new(tree.pid())
            .unwrap()
            .sample()
            .unwrap();
        let s = long.sample().unwrap();
        let after = ProcessTreeSampler::new(tree.pid())
            .unwrap()
            .sample()
            .unwrap();
        samples.push(s);
        let shortcut = long.unchanged.len();
        assert!(
            shortcut >= 12,
            "round {round}: only {shortcut} members took the shortcut"
        );
        assert!(
            !long.unchanged.contains(&burner),
            "round {round}: the burner runs"
        );
        assert_eq!(
            (before.processes, s.processes, after.processes),
            (PROCESSES, PROCESSES, PROCESSES),
            "round {round}"
        );
        assert!(
            s.cpu_seconds_total >= before.cpu_seconds_total - 2.0 * tick
                && s.cpu_seconds_total <= after.cpu_seconds_total + 2.0 * tick,
            "round {round}: cpu {} outside [{}, {}]",
            s.cpu_seconds_total,
            before.cpu_seconds_total,
            after.cpu_seconds_total
        );
        for (what, b, x, a) in [
            (
                "write",
                before.io_write_bytes_total,
                s.io_write_bytes_total,
                after.io_write_bytes_total,
            ),
            (
                "read",
                before.io_read_bytes_total,
                s.io_read_bytes_total,
                after.io_read_bytes_total,
            ),
        ] {
            assert!(
                b <= x && x <= a,
                "round {round}: {what} {x} outside [{b}, {a}]"
            );
        }
        assert!(s.io_write_bytes_total >= 2 << 20, "round {round}: {s:?}");
        let (lo, hi) = (
            before.rss_bytes.min(after.rss_bytes) as f64,
            before.rss_bytes.max(after.rss_bytes) as f64,
        );
        let rss = s.rss_bytes as f64;
        assert!(
            rss >= 0.98 * lo && rss <= 1.02 * hi,
            "round {round}: rss {rss} vs [{lo}, {hi}]"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_monotone(&samples);
}

/// A member (not the root, which is always read in full) sleeps on the shortcut, then
/// runs a CPU burner and reaps it between two samples: only its own cutime/cstime can tell,
/// and the shortcut must notice that it ran.
#[test]
fn a_sleeping_member_that_reaps_a_child_between_samples_carries_its_cpu() {
    if !schedstat_here() || !python3() {
        return;
    }
    let tree = Spawned::sh(
        "sh -c \"sleep 1; python3 -c 'import time
t = time.process_time()
while time.process_time() - t < 0.3: pass'; sleep 60\" & wait",
    );
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    let mid = wait_for("the member shell", || {
        child_running(tree.pid(), "sh -c sleep 1")
    });
    let mut samples = Vec::new();
    wait_for("the member to take the shortcut while it sleeps", || {
        samples.push(sampler.sample().unwrap());
        sampler.unchanged.contains(&mid).then_some(())
    });
    let before = *samples.last().unwrap();
    assert!(before.cpu_seconds_total < 0.1, "{before:?}");
    // No sample while the burner runs: it is born and reaped between two samples.
    let tck = procfs::ticks_per_second();
    wait_for("the member to reap the burner and sleep again", || {
        let reaped = field(mid, 13)? + field(mid, 14)?;
        let sleeping = child_running(mid, "sleep 60").is_some();
        (reaped * 100 >= 28 * tck && sleeping).then_some(())
    });
    for _ in 0..5 {
        samples.push(sampler.sample().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = *samples.last().unwrap();
    assert!(last.cpu_seconds_total >= 0.28, "{last:?}");
    assert_monotone(&samples);
    // and it went back to the shortcut with its new reading
    assert!(sampler.unchanged.contains(&mid), "{:?}", sampler.unchanged);
}

/// A second thread burns CPU while the leader sleeps: the leader's schedstat does not
/// move, so only the thread count keeps the process off the shortcut.
#[test]
fn a_thread_burning_cpu_while_the_leader_sleeps_is_counted() {
    if !schedstat_here() || !python3() {
        return;
    }
    let tree = Spawned::sh(
        "python3 -c 'import threading, time
def burn():
    while True: pass
threading.Thread(target=burn, daemon=True).start()
time.sleep(60)' & wait",
    );
    let mut sampler = ProcessTreeSampler::new(tree.pid()).unwrap();
    let python = wait_for("python3 and its thread", || {
        children(tree.pid())
            .into_iter()
            .find(|&p| field(p, 17) == Some(2))
    });
    let cpu = |pid| field(pid, 11).unwrap_or(0) + field(pid, 12).unwrap_or(0);
    let leader = || std::fs::read_to_string(format!("/proc/{python}/schedstat")).unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(sampler.sample().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let s0 = sampler.sample().unwrap();
    let (cpu0, leader0) = (cpu(python), leader());
    let tck = procfs::ticks_per_second();
    wait_for("the thread to burn 0.5 s", || {
        samples.push(sampler.sample().unwrap());
        assert!(
            !sampler.unchanged.contains(&python),
            "a threaded process took the shortcut"
        );
        (cpu(python) >= cpu0 + tck / 2).then_some(())
    });
    let (cpu1, leader1) = (cpu(python), leader());
    let s1 = sampler.sample().unwrap();
    samples.push(s1);
    assert_eq!(
        leader0, leader1,
        "the leader ran: this test could not tell threads apart"
    );
    let grew = (cpu1 - cpu0) as f64 / tck as f64;
    assert!(
        s1.cpu_seconds_total - s0.cpu_seconds_total >= grew - 0.01,
        "the sampler saw {} s of the thread's {grew} s",
        s1.cpu_seconds_total - s0.cpu_seconds_total
    );
    assert_monotone(&samples);
}

/// A sleeping member on the shortcut whose parent exits is reparented out of the tree,
/// without running itself. Its parent stays a zombie (the root does not reap it), so its
/// old parent pid still points into the tree: only the parent check drops it.
#[test]
fn a_member_reparented_out_of_the_tree_is_no_longer_counted() {
    if !schedstat_here() || !python3() {
        return;
    }
    let root = Spawned::new(
        "python3",
        &[
            "-c",
            "import subprocess, time\n\
                 subprocess.Popen(['sh', '-c', 'sleep 60 & sleep 1'])\n\
                 time.sleep(60)",
        ],
    );
    let mut sampler = ProcessTreeSampler::new(root.pid()).unwrap();
    let mid = wait_for("the shell", || child_running(root.pid(), "sh -c sleep 60"));
    let orphan = wait_for("its sleep 60", || child_running(mid, "sleep 60"));
    let mut samples = Vec::new();
    wait_for("the sleep to take the shortcut", || {
        let s = sampler.sample().unwrap();
        samples.push(s);
        (s.processes == 4 && sampler.unchanged.contains(&orphan)).then_some(())
    });
    wait_for("the shell to exit and its sleep to be reparented", || {
        let zombie = fields(mid).is_some_and(|f| f[0] == "Z");
        let moved = fields(orphan).is_some_and(|f| f[1] != mid.to_string());
        (zombie && moved).then_some(())
    });
    for _ in 0..3 {
        let s = sampler.sample().unwrap();
        samples.push(s);
        // the root alone: the shell is a zombie, its sleep has left the tree
        assert_eq!(s.processes, 1, "{s:?}");
        assert!(!sampler.handles.contains_key(&orphan));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_monotone(&samples);
}

fn schedstat_here() -> bool {
    let ok = std::path::Path::new("/proc/self/schedstat").exists();
    if !ok {
        skip(
            "this kernel has no /proc/PID/schedstat (CONFIG_SCHED_INFO), so there is no \
                 shortcut to test",
        );
    }
    ok
}

/// Reports a test that cannot run here: loudly outside CI, as a failure in CI
/// (`CI=true`), where every test must run.
fn skip(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run in CI: {why}"
    );
    eprintln!("SKIPPED: {why}");
}
