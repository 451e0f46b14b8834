//! What each member contributed to the tree's counters, and who carries the counts of
//! members that vanished (see "How exited processes are counted" in the [module docs](super)).

use super::{Key, Map, ProcessTreeSampler, Set};

/// What one member contributed at its last sighting; each value only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) cpu_ticks: u64,
    pub(super) read_bytes: u64,
    pub(super) write_bytes: u64,
}

impl Counts {
    pub(super) fn max(self, o: Counts) -> Counts {
        Counts {
            cpu_ticks: self.cpu_ticks.max(o.cpu_ticks),
            read_bytes: self.read_bytes.max(o.read_bytes),
            write_bytes: self.write_bytes.max(o.write_bytes),
        }
    }

    pub(super) fn add(self, o: Counts) -> Counts {
        Counts {
            cpu_ticks: self.cpu_ticks.saturating_add(o.cpu_ticks),
            read_bytes: self.read_bytes.saturating_add(o.read_bytes),
            write_bytes: self.write_bytes.saturating_add(o.write_bytes),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Member {
    pub(super) ppid: i32,
    pub(super) counts: Counts,
}

impl ProcessTreeSampler {
    /// Moves the last values of members that left the tree into `lost`, unless a live member
    /// reaped them and so carries their counts already.
    pub(super) fn account_vanished(
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
}
