//! Reusing a sleeping member's last full reading: the files each member keeps open, the
//! conditions under which a reading still holds, and the check of its parent once all of
//! `/proc` is read (why this is exact is in the [module docs](super)).

use std::fs::File;
use std::time::{Duration, Instant};

use super::discover::{Found, How};
use super::read::{parse_schedstat, parse_stat, parse_statm, read_at, ProcStat, Sched};
use super::{Map, ProcessTreeSampler};

/// The scheduler tick brings a running task's time on a CPU up to date at least this often
/// (HZ is 100 or more), so numbers `schedstat` has shown for this long do not hide a task that
/// has been running all along. (A `nohz_full` CPU with one task ticks less often: there, the
/// condition that the task was not running at the reading is what counts.)
pub(super) const TICK_BOUND: Duration = Duration::from_millis(10);

/// At most this many members keep their `/proc` files open (four descriptors each); members
/// beyond it are opened and closed at every sample.
const MAX_HANDLES: usize = 256;

/// Kept files per member.
const FILES_PER_MEMBER: u64 = 4;

/// A kept member's last full reading, and what it takes to reuse it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    pub(super) stat: ProcStat,
    /// `(read_bytes, write_bytes)`, None when `/proc/PID/io` was unreadable.
    pub(super) io: Option<(u64, u64)>,
    /// `schedstat`, read before `stat` and `io`.
    pub(super) sched: Sched,
    /// A moment after `schedstat` was first read with these numbers: they have held since.
    pub(super) at: Instant,
    /// The start time of the parent (`stat.ppid`) in that sample; None for the root.
    pub(super) parent_start: Option<u64>,
}

impl Reading {
    /// The conditions on the member alone (see the [module docs](super)); the parent is
    /// checked once the whole of `/proc` is read.
    fn may_hold(&self, sched: Sched, sample_start: Instant) -> bool {
        self.stat.num_threads == 1
            && self.stat.state != 'R'
            && self.parent_start.is_some()
            && sched == self.sched
            && sched.switched_in > 0
            && sample_start.saturating_duration_since(self.at) >= TICK_BOUND
    }
}

/// A member's open `/proc` files. A file opened on one process never reads another one's
/// data: once the process is gone, reads fail, even if its pid is reused.
#[derive(Debug)]
pub(super) struct Handles {
    pub(super) start: u64,
    pub(super) stat: File,
    pub(super) io: Option<File>,
    pub(super) schedstat: Option<File>,
    pub(super) statm: Option<File>,
    /// Its last full reading through these files (`schedstat` first), once it has one.
    pub(super) last: Option<Reading>,
}

impl ProcessTreeSampler {
    /// Reads a kept member: `schedstat`, then `stat` unless its last full reading may hold
    /// (then that reading, [`How::Pending`]). None when the process is gone.
    pub(super) fn read_kept(&mut self, pid: i32, sample_start: Instant) -> Option<(ProcStat, How)> {
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
    pub(super) fn settle(&mut self, all: &mut [Found], index: &Map<i32, usize>) {
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
    pub(super) fn open_handles(&mut self, pid: i32, start: u64, stat: File) -> Handles {
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
}

/// How many members may keep their files open: [`MAX_HANDLES`], or fewer so that they take at
/// most half of this process's soft limit on open files (the host needs the rest).
pub(super) fn max_handles() -> usize {
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

#[cfg(test)]
mod tests {
    use super::super::read::tests::REAL;
    use super::*;

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
}
