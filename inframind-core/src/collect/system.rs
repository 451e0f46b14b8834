//! Whole-machine CPU, memory and disk I/O from `/proc/stat`, `/proc/meminfo` and
//! `/proc/diskstats`.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use procfs::{DiskStats, FromRead, FromReadSI, KernelStats, Meminfo};
use serde::Serialize;

use super::proc_error;
use crate::error::{Error, Result};

/// Bytes per sector in `/proc/diskstats`: the kernel always counts 512-byte units there,
/// whatever the device's real sector size.
const DISKSTATS_SECTOR_BYTES: u64 = 512;

/// One reading of the whole machine. Counters (`*_total`) never decrease between samples of
/// one [`SystemSampler`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SystemSample {
    /// Busy share (0..1) of all cores since the previous sample: the `/proc/stat` deltas of
    /// user, nice, system, irq, softirq and steal over all of them plus idle and iowait, each
    /// field's delta clamped at 0 (iowait can go backwards). 0.0 when no time elapsed.
    pub cpu_usage_ratio: f64,
    /// Busy CPU seconds since boot, summed over all cores. Never decreases.
    pub cpu_seconds_total: f64,
    /// Number of CPUs listed in `/proc/stat` (online CPUs).
    pub cpu_count: u32,
    /// `MemTotal` of `/proc/meminfo`, in bytes.
    pub mem_total_bytes: u64,
    /// `MemTotal - MemAvailable`, in bytes (before Linux 3.14, which lacks `MemAvailable`:
    /// `MemTotal - MemFree - Buffers - Cached`).
    pub mem_used_bytes: u64,
    /// Bytes read from whole physical disks since boot (`/proc/diskstats` sectors × 512;
    /// partitions and virtual devices such as loop, zram, device-mapper and md are left out
    /// because their I/O is already counted on the disks beneath them). Never decreases.
    pub io_read_bytes_total: u64,
    /// Bytes written to whole physical disks since boot, like `io_read_bytes_total`.
    pub io_write_bytes_total: u64,
}

/// CPU time fields of the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    pub(crate) user: u64,
    pub(crate) nice: u64,
    pub(crate) system: u64,
    pub(crate) idle: u64,
    pub(crate) iowait: u64,
    pub(crate) irq: u64,
    pub(crate) softirq: u64,
    pub(crate) steal: u64,
}

impl CpuTicks {
    /// Busy ticks: everything but idle and iowait. Guest time is already inside user and
    /// nice, so it is not added again.
    pub(crate) fn busy(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// `(busy, total)` ticks elapsed from `prev` to `self`, each field's delta clamped at 0.
    pub(crate) fn delta_since(&self, prev: &CpuTicks) -> (u64, u64) {
        let d = CpuTicks {
            user: self.user.saturating_sub(prev.user),
            nice: self.nice.saturating_sub(prev.nice),
            system: self.system.saturating_sub(prev.system),
            idle: self.idle.saturating_sub(prev.idle),
            iowait: self.iowait.saturating_sub(prev.iowait),
            irq: self.irq.saturating_sub(prev.irq),
            softirq: self.softirq.saturating_sub(prev.softirq),
            steal: self.steal.saturating_sub(prev.steal),
        };
        let busy = d.busy();
        (busy, busy.saturating_add(d.idle).saturating_add(d.iowait))
    }
}

/// Busy share of `total` ticks; 0.0 when no time elapsed.
pub(crate) fn usage_ratio(busy: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (busy as f64 / total as f64).clamp(0.0, 1.0)
    }
}

/// A counter summed over devices that may appear, vanish or reset: it only ever grows.
#[derive(Debug, Default)]
pub(crate) struct MonotoneSum {
    last: HashMap<String, u64>,
    total: u64,
}

impl MonotoneSum {
    /// Adds every device's growth since its last reading. A device seen for the first time
    /// adds its whole value (its count since it appeared); a device whose count went down
    /// was reset or replaced and adds its new value. Devices that vanished keep what they
    /// contributed.
    pub(crate) fn update<'a>(&mut self, readings: impl IntoIterator<Item = (&'a str, u64)>) -> u64 {
        for (name, value) in readings {
            let grown = match self.last.get(name) {
                Some(&last) if value >= last => value - last,
                _ => value,
            };
            self.total = self.total.saturating_add(grown);
            match self.last.get_mut(name) {
                Some(slot) => *slot = value,
                None => {
                    self.last.insert(name.to_owned(), value);
                }
            }
        }
        self.total
    }
}

/// Whether a `/proc/diskstats` device is a whole physical disk.
///
/// Where `/sys/block` is readable, a whole disk is a directory there (partitions live
/// beneath their disk) that is not under `/sys/devices/virtual` (loop, zram, dm-*, md*).
/// Without sysfs, the names of partitions and of RAM and loop devices are left out, the rule
/// node_exporter uses.
pub(crate) fn is_whole_disk(sys_block: Option<&Path>, name: &str) -> bool {
    if let Some(sys_block) = sys_block {
        let entry = sys_block.join(name.replace('/', "!"));
        return match std::fs::canonicalize(&entry) {
            Ok(real) => !real.starts_with("/sys/devices/virtual"),
            Err(_) => false,
        };
    }
    !looks_like_partition_or_virtual(name)
}

