//! A build's process tree: a root pid and all its descendants, found afresh at every sample
//! from the parent pid of every process in `/proc`.
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
//!
//! ## What a sample reads
//!
//! Every sample lists `/proc`: that is how new members, and members reparented out of the
//! tree, are found. A process found outside the tree is read once and then skipped while its
//! `/proc/PID` entry keeps the same inode (a process can only join the tree by being born into
//! it); each is read again every [`RESCAN_EVERY`] samples (a sixteenth of them at each
//! sample), in case a race (a process started during a scan) classified one wrongly. Each
//! process is read at its own moment: a sample is not one atomic snapshot of the tree.
//!
//! A member's full reading is its `/proc/PID/stat` (CPU time, state, parent, start time,
//! threads) and `/proc/PID/io`. Most members of a build sleep most of the time (a `make`
//! waiting for its compilers), and for them a cheaper reading is just as exact:
//! `/proc/PID/schedstat`, three numbers (time on a CPU, time waiting for one, times switched
//! in) of which at least one moves whenever the process runs. A member keeps its last full
//! reading when all of these hold:
//!
//! - that reading found one thread (`num_threads`) and a process not running (state other
//!   than `R`);
//! - `schedstat` shows the same numbers as just before that reading, has shown them for at
//!   least [`TICK_BOUND`], and counts at least one switch (kernels with the accounting
//!   switched off show `0 0 0`);
//! - its parent at that reading is in this sample, the same process (pid and start time), and
//!   has not exited. The root, whose parent is outside the tree and not read, always gets a
//!   full reading.
//!
//! Why that is exact: a process that ran since the reading was switched in (the count moved),
//! or was switched out (its time on a CPU was brought up to date), or has been on a CPU all
//! along, which it was not at the reading, and which the scheduler tick would have shown
//! within [`TICK_BOUND`] anyway. And every value of the full reading changes only while the
//! process runs:
//!
//! - `utime` and `stime` accrue only while it runs;
//! - `cutime` and `cstime` grow only in a `wait4` that reaps a child, which a single-threaded
//!   process runs itself;
//! - `/proc/PID/io` counts are charged to the task doing the I/O (submitting the read,
//!   dirtying the page);
//! - exiting and stopping run in the task (`do_exit`, signal delivery), so its state does not
//!   change while it is off a CPU;
//! - a single-threaded process cannot create a thread without running (`clone`), and one that
//!   has several is always read in full: any thread but the leader runs unseen by the
//!   leader's `schedstat`;
//! - its parent pid changes without it running only when the parent exits and it is
//!   reparented: hence the parent condition.
//!
//! RSS can change while a process sleeps (the kernel reclaims its pages, a `vfork` child
//! shares its memory), so it is read at every sample, from `/proc/PID/statm`, which is
//! cheaper than `stat`. Full readings take it from `statm` too: on recent kernels the `rss`
//! of `stat` is the kernel's per-CPU counter read without its per-CPU parts, some pages behind
//! `statm` (which psutil reads) and `VmRSS` in `/proc/PID/status`, and the two kinds of
//! reading must not disagree.
//!
//! A kernel without `CONFIG_SCHED_INFO` has no `schedstat` file: the sampler then takes full
//! readings of every member at every sample.

use std::fs::File;
use std::os::unix::fs::{DirEntryExt, FileExt};
use std::time::{Duration, Instant};

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

/// Maps keyed by pids and start times, which the kernel picks (no one can choose keys that
/// collide): hashed with FxHash (the `rustc-hash` crate) rather than SipHash, which was about
/// 4% of a sample in `perf`.
type Map<K, V> = rustc_hash::FxHashMap<K, V>;
type Set<K> = rustc_hash::FxHashSet<K>;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    pid: i32,
    ppid: i32,
    state: char,
    cpu_ticks: u64,
    num_threads: i64,
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
            num_threads: s.num_threads,
            start: s.starttime,
            rss_pages: s.rss,
        }
    }

    fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// `/proc/PID/schedstat`: nanoseconds on a CPU, nanoseconds waiting on a run queue, and how
