//! The sampler: its state between samples, and one sample's phases in order.

use std::fs::File;
use std::time::Instant;

use super::account::{Counts, Member};
use super::discover::{Found, How};
use super::reuse::{max_handles, Handles, Reading};
#[cfg(test)]
use super::Set;
use super::{Key, Map, ProcessTreeSample};
use crate::error::{Error, Result};

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
    pub(super) root_pid: i32,
    pub(super) root_start: u64,
    ticks_per_second: u64,
    page_size: u64,
    /// Whether this kernel has `/proc/PID/schedstat` (checked on the root).
    pub(super) schedstat: bool,
    /// How many members may keep their files open.
    max_handles: usize,
    pub(super) members: Map<Key, Member>,
    /// The last sample's tree, breadth-first (parents before their children).
    pub(super) order: Vec<i32>,
    pub(super) lost: Counts,
    reported: Counts,
    peak_rss_bytes: u64,
    /// Open `/proc` files of members, re-read in place at every sample.
    pub(super) handles: Map<i32, Handles>,
    /// Processes known to be outside the tree, by pid, with the inode of their `/proc/PID`.
    pub(super) outsiders: Map<i32, u64>,
    /// Samples taken, wrapping: whose turn it is to be re-read among the outsiders.
    pub(super) samples: u32,
    pub(super) path: String,
    pub(super) buf: Vec<u8>,
    /// The members whose last full reading held in the last sample.
    #[cfg(test)]
    pub(super) unchanged: Set<i32>,
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
}