/// node_exporter's default device exclusion, `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`,
/// plus device-mapper and md devices.
pub(crate) fn looks_like_partition_or_virtual(name: &str) -> bool {
    let trailing_digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let stem = &name[..name.len() - trailing_digits];
    if stem.starts_with("dm-") || stem == "md" {
        return true;
    }
    if trailing_digits == 0 {
        return false;
    }
    if matches!(stem, "ram" | "zram" | "loop" | "fd") {
        return true;
    }
    // sda1, vdb2, hdc3, xvda1
    for prefix in ["sd", "vd", "hd", "xvd"] {
        if let Some(letters) = stem.strip_prefix(prefix) {
            if !letters.is_empty() && letters.bytes().all(|b| b.is_ascii_lowercase()) {
                return true;
            }
        }
    }
    // nvme0n1p1 / mmcblk0p1: a 'p' after a namespace or device number
    if let Some(before_p) = stem.strip_suffix('p') {
        let digits = before_p.len()
            - before_p
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .len();
        if digits > 0 && (before_p.starts_with("nvme") || before_p.starts_with("mmcblk")) {
            return true;
        }
    }
    false
}

/// Samples the whole machine. Create one, then call [`SystemSampler::sample`] at each tick;
/// the CPU ratio covers the time since the previous call (or since [`SystemSampler::new`]).
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use inframind_core::collect::SystemSampler;
///
/// let mut sampler = SystemSampler::new()?;
/// let s = sampler.sample()?;
/// assert!((0.0..=1.0).contains(&s.cpu_usage_ratio));
/// assert!(s.mem_used_bytes <= s.mem_total_bytes);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SystemSampler {
    prev: CpuTicks,
    busy_ticks_total: u64,
    ticks_per_second: u64,
    disk_read: MonotoneSum,
    disk_write: MonotoneSum,
    /// Whether each device name seen in /proc/diskstats is a whole physical disk.
    whole_disk: HashMap<String, bool>,
    /// /proc/stat, /proc/meminfo and /proc/diskstats, kept open and re-read in place.
    stat: ProcFile,
    meminfo: ProcFile,
    diskstats: ProcFile,
    buf: Vec<u8>,
}

/// A system-wide /proc file opened once; the kernel regenerates it at each read from offset 0.
#[derive(Debug)]
struct ProcFile {
    path: &'static str,
    file: File,
}

impl ProcFile {
    fn open(path: &'static str) -> Result<ProcFile> {
        let file = File::open(path).map_err(|e| Error::Collector {
            source_name: path.to_owned(),
            reason: format!("{e}; mount procfs on /proc (`mount -t proc proc /proc`)"),
        })?;
        Ok(ProcFile { path, file })
    }

    /// The whole file. A read that does not fill the buffer has reached the end (these files
    /// are produced in one piece).
    fn read<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        let mut len = 0;
        loop {
            if buf.len() - len < 4096 {
                buf.resize(buf.len() * 2 + 4096, 0);
            }
            let asked = buf.len() - len;
            let n = self
                .file
                .read_at(&mut buf[len..], len as u64)
                .map_err(|e| Error::Collector {
                    source_name: self.path.to_owned(),
                    reason: e.to_string(),
                })?;
            len += n;
            if n == 0 || n < asked {
                return Ok(&buf[..len]);
            }
        }
    }
}

impl SystemSampler {
    /// Reads `/proc/stat` once as the baseline of the first sample's CPU ratio.
    pub fn new() -> Result<Self> {
        let stat = ProcFile::open("/proc/stat")?;
        let mut buf = Vec::new();
        let (ticks, _) = read_cpu(&stat, &mut buf)?;
        Ok(SystemSampler {
            prev: ticks,
            busy_ticks_total: ticks.busy(),
            ticks_per_second: procfs::ticks_per_second().max(1),
            disk_read: MonotoneSum::default(),
            disk_write: MonotoneSum::default(),
            whole_disk: HashMap::new(),
            stat,
            meminfo: ProcFile::open("/proc/meminfo")?,
            diskstats: ProcFile::open("/proc/diskstats")?,
            buf,
        })
    }

