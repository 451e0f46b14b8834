//! Finding the tree: listing `/proc`, skipping known outsiders, and walking parent pids
//! from the root.

use std::fs::File;
use std::os::unix::fs::DirEntryExt;
use std::time::Instant;

use super::read::{parse_stat, read_at, ProcStat, Sched};
use super::{Map, ProcessTreeSampler};
use crate::error::{Error, Result};

/// Every this many samples, a process known to be outside the tree is read again, in case a
/// race (a process started during a scan) classified it wrongly. They take turns by pid, so
/// no sample reads all of them.
pub(super) const RESCAN_EVERY: u32 = 16;

/// How a process was read in this sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
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
pub(super) struct Found {
    pub(super) stat: ProcStat,
    /// The inode of its `/proc/PID` entry.
    pub(super) ino: u64,
    pub(super) how: How,
}

impl ProcessTreeSampler {
    /// Reads every process in `/proc` but the known outsiders: `stat` (with the inode of its
    /// `/proc/PID` entry), or for a kept member `schedstat` first and `stat` only when its last
    /// full reading may not hold. Processes that vanish mid-scan are skipped. Returns the
    /// processes, their index by pid, and the stat files opened afresh, so new members can
    /// keep theirs.
    #[allow(clippy::type_complexity)]
    pub(super) fn scan(
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

    /// The tree, breadth-first from the root (parents before their children), each member
    /// with its parent's index in `all`; and whether each process of `all` is in it. A
    /// process is visited once even if /proc changed under us.
    pub(super) fn walk(
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
}
