//! A build's process tree: a root pid and all its descendants, found afresh at every sample
//! from the parent pid in each `/proc/PID/stat`.
//!
//! ## How exited processes are counted
//!
//! A process's `utime + stime + cutime + cstime` is its own CPU time plus that of the
//! children it reaped (and, through them, of their reaped children); `/proc/PID/io` likewise
//! folds in reaped children's I/O. Summing these over the live members therefore counts a
//! compiler that ran and exited entirely between two samples, through the `make` or shell
//! that waited for it. A member that vanished is dropped from the sum when its parent chain
//! (through members that also vanished) reaches a live member, which now carries its time;
//! otherwise (it was orphaned, or reparented out of the tree) its last values are kept. Every
//! counter is finally held at its previous value if it would go down (a parent that ignores
//! `SIGCHLD` does not collect its children's times), so the counters never go backwards.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::{DirEntryExt, FileExt};

#[cfg(test)]
use procfs::process::Stat;
#[cfg(test)]
use procfs::FromRead;
use serde::Serialize;

use crate::error::{Error, Result};

/// One reading of a build's process tree. Counters (`*_total`) never decrease between samples
/// of one [`ProcessTreeSampler`].
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

/// A process is known by its pid and its start time, so a reused pid is a new process.
type Key = (i32, u64);

/// What one member contributed at its last sighting; each value only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    cpu_ticks: u64,
    read_bytes: u64,
    write_bytes: u64,
}

impl Counts {
    fn max(self, o: Counts) -> Counts {
        Counts {
            cpu_ticks: self.cpu_ticks.max(o.cpu_ticks),
            read_bytes: self.read_bytes.max(o.read_bytes),
            write_bytes: self.write_bytes.max(o.write_bytes),
        }
    }