/// many times the task was switched in. Any of them moves when the task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sched {
    on_cpu_ns: u64,
    wait_ns: u64,
    switched_in: u64,
}

/// A kept member's last full reading, and what it takes to reuse it.
#[derive(Debug, Clone, Copy)]
struct Reading {
    stat: ProcStat,
    /// `(read_bytes, write_bytes)`, None when `/proc/PID/io` was unreadable.
    io: Option<(u64, u64)>,
    /// `schedstat`, read before `stat` and `io`.
    sched: Sched,
    /// A moment after `schedstat` was first read with these numbers: they have held since.
    at: Instant,
    /// The start time of the parent (`stat.ppid`) in that sample; None for the root.
    parent_start: Option<u64>,
}

impl Reading {
    /// The conditions on the member alone (see the module docs); the parent is checked once
    /// the whole of `/proc` is read.
    fn may_hold(&self, sched: Sched, sample_start: Instant) -> bool {
        self.stat.num_threads == 1
            && self.stat.state != 'R'
            && self.parent_start.is_some()
            && sched == self.sched
            && sched.switched_in > 0
            && sample_start.saturating_duration_since(self.at) >= TICK_BOUND
    }
}

/// Watches one build's process tree. Create it with the build's root pid, then call
/// [`ProcessTreeSampler::sample`] at each tick.
///
/// To keep a sample cheap, the sampler keeps `/proc/PID/{stat,io,schedstat,statm}` of up to
/// 256 members open (4 file descriptors each, so up to 1024) and re-reads them in place, and a
/// member that has not run since its last full reading is read from `schedstat` and `statm`
/// only (see the module docs for why that is exact). It never uses more than half of the
/// process's soft limit on open files (`ulimit -n`, read when the sampler is created): under
/// the common default of 1024, 128 members keep their files. Members beyond that are opened,
/// read and closed at every sample. Dropping the sampler closes the files.
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
    /// Whether this kernel has `/proc/PID/schedstat` (checked on the root).
    schedstat: bool,
    /// How many members may keep their files open.
    max_handles: usize,
    members: Map<Key, Member>,
    /// The last sample's tree, breadth-first (parents before their children).
    order: Vec<i32>,
    lost: Counts,
    reported: Counts,
    peak_rss_bytes: u64,
    /// Open `/proc` files of members, re-read in place at every sample.
    handles: Map<i32, Handles>,
    /// Processes known to be outside the tree, by pid, with the inode of their `/proc/PID`.
    outsiders: Map<i32, u64>,
    /// Samples taken, wrapping: whose turn it is to be re-read among the outsiders.
    samples: u32,
    path: String,
    buf: Vec<u8>,
    /// The members whose last full reading held in the last sample.
    #[cfg(test)]
    unchanged: Set<i32>,
}

/// A member's open `/proc` files. A file opened on one process never reads another one's
/// data: once the process is gone, reads fail, even if its pid is reused.
#[derive(Debug)]
struct Handles {
    start: u64,
    stat: File,
    io: Option<File>,
    schedstat: Option<File>,
    statm: Option<File>,
    /// Its last full reading through these files (`schedstat` first), once it has one.
    last: Option<Reading>,
}

/// At most this many members keep their `/proc` files open (four descriptors each); members
/// beyond it are opened and closed at every sample.
const MAX_HANDLES: usize = 256;

/// Kept files per member.
const FILES_PER_MEMBER: u64 = 4;

/// Every this many samples, a process known to be outside the tree is read again, in case a
/// race (a process started during a scan) classified it wrongly. They take turns by pid, so
/// no sample reads all of them.
const RESCAN_EVERY: u32 = 16;

/// The scheduler tick brings a running task's time on a CPU up to date at least this often
/// (HZ is 100 or more), so numbers `schedstat` has shown for this long do not hide a task that
/// has been running all along. (A `nohz_full` CPU with one task ticks less often: there, the
/// condition that the task was not running at the reading is what counts.)
const TICK_BOUND: Duration = Duration::from_millis(10);