    /// Reads CPU, memory and disk counters now.
    pub fn sample(&mut self) -> Result<SystemSample> {
        let (ticks, cpu_count) = read_cpu(&self.stat, &mut self.buf)?;
        let (busy, total) = ticks.delta_since(&self.prev);
        self.prev = ticks;
        self.busy_ticks_total = self.busy_ticks_total.saturating_add(busy);

        let mem = Meminfo::from_read(self.meminfo.read(&mut self.buf)?)
            .map_err(|e| proc_error("/proc/meminfo", e))?;
        let mem_total_bytes = mem.mem_total;
        let available = mem.mem_available.unwrap_or_else(|| {
            mem.mem_free
                .saturating_add(mem.buffers)
                .saturating_add(mem.cached)
        });
        let mem_used_bytes = mem_total_bytes.saturating_sub(available);

        let disks = DiskStats::from_read(self.diskstats.read(&mut self.buf)?)
            .map_err(|e| proc_error("/proc/diskstats", e))?
            .0;
        if disks.iter().any(|d| !self.whole_disk.contains_key(&d.name)) {
            let sys_block = Path::new("/sys/block");
            let sys_block = sys_block.is_dir().then_some(sys_block);
            for d in &disks {
                if !self.whole_disk.contains_key(&d.name) {
                    let whole = is_whole_disk(sys_block, &d.name);
                    self.whole_disk.insert(d.name.clone(), whole);
                }
            }
        }
        let whole: Vec<_> = disks
            .iter()
            .filter(|d| self.whole_disk.get(&d.name).copied().unwrap_or(false))
            .collect();
        let io_read_bytes_total = self
            .disk_read
            .update(whole.iter().map(|d| (d.name.as_str(), d.sectors_read)))
            .saturating_mul(DISKSTATS_SECTOR_BYTES);
        let io_write_bytes_total = self
            .disk_write
            .update(whole.iter().map(|d| (d.name.as_str(), d.sectors_written)))
            .saturating_mul(DISKSTATS_SECTOR_BYTES);

        Ok(SystemSample {
            cpu_usage_ratio: usage_ratio(busy, total),
            cpu_seconds_total: self.busy_ticks_total as f64 / self.ticks_per_second as f64,
            cpu_count,
            mem_total_bytes,
            mem_used_bytes,
            io_read_bytes_total,
            io_write_bytes_total,
        })
    }
}

/// The aggregate `cpu` line of `/proc/stat` and the number of per-CPU lines.
fn read_cpu(file: &ProcFile, buf: &mut Vec<u8>) -> Result<(CpuTicks, u32)> {
    let stats = KernelStats::from_read(file.read(buf)?, procfs::current_system_info())
        .map_err(|e| proc_error("/proc/stat", e))?;
    let t = &stats.total;
    let ticks = CpuTicks {
        user: t.user,
        nice: t.nice,
        system: t.system,
        idle: t.idle,
        iowait: t.iowait.unwrap_or(0),
        irq: t.irq.unwrap_or(0),
        softirq: t.softirq.unwrap_or(0),
        steal: t.steal.unwrap_or(0),
    };
    let cpus = u32::try_from(stats.cpu_time.len())
        .unwrap_or(u32::MAX)
        .max(1);
    Ok((ticks, cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(user: u64, idle: u64, iowait: u64) -> CpuTicks {
        CpuTicks {
            user,
            idle,
            iowait,
            ..CpuTicks::default()
        }
    }

    #[test]
    fn negative_iowait_delta_is_clamped_not_wrapped() {
        let prev = ticks(100, 1000, 50);
        let cur = ticks(150, 1050, 40); // iowait went back by 10
        let (busy, total) = cur.delta_since(&prev);
        assert_eq!((busy, total), (50, 100));
        assert_eq!(usage_ratio(busy, total), 0.5);
    }

    #[test]
    fn no_elapsed_time_is_zero_usage() {
        let t = ticks(5, 5, 5);
        let (busy, total) = t.delta_since(&t);
        assert_eq!(usage_ratio(busy, total), 0.0);
    }

    #[test]
    fn busy_counts_steal_irq_but_not_idle_or_guest() {
        let t = CpuTicks {
            user: 1,
            nice: 2,
            system: 3,
            idle: 100,
            iowait: 100,
            irq: 4,
            softirq: 5,
            steal: 6,
        };
        assert_eq!(t.busy(), 21);
        assert_eq!(t.delta_since(&CpuTicks::default()), (21, 221));
    }

    #[test]
    fn disk_sum_is_monotone_across_vanish_and_reset() {
        let mut m = MonotoneSum::default();
        assert_eq!(m.update([("sda", 100), ("vdb", 10)]), 110);
        assert_eq!(m.update([("sda", 150), ("vdb", 10)]), 160);
        // vdb unplugged: its share stays
        assert_eq!(m.update([("sda", 160)]), 170);
        // sda reset (replaced device with the same name): its new count is added
        assert_eq!(m.update([("sda", 5)]), 175);
        assert_eq!(m.update([("sda", 7), ("vdb", 3)]), 180);
    }

    #[test]
    fn partitions_and_virtual_devices_are_recognised_by_name() {
        for part in [
            "sda1",
            "vdb12",
            "xvda1",
            "hdc3",
            "nvme0n1p1",
            "mmcblk0p2",
            "loop0",
            "ram1",
            "zram0",
            "dm-0",
            "md0",
            "fd0",
        ] {
            assert!(looks_like_partition_or_virtual(part), "{part}");
        }
        for disk in ["sda", "vda", "xvdb", "nvme0n1", "mmcblk0", "sr0"] {
            assert!(!looks_like_partition_or_virtual(disk), "{disk}");
        }
    }
}