    fn add(self, o: Counts) -> Counts {
        Counts {
            cpu_ticks: self.cpu_ticks.saturating_add(o.cpu_ticks),
            read_bytes: self.read_bytes.saturating_add(o.read_bytes),
            write_bytes: self.write_bytes.saturating_add(o.write_bytes),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Member {
    ppid: i32,
    counts: Counts,
}

/// The fields of `/proc/PID/stat` the tree needs.
#[derive(Debug, Clone, Copy)]
struct ProcStat {
    pid: i32,
    ppid: i32,
    state: char,
    cpu_ticks: u64,
    start: u64,
    rss_pages: u64,
}

impl ProcStat {
    /// procfs's view of the same fields, which [`parse_stat`] is tested against.
    #[cfg(test)]
    fn from_stat(s: &Stat) -> ProcStat {
        let children = s.cutime.max(0) as u64 + s.cstime.max(0) as u64;
        ProcStat {
            pid: s.pid,
            ppid: s.ppid,
            state: s.state,
            cpu_ticks: s.utime.saturating_add(s.stime).saturating_add(children),
            start: s.starttime,
            rss_pages: s.rss,
        }
    }

    fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Watches one build's process tree. Create it with the build's root pid, then call
/// [`ProcessTreeSampler::sample`] at each tick.
///
/// To keep a sample cheap, the sampler keeps `/proc/PID/stat` and `/proc/PID/io` of up to
/// 256 members open (so up to 512 file descriptors) and re-reads them in place, and it does not
/// re-read processes it already found outside the tree while their `/proc` entry is unchanged
/// (all are re-read every 16 samples). Dropping the sampler closes the files.
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use inframind_core::collect::ProcessTreeSampler;
///
/// let mut build = std::process::Command::new("sh").args(["-c", "sleep 5 & sleep 5 & wait"]).spawn()?;
/// let mut tree = ProcessTreeSampler::new(build.id() as i32)?;
/// std::thread::sleep(std::time::Duration::from_millis(200));
/// let s = tree.sample()?;
/// assert!(s.root_alive);
/// assert!(s.processes >= 1); // the shell, and its two sleeps once they have started
/// build.kill()?;
/// build.wait()?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProcessTreeSampler {
    root_pid: i32,
    root_start: u64,
    ticks_per_second: u64,
    page_size: u64,
    members: HashMap<Key, Member>,
    lost: Counts,
    reported: Counts,
    peak_rss_bytes: u64,
    /// Open `/proc/PID/{stat,io}` of members, re-read in place at every sample.
    handles: HashMap<i32, Handles>,
    /// Processes known to be outside the tree, by pid, with the inode of their `/proc/PID`.
    outsiders: HashMap<i32, u64>,
    samples_since_rescan: u32,
    path: String,
    buf: Vec<u8>,
}

/// A member's open `/proc` files. A file opened on one process never reads another one's
/// data: once the process is gone, reads fail, even if its pid is reused.
#[derive(Debug)]
struct Handles {
    start: u64,
    stat: File,
    io: Option<File>,
}

/// At most this many members keep their `/proc` files open (two descriptors each); members
/// beyond it are opened and closed at every sample.
const MAX_HANDLES: usize = 256;

/// Every this many samples, processes known to be outside the tree are read again, in case a
/// race (a process started during a scan) classified one wrongly.
const RESCAN_EVERY: u32 = 16;

impl ProcessTreeSampler {
    /// Starts watching the process `root_pid` and its descendants. Fails, naming the pid, when
    /// no such process exists or when it is a thread rather than a process.
    pub fn new(root_pid: i32) -> Result<Self> {
        let not_found = |reason: &str| Error::ProcessNotFound {
            pid: root_pid,
            reason: reason.to_owned(),
        };
        if root_pid <= 0 {
            return Err(not_found("a process id is a positive number"));
        }
        let process = procfs::process::Process::new(root_pid)
            .map_err(|_| not_found("it is not in /proc (it exited, or never existed)"))?;
        let stat = process
            .stat()
            .map_err(|_| not_found("it exited while being read"))?;
        if let Ok(status) = process.status() {
            if status.tgid != root_pid {
                return Err(not_found(&format!(
                    "it is a thread of process {}, not a process",
                    status.tgid
                )));
            }
        }
        Ok(ProcessTreeSampler {
            root_pid,
            root_start: stat.starttime,
            ticks_per_second: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size(),
            members: HashMap::new(),
            lost: Counts::default(),
            reported: Counts::default(),
            peak_rss_bytes: 0,
            handles: HashMap::new(),
            outsiders: HashMap::new(),
            samples_since_rescan: 0,
            path: String::with_capacity(32),
            buf: vec![0; 4096],
        })
    }

    /// The pid this sampler watches.
    pub fn root_pid(&self) -> i32 {
        self.root_pid
    }

    /// Finds the tree afresh and reads its members. Processes that exit while being read are
    /// skipped (their last values stay counted); only an unreadable `/proc` is an error.
    pub fn sample(&mut self) -> Result<ProcessTreeSample> {
        let (all, mut opened) = self.scan()?;
        let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
        let mut root = None;
        for (i, (p, _)) in all.iter().enumerate() {
            if p.pid == self.root_pid && p.start == self.root_start {
                root = Some(i);
            } else {
                children.entry(p.ppid).or_default().push(i);
            }
        }

        // Breadth-first from the root; a pid is visited once even if /proc changed under us.
        let mut tree: Vec<usize> = Vec::new();
        let mut seen: HashSet<i32> = HashSet::new();
        if let Some(r) = root {
            tree.push(r);
            seen.insert(all[r].0.pid);
            let mut next = 0;
            while next < tree.len() {
                let pid = all[tree[next]].0.pid;
                next += 1;
                if let Some(kids) = children.get(&pid) {
                    for &k in kids {
                        if seen.insert(all[k].0.pid) {
                            tree.push(k);
                        }
                    }
                }
            }
        }

        // Processes read this time that are not in the tree will not be read again (until the
        // next rescan) while their /proc entry stays the same.
        for (p, ino) in &all {
            if !seen.contains(&p.pid) {
                self.outsiders.insert(p.pid, *ino);
            }
        }
        self.handles.retain(|pid, _| seen.contains(pid));

        let mut current: HashMap<Key, Member> = HashMap::with_capacity(tree.len());
        let mut rss_pages: u64 = 0;
        let mut processes: u32 = 0;
        for &i in &tree {
            let p = all[i].0;
            let key = (p.pid, p.start);
            let prev = self.members.get(&key).map(|m| m.counts).unwrap_or_default();
            if !self.handles.contains_key(&p.pid) && self.handles.len() < MAX_HANDLES {
                if let Some(stat) = opened.remove(&p.pid) {
                    let io = self.open(p.pid, "io");
                    self.handles.insert(
                        p.pid,
                        Handles {
                            start: p.start,
                            stat,
                            io,
                        },
                    );
                }
            }
            let (read_bytes, write_bytes) = self.read_io(p.pid).unwrap_or((0, 0));
            let counts = Counts {
                cpu_ticks: p.cpu_ticks,
                read_bytes,
                write_bytes,
            }
            .max(prev);
            current.insert(
                key,
                Member {
                    ppid: p.ppid,
                    counts,
                },
            );
            if !p.is_dead() {
                processes = processes.saturating_add(1);
                rss_pages = rss_pages.saturating_add(p.rss_pages);
            }
        }

        let still_running: HashSet<Key> = all.iter().map(|(p, _)| (p.pid, p.start)).collect();
        self.account_vanished(&current, &still_running);
        self.members = current;

        let live = self
            .members
            .values()
            .fold(Counts::default(), |acc, m| acc.add(m.counts));
        self.reported = self.lost.add(live).max(self.reported);
        let rss_bytes = rss_pages.saturating_mul(self.page_size);
        self.peak_rss_bytes = self.peak_rss_bytes.max(rss_bytes);
        let root_alive = root.is_some_and(|r| !all[r].0.is_dead());

        Ok(ProcessTreeSample {
            root_pid: self.root_pid,
            root_alive,
            processes,
            cpu_seconds_total: self.reported.cpu_ticks as f64 / self.ticks_per_second as f64,
            rss_bytes,
            peak_rss_bytes: self.peak_rss_bytes,
            io_read_bytes_total: self.reported.read_bytes,
            io_write_bytes_total: self.reported.write_bytes,
        })
    }

    /// Moves the last values of members that left the tree into `lost`, unless a live member
    /// reaped them and so carries their counts already.
    fn account_vanished(&mut self, current: &HashMap<Key, Member>, still_running: &HashSet<Key>) {
        let live_pids: HashSet<i32> = current.keys().map(|k| k.0).collect();
        let prev_by_pid: HashMap<i32, &Member> =
            self.members.iter().map(|(k, m)| (k.0, m)).collect();
        for (key, member) in &self.members {
            if current.contains_key(key) {
                continue;
            }
            // Still running but no longer a descendant (orphaned and reparented): nobody in
            // the tree will ever collect its counts.
            let reaped_in_tree = !still_running.contains(key) && {
                let mut ppid = member.ppid;
                let mut hops = 0;
                loop {
                    if live_pids.contains(&ppid) {
                        break true;
                    }
                    // A parent that vanished too may have reaped it first: follow its chain.
                    match prev_by_pid.get(&ppid) {
                        Some(parent) if hops < self.members.len() => {
                            ppid = parent.ppid;
                            hops += 1;
                        }
                        _ => break false,
                    }
                }
            };
            if !reaped_in_tree {
                self.lost = self.lost.add(member.counts);
            }
        }
    }

    /// Reads `/proc/PID/stat` of every process but the known outsiders, with the inode of
    /// its `/proc/PID` entry; processes that vanish mid-scan are skipped. Returns the stat
    /// files opened afresh, so new members can keep theirs.
    #[allow(clippy::type_complexity)]
    fn scan(&mut self) -> Result<(Vec<(ProcStat, u64)>, HashMap<i32, File>)> {
        let dir = std::fs::read_dir("/proc").map_err(|e| Error::Collector {
            source_name: "/proc".to_owned(),
            reason: format!("{e}; mount procfs on /proc (`mount -t proc proc /proc`)"),
        })?;
        self.samples_since_rescan += 1;
        let rescan = self.samples_since_rescan >= RESCAN_EVERY;
        if rescan {
            self.samples_since_rescan = 0;
        }
        let mut outsiders = HashMap::with_capacity(self.outsiders.len() + 16);
        let mut out = Vec::with_capacity(self.handles.len() + 64);
        let mut opened = HashMap::new();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let ino = entry.ino();
            if let Some(h) = self.handles.get(&pid) {
                match read_at(&h.stat, &mut self.buf).and_then(parse_stat) {
                    Some(stat) if stat.start == h.start => {
                        out.push((stat, ino));
                        continue;
                    }
                    // Gone, and perhaps its pid already reused: read the entry afresh.
                    _ => {
                        self.handles.remove(&pid);
                    }
                }
            } else if !rescan && ino > 1 && self.outsiders.get(&pid) == Some(&ino) {
                // Same process as last time, and still outside: a process can only join the
                // tree by being born into it.
                outsiders.insert(pid, ino);
                continue;
            }
            let Some(file) = self.open(pid, "stat") else {
                continue;
            };
            if let Some(stat) = read_at(&file, &mut self.buf).and_then(parse_stat) {
                out.push((stat, ino));
                opened.insert(pid, file);
            }
        }
        self.outsiders = outsiders;
        Ok((out, opened))
    }

    fn open(&mut self, pid: i32, file: &str) -> Option<File> {
        use std::fmt::Write as _;
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{file}");
        File::open(&self.path).ok()
    }

    /// `(read_bytes, write_bytes)`, or None when the file is unreadable (the process exited,
    /// belongs to another user, or the kernel lacks task I/O accounting).
    fn read_io(&mut self, pid: i32) -> Option<(u64, u64)> {
        let text = match self.handles.get(&pid).and_then(|h| h.io.as_ref()) {
            Some(file) => read_at(file, &mut self.buf)?,
            None => {
                let file = self.open(pid, "io")?;
                read_at(&file, &mut self.buf)?
            }
        };
        parse_io(text)
    }
}

/// Reads a whole `/proc` file from its start with positioned reads (a kept file is
/// re-generated by the kernel at each read from offset 0). A read that does not fill the
/// buffer has reached the end: these files are produced in one piece.
fn read_at<'b>(file: &File, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    let mut len = 0;
    loop {
        if buf.len() - len < 1024 {
            buf.resize(buf.len() * 2 + 1024, 0);
        }
        let n = file.read_at(&mut buf[len..], len as u64).ok()?;
        let asked = buf.len() - len;
        len += n;
        if n == 0 || n < asked {
            return Some(&buf[..len]);
        }
    }
}

/// The fields of `/proc/PID/stat` the tree needs (proc(5): 1 pid, 3 state, 4 ppid, 14-17
/// utime stime cutime cstime, 22 starttime, 24 rss), read after the last `)` because the
/// command name may hold spaces and parentheses.
///
/// Hand-written rather than procfs's `Stat` parser, which this module's tests check it against:
/// a sample reads this file for every member, and `Stat` allocates and parses 52 fields.
fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    let open = memchr::memchr(b'(', text)?;
    let close = memchr::memrchr(b')', text)?;
    let pid = std::str::from_utf8(text.get(..open)?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let mut f = f.skip(9); // pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    let cutime: i64 = f.next()?.parse().ok()?;
    let cstime: i64 = f.next()?.parse().ok()?;
    let mut f = f.skip(4); // priority nice num_threads itrealvalue
    let start = f.next()?.parse().ok()?;
    let mut f = f.skip(1); // vsize
    let rss: i64 = f.next()?.parse().ok()?;
    let children = (cutime.max(0) as u64).saturating_add(cstime.max(0) as u64);
    Some(ProcStat {
        pid,
        ppid,
        state,
        cpu_ticks: utime.saturating_add(stime).saturating_add(children),
        start,
        rss_pages: rss.max(0) as u64,
    })
}

/// `read_bytes` and `write_bytes` of `/proc/PID/io` (hand-written for the reason of
/// [`parse_stat`]; procfs's `Io` builds a map of every line).
fn parse_io(text: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(text).ok()?;
    let (mut read, mut write) = (None, None);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("read_bytes:") {
            read = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("write_bytes:") {
            write = v.trim().parse().ok();
        }
    }
    Some((read?, write?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procfs_view(text: &str) -> (i32, i32, char, u64, u64, u64) {
        let s = ProcStat::from_stat(&Stat::from_read(text.as_bytes()).unwrap());
        (s.pid, s.ppid, s.state, s.cpu_ticks, s.start, s.rss_pages)
    }

    fn ours(text: &str) -> (i32, i32, char, u64, u64, u64) {
        let s = parse_stat(text.as_bytes()).unwrap();
        (s.pid, s.ppid, s.state, s.cpu_ticks, s.start, s.rss_pages)
    }

    const REAL: &str = "22493 (cat) R 22491 22491 12157 0 -1 4194304 99 0 0 0 3 4 5 6 20 0 1 0 \
        199576 3133440 360 18446744073709551615 94179239976960 94179239996841 140732034878336 \
        0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94179240012848 94179240014464 94179469463552 \
        140732034886369 140732034886389 140732034886389 140732034887659 0\n";

    #[test]
    fn stat_parser_agrees_with_procfs_on_a_real_line() {
        assert_eq!(ours(REAL), (22493, 22491, 'R', 18, 199576, 360));
        assert_eq!(ours(REAL), procfs_view(REAL));
    }

    #[test]
    fn stat_parser_takes_the_last_paren() {
        let line = REAL.replace("(cat)", "(a) b) (c d)");
        assert_eq!(ours(&line), procfs_view(&line));
    }

    #[test]
    fn stat_parser_refuses_truncated_text() {
        for cut in [0, 5, 12, 40, 80] {
            assert!(
                parse_stat(&REAL.as_bytes()[..cut]).is_none(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn io_parser_reads_storage_bytes() {
        let io = "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io(io.as_bytes()), Some((4096, 8192)));
        assert_eq!(parse_io(b"rchar: 1\n"), None);
    }

    proptest::proptest! {
        #[test]
        fn stat_parser_agrees_with_procfs_on_any_comm_and_counts(
            comm in "[^\n]{0,16}",
            ppid in 0i32..i32::MAX,
            utime: u32, stime: u32,
            cutime in 0i64..(1 << 40), cstime in 0i64..(1 << 40),
            start: u64, rss in 0u64..(1 << 40),
        ) {
            let line = format!(
                "77 ({comm}) S {ppid} 1 1 0 -1 4194560 10 0 0 0 {utime} {stime} {cutime} {cstime} \
                 20 0 1 0 {start} 1000 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 \
                 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            );
            proptest::prop_assert_eq!(ours(&line), procfs_view(&line));
        }

        #[test]
        fn stat_and_io_parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_stat(&bytes);
            let _ = parse_io(&bytes);
        }
    }
}