/// How a process was read in this sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// `stat` read just now (through a file opened afresh, or a kept one without
    /// `schedstat`); `io` and `statm` are read afterwards, if it is a member.
    Stat,
    /// A kept member's full reading: `schedstat` then `stat` just now, then `io` and `statm`
    /// afterwards.
    Full(Sched),
    /// A kept member whose `schedstat` matches its last full reading (held in `stat`), its
    /// parent not checked yet.
    Pending(Sched),
    /// A kept member whose last full reading still holds; RSS read from `statm` just now.
    Unchanged,
    /// Exited after the listing of `/proc`.
    Gone,
}

/// One process of this sample.
#[derive(Debug, Clone, Copy)]
struct Found {
    stat: ProcStat,
    /// The inode of its `/proc/PID` entry.
    ino: u64,
    how: How,
}

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
        let schedstat = File::open(format!("/proc/{root_pid}/schedstat")).is_ok();
        Ok(ProcessTreeSampler {
            root_pid,
            root_start: stat.starttime,
            ticks_per_second: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size(),
            schedstat,
            max_handles: max_handles(),
            members: Map::default(),
            order: Vec::new(),
            lost: Counts::default(),
            reported: Counts::default(),
            peak_rss_bytes: 0,
            handles: Map::default(),
            outsiders: Map::default(),
            samples: 0,
            path: String::with_capacity(32),
            buf: vec![0; 4096],
            #[cfg(test)]
            unchanged: Set::default(),
        })
    }

    /// The pid this sampler watches.
    pub fn root_pid(&self) -> i32 {
        self.root_pid
    }

    /// Finds the tree afresh and reads its members. Processes that exit while being read are
    /// skipped (their last values stay counted); only an unreadable `/proc` is an error.
    pub fn sample(&mut self) -> Result<ProcessTreeSample> {
        let sample_start = Instant::now();
        let (mut all, index, mut opened) = self.scan(sample_start)?;
        let scanned_at = Instant::now();
        self.settle(&mut all, &index);
        #[cfg(test)]
        {
            self.unchanged = all
                .iter()
                .filter(|p| p.how == How::Unchanged)
                .map(|p| p.stat.pid)
                .collect();
        }

        let (tree, in_tree) = self.walk(&all, &index);
        let root = tree.first().map(|&(r, _)| r);

        // Processes read this time that are not in the tree will not be read again (until
        // their turn to be re-read) while their /proc entry stays the same.
        for (p, &member) in all.iter().zip(&in_tree) {
            if p.how != How::Gone && !member {
                self.outsiders.insert(p.stat.pid, p.ino);
            }
        }
        self.handles
            .retain(|pid, _| index.get(pid).is_some_and(|&i| in_tree[i]));

        let mut current: Map<Key, Member> =
            Map::with_capacity_and_hasher(tree.len(), Default::default());
        let mut rss_pages: u64 = 0;
        let mut processes: u32 = 0;
        for &(i, parent) in &tree {
            let Found { stat: p, how, .. } = all[i];
            let key = (p.pid, p.start);
            let prev = self.members.get(&key).map(|m| m.counts).unwrap_or_default();
            if !self.handles.contains_key(&p.pid) && self.handles.len() < self.max_handles {
                if let Some(stat) = opened.remove(&p.pid) {
                    let handles = self.open_handles(p.pid, p.start, stat);
                    self.handles.insert(p.pid, handles);
                }
            }
            let io = match how {
                How::Unchanged => self
                    .handles
                    .get(&p.pid)
                    .and_then(|h| h.last)
                    .and_then(|r| r.io),
                _ => self.read_io(p.pid),
            };
            if let How::Full(sched) = how {
                if let Some(h) = self.handles.get_mut(&p.pid) {
                    // `schedstat` has shown these numbers since the first time it was read
                    // with them, so the reading's age counts from then.
                    let at = h
                        .last
                        .filter(|r| r.sched == sched)
                        .map_or(scanned_at, |r| r.at);
                    h.last = Some(Reading {
                        stat: p,
                        io,
                        sched,
                        at,
                        parent_start: parent.map(|j| all[j].stat.start),
                    });
                }
            }
            let (read_bytes, write_bytes) = io.unwrap_or((0, 0));
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
                let resident = match how {
                    How::Unchanged => p.rss_pages, // from statm, just now
                    _ => self.read_statm(p.pid).unwrap_or(p.rss_pages),
                };
                processes = processes.saturating_add(1);
                rss_pages = rss_pages.saturating_add(resident);
            }
        }
        self.order.clear();
        self.order
            .extend(tree.iter().map(|&(i, _)| all[i].stat.pid));

        let still_running = |&(pid, start): &Key| {
            index
                .get(&pid)
                .is_some_and(|&i| all[i].how != How::Gone && all[i].stat.start == start)
        };
        self.account_vanished(&current, still_running);
        self.members = current;

        let live = self
            .members
            .values()
            .fold(Counts::default(), |acc, m| acc.add(m.counts));
        self.reported = self.lost.add(live).max(self.reported);
        let rss_bytes = rss_pages.saturating_mul(self.page_size);
        self.peak_rss_bytes = self.peak_rss_bytes.max(rss_bytes);
        let root_alive = root.is_some_and(|r| !all[r].stat.is_dead());

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

    /// The tree, breadth-first from the root (parents before their children), each member
    /// with its parent's index in `all`; and whether each process of `all` is in it. A
    /// process is visited once even if /proc changed under us.
    fn walk(
        &self,
        all: &[Found],
        index: &Map<i32, usize>,
    ) -> (Vec<(usize, Option<usize>)>, Vec<bool>) {
        let is_root = |p: &Found| p.stat.pid == self.root_pid && p.stat.start == self.root_start;
        // Sorted by parent pid, so the children of a process are one run.
        let mut by_parent: Vec<(i32, usize)> = all
            .iter()
            .enumerate()
            .filter(|(_, p)| p.how != How::Gone && !is_root(p))
            .map(|(i, p)| (p.stat.ppid, i))
            .collect();
        by_parent.sort_unstable();
        let mut in_tree = vec![false; all.len()];
        let mut tree = Vec::with_capacity(self.order.len() + 16);
        if let Some(&r) = index
            .get(&self.root_pid)
            .filter(|&&r| all[r].how != How::Gone && is_root(&all[r]))
        {
            in_tree[r] = true;
            tree.push((r, None));
        }
        let mut next = 0;
        while next < tree.len() {
            let parent = tree[next].0;
            next += 1;
            let pid = all[parent].stat.pid;
            let first = by_parent.partition_point(|&(ppid, _)| ppid < pid);
            for &(ppid, k) in &by_parent[first..] {
                if ppid != pid {
                    break;
                }
                if !in_tree[k] {
                    in_tree[k] = true;
                    tree.push((k, Some(parent)));
                }
            }
        }
        (tree, in_tree)
    }

    /// Moves the last values of members that left the tree into `lost`, unless a live member
    /// reaped them and so carries their counts already.
    fn account_vanished(
        &mut self,
        current: &Map<Key, Member>,
        still_running: impl Fn(&Key) -> bool,
    ) {
        let vanished: Vec<(&Key, &Member)> = self
            .members
            .iter()
            .filter(|(key, _)| !current.contains_key(key))
            .collect();
        if vanished.is_empty() {
            return;
        }
        let live_pids: Set<i32> = current.keys().map(|k| k.0).collect();
        let prev_by_pid: Map<i32, &Member> = self.members.iter().map(|(k, m)| (k.0, m)).collect();
        let mut lost = self.lost;
        for (key, member) in vanished {
            // Still running but no longer a descendant (orphaned and reparented): nobody in
            // the tree will ever collect its counts.
            let reaped_in_tree = !still_running(key) && {
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
                lost = lost.add(member.counts);
            }
        }
        self.lost = lost;
    }

    /// Reads every process in `/proc` but the known outsiders: `stat` (with the inode of its
    /// `/proc/PID` entry), or for a kept member `schedstat` first and `stat` only when its last
    /// full reading may not hold. Processes that vanish mid-scan are skipped. Returns the
    /// processes, their index by pid, and the stat files opened afresh, so new members can
    /// keep theirs.
    #[allow(clippy::type_complexity)]
    fn scan(
        &mut self,
        sample_start: Instant,
    ) -> Result<(Vec<Found>, Map<i32, usize>, Map<i32, File>)> {
        let dir = std::fs::read_dir("/proc").map_err(|e| Error::Collector {
            source_name: "/proc".to_owned(),
            reason: format!("{e}; mount procfs on /proc (`mount -t proc proc /proc`)"),
        })?;
        self.samples = self.samples.wrapping_add(1);
        let capacity = self.outsiders.len() + self.handles.len() + 64;
        let mut outsiders =
            Map::with_capacity_and_hasher(self.outsiders.len() + 16, Default::default());
        let mut out = Vec::with_capacity(capacity);
        let mut index = Map::with_capacity_and_hasher(capacity, Default::default());
        let mut opened = Map::default();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if index.contains_key(&pid) {
                continue; // listed twice (/proc lists pids in increasing order: not expected)
            }
            let ino = entry.ino();
            // Each outsider is re-read at one sample in RESCAN_EVERY, in turn, so that no
            // sample pays for all of them.
            let rescan = (pid as u32)
                .wrapping_add(self.samples)
                .is_multiple_of(RESCAN_EVERY);
            if self.handles.contains_key(&pid) {
                if let Some((stat, how)) = self.read_kept(pid, sample_start) {
                    index.insert(pid, out.len());
                    out.push(Found { stat, ino, how });
                    continue;
                }
                // Gone, and perhaps its pid already reused: read the entry afresh.
                self.handles.remove(&pid);
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
                index.insert(pid, out.len());
                out.push(Found {
                    stat,
                    ino,
                    how: How::Stat,
                });
                opened.insert(pid, file);
            }
        }
        self.outsiders = outsiders;
        Ok((out, index, opened))
    }

    /// Reads a kept member: `schedstat`, then `stat` unless its last full reading may hold
    /// (then that reading, [`How::Pending`]). None when the process is gone.
    fn read_kept(&mut self, pid: i32, sample_start: Instant) -> Option<(ProcStat, How)> {
        let h = self.handles.get(&pid)?;
        let sched = match &h.schedstat {
            // A kept file fails once its process is gone; text we cannot parse only costs
            // the shortcut.
            Some(file) => parse_schedstat(read_at(file, &mut self.buf)?),
            None => None,
        };
        if let (Some(sched), Some(last)) = (sched, h.last) {
            if h.statm.is_some() && last.may_hold(sched, sample_start) {
                return Some((last.stat, How::Pending(sched)));
            }
        }
        let stat = read_at(&h.stat, &mut self.buf)
            .and_then(parse_stat)
            .filter(|s| s.start == h.start)?;
        Some((stat, sched.map_or(How::Stat, How::Full)))
    }

    /// Decides the pending members, parents first (in the last sample's breadth-first order,
    /// then any other, which none is expected to be): a member whose parent is the same live
    /// process as at its last full reading keeps that reading, with RSS from `statm`; the
    /// others get a full reading now.
    fn settle(&mut self, all: &mut [Found], index: &Map<i32, usize>) {
        let order = std::mem::take(&mut self.order);
        for pid in &order {
            if let Some(&i) = index.get(pid) {
                self.settle_one(all, index, i);
            }
        }
        self.order = order;
        for i in 0..all.len() {
            self.settle_one(all, index, i);
        }
    }

    fn settle_one(&mut self, all: &mut [Found], index: &Map<i32, usize>, i: usize) {
        let How::Pending(sched) = all[i].how else {
            return;
        };
        let pid = all[i].stat.pid;
        let Some(h) = self.handles.get(&pid) else {
            all[i].how = How::Gone;
            return;
        };
        let parent_holds = h.last.and_then(|r| r.parent_start).is_some_and(|start| {
            index.get(&all[i].stat.ppid).is_some_and(|&j| {
                let parent = &all[j];
                matches!(parent.how, How::Stat | How::Full(_) | How::Unchanged)
                    && parent.stat.start == start
                    && !parent.stat.is_dead()
            })
        });
        // A kept file fails once its process is gone; text we cannot parse only costs the
        // shortcut.
        let resident = match (&h.statm, parent_holds) {
            (Some(file), true) => Some(read_at(file, &mut self.buf).map(parse_statm)),
            _ => None,
        };
        let now = match resident {
            Some(Some(Some(pages))) => Some((
                ProcStat {
                    rss_pages: pages,
                    ..all[i].stat
                },
                How::Unchanged,
            )),
            Some(None) => None,
            _ => read_at(&h.stat, &mut self.buf)
                .and_then(parse_stat)
                .filter(|s| s.start == h.start)
                .map(|s| (s, How::Full(sched))),
        };
        match now {
            Some((stat, how)) => {
                all[i].stat = stat;
                all[i].how = how;
            }
            // Exited since the listing: as if it had before it (a new process on its pid is
            // found at the next sample, like any process started after the listing).
            None => {
                all[i].how = How::Gone;
                self.handles.remove(&pid);
            }
        }
    }

    /// Keeps a new member's files: the `stat` file the scan opened, and the others.
    fn open_handles(&mut self, pid: i32, start: u64, stat: File) -> Handles {
        let io = self.open(pid, "io");
        let statm = self.open(pid, "statm");
        let schedstat = self
            .schedstat
            .then(|| self.open(pid, "schedstat"))
            .flatten();
        Handles {
            start,
            stat,
            io,
            schedstat,
            statm,
            last: None,
        }
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
        self.read_member(pid, "io", |h| h.io.as_ref(), parse_io)
    }

    /// Resident pages, or None when the process exited.
    fn read_statm(&mut self, pid: i32) -> Option<u64> {
        self.read_member(pid, "statm", |h| h.statm.as_ref(), parse_statm)
    }

    /// Reads `/proc/PID/<name>` through the member's kept file, or a file opened afresh.
    fn read_member<T>(
        &mut self,
        pid: i32,
        name: &str,
        kept: fn(&Handles) -> Option<&File>,
        parse: fn(&[u8]) -> Option<T>,
    ) -> Option<T> {
        if let Some(file) = self.handles.get(&pid).and_then(kept) {
            return parse(read_at(file, &mut self.buf)?);
        }
        let file = self.open(pid, name)?;
        parse(read_at(&file, &mut self.buf)?)
    }
}

