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
//!
//! [`RESCAN_EVERY`]: discover::RESCAN_EVERY
//! [`TICK_BOUND`]: reuse::TICK_BOUND

mod account;
mod discover;
#[cfg(test)]
mod live;
mod read;
mod reuse;
mod sample;
mod sampler;

pub use sample::ProcessTreeSample;
pub use sampler::ProcessTreeSampler;

/// A process is known by its pid and its start time, so a reused pid is a new process.
type Key = (i32, u64);

/// Maps keyed by pids and start times, which the kernel picks (no one can choose keys that
/// collide): hashed with FxHash (the `rustc-hash` crate) rather than SipHash, which was about
/// 4% of a sample in `perf`.
type Map<K, V> = rustc_hash::FxHashMap<K, V>;
type Set<K> = rustc_hash::FxHashSet<K>;