/// How many members may keep their files open: [`MAX_HANDLES`], or fewer so that they take at
/// most half of this process's soft limit on open files (the host needs the rest).
fn max_handles() -> usize {
    let soft = procfs::process::Process::myself()
        .and_then(|p| p.limits())
        .map(|l| l.max_open_files.soft_limit);
    match soft {
        Ok(procfs::process::LimitValue::Value(n)) => {
            usize::try_from(n / 2 / FILES_PER_MEMBER).map_or(MAX_HANDLES, |m| m.min(MAX_HANDLES))
        }
        Ok(procfs::process::LimitValue::Unlimited) => MAX_HANDLES,
        // Unknown: assume the common default of 1024.
        Err(_) => (1024 / 2 / FILES_PER_MEMBER) as usize,
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
/// utime stime cutime cstime, 20 num_threads, 22 starttime, 24 rss), read after the last `)`
/// because the command name may hold spaces and parentheses.
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
    let mut f = f.skip(2); // priority nice
    let num_threads = f.next()?.parse().ok()?;
    let mut f = f.skip(1); // itrealvalue
    let start = f.next()?.parse().ok()?;
    let mut f = f.skip(1); // vsize
    let rss: i64 = f.next()?.parse().ok()?;
    let children = (cutime.max(0) as u64).saturating_add(cstime.max(0) as u64);
    Some(ProcStat {
        pid,
        ppid,
        state,
        cpu_ticks: utime.saturating_add(stime).saturating_add(children),
        num_threads,
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

/// The three numbers of `/proc/PID/schedstat` (hand-written for the reason of [`parse_stat`]:
/// it is read for every kept member at every sample).
fn parse_schedstat(text: &[u8]) -> Option<Sched> {
    let mut f = std::str::from_utf8(text).ok()?.split_ascii_whitespace();
    Some(Sched {
        on_cpu_ns: f.next()?.parse().ok()?,
        wait_ns: f.next()?.parse().ok()?,
        switched_in: f.next()?.parse().ok()?,
    })
}

/// The resident pages of `/proc/PID/statm` (its second field; the same count as `rss` in
/// `stat`).
fn parse_statm(text: &[u8]) -> Option<u64> {
    let mut f = std::str::from_utf8(text).ok()?.split_ascii_whitespace();
    let _size: u64 = f.next()?.parse().ok()?;
    f.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procfs_view(text: &str) -> (i32, i32, char, u64, i64, u64, u64) {
        let s = ProcStat::from_stat(&Stat::from_read(text.as_bytes()).unwrap());
        (
            s.pid,
            s.ppid,
            s.state,
            s.cpu_ticks,
            s.num_threads,
            s.start,
            s.rss_pages,
        )
    }

    fn ours(text: &str) -> (i32, i32, char, u64, i64, u64, u64) {
        let s = parse_stat(text.as_bytes()).unwrap();
        (
            s.pid,
            s.ppid,
            s.state,
            s.cpu_ticks,
            s.num_threads,
            s.start,
            s.rss_pages,
        )
    }

    const REAL: &str = "22493 (cat) R 22491 22491 12157 0 -1 4194304 99 0 0 0 3 4 5 6 20 0 1 0 \
        199576 3133440 360 18446744073709551615 94179239976960 94179239996841 140732034878336 \
        0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94179240012848 94179240014464 94179469463552 \
        140732034886369 140732034886389 140732034886389 140732034887659 0\n";

    #[test]
    fn stat_parser_agrees_with_procfs_on_a_real_line() {
        assert_eq!(ours(REAL), (22493, 22491, 'R', 18, 1, 199576, 360));
        assert_eq!(ours(REAL), procfs_view(REAL));
        let threaded = REAL.replace(" 20 0 1 0 ", " 20 0 7 0 ");
        assert_eq!(ours(&threaded).4, 7);
        assert_eq!(ours(&threaded), procfs_view(&threaded));
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

    #[test]
    fn schedstat_and_statm_parsers_agree_with_procfs_on_real_files() {
        let sched = "1046218563 27375474 1932\n";
        let theirs = procfs::process::Schedstat::from_read(sched.as_bytes()).unwrap();
        assert_eq!(
            parse_schedstat(sched.as_bytes()),
            Some(Sched {
                on_cpu_ns: theirs.sum_exec_runtime,
                wait_ns: theirs.run_delay,
                switched_in: theirs.pcount,
            })
        );
        assert_eq!(theirs.pcount, 1932);
        let statm = "2406 360 330 5 0 115 0\n";
        let theirs = procfs::process::StatM::from_read(statm.as_bytes()).unwrap();
        assert_eq!(parse_statm(statm.as_bytes()), Some(theirs.resident));
        assert_eq!(theirs.resident, 360);
    }

    #[test]
    fn schedstat_and_statm_parsers_refuse_short_or_foreign_text() {
        for bad in ["", "\n", "12 34", "12 34 x", "-1 2 3", "a b c"] {
            assert_eq!(parse_schedstat(bad.as_bytes()), None, "{bad:?}");
        }
        for bad in ["", "2406", "2406 x", "x 360", "2406 -3"] {
            assert_eq!(parse_statm(bad.as_bytes()), None, "{bad:?}");
        }
    }

    /// This test process's own files parse: the parsers fit the running kernel, and `statm`
    /// resident pages are `stat` rss.
    #[test]
    fn the_running_kernel_files_parse() {
        let me = std::process::id();
        let stat = std::fs::read(format!("/proc/{me}/stat")).unwrap();
        let stat = parse_stat(&stat).unwrap();
        assert_eq!(stat.pid, me as i32);
        assert!(stat.num_threads >= 1);
        let statm = std::fs::read(format!("/proc/{me}/statm")).unwrap();
        let resident = parse_statm(&statm).unwrap();
        // RSS moves as the test harness allocates: within 1024 pages (4 MiB) of each other.
        assert!(
            resident.abs_diff(stat.rss_pages) < 1024,
            "{resident} vs {stat:?}"
        );
        if let Ok(text) = std::fs::read(format!("/proc/{me}/schedstat")) {
            let sched = parse_schedstat(&text).unwrap();
            assert!(sched.switched_in >= 1, "{sched:?}");
        }
    }

    #[test]
    fn a_reading_holds_only_under_all_its_conditions() {
        let sched = Sched {
            on_cpu_ns: 5_000_000,
            wait_ns: 100,
            switched_in: 7,
        };
        let at = Instant::now();
        let reading = Reading {
            stat: parse_stat(REAL.replace(") R ", ") S ").as_bytes()).unwrap(),
            io: Some((0, 0)),
            sched,
            at,
            parent_start: Some(1),
        };
        let later = at + TICK_BOUND;
        assert!(reading.may_hold(sched, later));
        assert!(!reading.may_hold(sched, at), "too recent");
        let moved = |f: fn(&mut Sched)| {
            let mut s = sched;
            f(&mut s);
            s
        };
        assert!(!reading.may_hold(moved(|s| s.on_cpu_ns += 1), later));
        assert!(!reading.may_hold(moved(|s| s.wait_ns += 1), later));
        assert!(!reading.may_hold(moved(|s| s.switched_in += 1), later));
        let off = Sched {
            on_cpu_ns: 0,
            wait_ns: 0,
            switched_in: 0,
        };
        assert!(
            !Reading {
                sched: off,
                ..reading
            }
            .may_hold(off, later),
            "0 0 0"
        );
        let with = |f: fn(&mut ProcStat)| {
            let mut r = reading;
            f(&mut r.stat);
            r
        };
        assert!(!with(|s| s.num_threads = 2).may_hold(sched, later));
        assert!(!with(|s| s.state = 'R').may_hold(sched, later));
        assert!(with(|s| s.state = 'Z').may_hold(sched, later));
        let root = Reading {
            parent_start: None,
            ..reading
        };
        assert!(!root.may_hold(sched, later));
    }

    proptest::proptest! {
        #[test]
        fn stat_parser_agrees_with_procfs_on_any_comm_and_counts(
            comm in "[^\n]{0,16}",
            ppid in 0i32..i32::MAX,
            utime: u32, stime: u32,
            cutime in 0i64..(1 << 40), cstime in 0i64..(1 << 40),
            threads in 1i64..100_000,
            start: u64, rss in 0u64..(1 << 40),
        ) {
            let line = format!(
                "77 ({comm}) S {ppid} 1 1 0 -1 4194560 10 0 0 0 {utime} {stime} {cutime} {cstime} \
                 20 0 {threads} 0 {start} 1000 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 \
                 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            );
            proptest::prop_assert_eq!(ours(&line), procfs_view(&line));
        }

        #[test]
        fn schedstat_and_statm_parsers_agree_with_procfs_on_any_numbers(
            on_cpu: u64, wait: u64, slices: u64,
            size: u64, resident: u64, rest in proptest::collection::vec(0u64..(1 << 40), 5),
        ) {
            let sched = format!("{on_cpu} {wait} {slices}\n");
            let theirs = procfs::process::Schedstat::from_read(sched.as_bytes()).unwrap();
            proptest::prop_assert_eq!(
                parse_schedstat(sched.as_bytes()),
                Some(Sched { on_cpu_ns: theirs.sum_exec_runtime, wait_ns: theirs.run_delay, switched_in: theirs.pcount })
            );
            let rest: Vec<String> = rest.iter().map(u64::to_string).collect();
            let statm = format!("{size} {resident} {}\n", rest.join(" "));
            let theirs = procfs::process::StatM::from_read(statm.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parse_statm(statm.as_bytes()), Some(theirs.resident));
        }

        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_stat(&bytes);
            let _ = parse_io(&bytes);
            let _ = parse_schedstat(&bytes);
            let _ = parse_statm(&bytes);
        }
    }
}

/// The shortcut on real process trees: it must give what full readings give, and fall back
/// to them whenever a process ran, has threads, or lost its parent.
#[cfg(test)]
mod live {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};

    use super::*;

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
                            let _ =
                                rustix::process::kill_process(pid, rustix::process::Signal::KILL);
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
}
