//! Collector benchmarks (Linux): one process-tree sample of a 200-process build (sleeping, and
//! with busy members), one system sample, and rendering a snapshot as Prometheus text.
//!
//! ```sh
//! cargo bench -p inframind-benches --bench collect -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! Target from the issue: one process-tree sample of a 200-process build <= 1 ms. The tree is
//! one `sh` with 200 `sleep` children; a sample also scans every other process on the machine
//! (to find the tree by parent pid), so note how many there were when recording a number.
//!
//! `process_tree_sample_busy`: the same tree with 50 of the children busy (bash loops waking
//! every 10 ms, and forking a `/bin/true` every 50th time), sampled back to back, so some
//! members changed since the last sample and need a full reading. The worst case, every
//! member changed, is `benches/agent/tree_sample.sh --busy 199 --interval-ms 50`.

use criterion::{criterion_group, criterion_main, Criterion};

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkId, Criterion};
    use inframind_core::collect::{Collector, CollectorOptions, ProcessTreeSampler, SystemSampler};

    /// `sh` with `n` children, `busy` of them bash loops that wake every 10 ms (a timed
    /// `read` on a FIFO nobody writes), the others sleeping; they are stopped by pid when
    /// dropped.
    struct SleepTree {
        parent: Child,
        fifo: PathBuf,
    }

    impl SleepTree {
        fn spawn(n: usize, busy: usize) -> SleepTree {
            let fifo = std::env::temp_dir().join(format!(
                "im-collect-bench-{}-{busy}.fifo",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&fifo);
            let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
            assert!(made.success(), "mkfifo {}", fifo.display());
            let script = format!(
                "i=0; while [ $i -lt {busy} ]; do \
                   bash -c 'exec 9<>\"$0\"; n=0; while :; do i=0; while ((i < 10)); do ((i++)); done; \
                            read -t 0.01 -u 9; ((++n % 50)) || /bin/true; done' \"$0\" & i=$((i+1)); \
                 done; \
                 while [ $i -lt {n} ]; do sleep 600 & i=$((i+1)); done; wait"
            );
            let parent = Command::new("sh")
                .args(["-c", &script])
                .arg(&fifo)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn sh");
            SleepTree { parent, fifo }
        }

        fn pid(&self) -> i32 {
            self.parent.id() as i32
        }

        fn children(&self) -> Vec<i32> {
            let mut kids = Vec::new();
            for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(pid) = name.parse::<i32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let Some(close) = stat.rfind(')') else {
                    continue;
                };
                if stat[close + 1..].split_whitespace().nth(1) == Some(&self.pid().to_string()) {
                    kids.push(pid);
                }
            }
            kids
        }
    }

    impl Drop for SleepTree {
        fn drop(&mut self) {
            // By pid, one by one, children first: never a negative pid (a process group), which
            // procps' `kill` can misread as -1 (every process).
            for pid in self.children().into_iter().chain([self.pid()]) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid).filter(|_| pid > 1) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            let _ = self.parent.wait();
            let _ = std::fs::remove_file(&self.fifo);
        }
    }

    /// A sampler on a tree of `sh` and `children`, once the whole tree has started.
    fn sampler_for(tree: &SleepTree, children: usize) -> ProcessTreeSampler {
        let mut sampler = ProcessTreeSampler::new(tree.pid()).expect("sampler");
        let start = Instant::now();
        loop {
            let s = sampler.sample().expect("sample");
            // the root and its children (busy ones may each have a /bin/true running too)
            if s.processes as usize > children {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "tree never reached {} processes: {s:?}",
                children + 1
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sampler
    }

    pub(super) fn bench(c: &mut Criterion) {
        const CHILDREN: usize = 200;
        const BUSY: usize = 50;
        let tree = SleepTree::spawn(CHILDREN, 0);
        let mut sampler = sampler_for(&tree, CHILDREN);
        let all = std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().parse::<i32>().is_ok())
                    .count()
            })
            .unwrap_or(0);
        eprintln!(
            "collect bench: tree of {} processes, {all} processes on the machine",
            CHILDREN + 1
        );

        let mut g = c.benchmark_group("collect");
        g.bench_with_input(
            BenchmarkId::new("process_tree_sample", CHILDREN + 1),
            &(),
            |b, _| b.iter(|| black_box(sampler.sample().expect("sample"))),
        );
        let mut system = SystemSampler::new().expect("system sampler");
        g.bench_function("system_sample", |b| {
            b.iter(|| black_box(system.sample().expect("sample")))
        });
        let snapshot = Collector::new(CollectorOptions::default().pid(tree.pid()))
            .and_then(|mut c| c.sample())
            .expect("snapshot");
        g.bench_function("render_prometheus", |b| {
            b.iter(|| black_box(snapshot.render_prometheus()))
        });
        drop(sampler);
        drop(tree);

        let busy = SleepTree::spawn(CHILDREN, BUSY);
        let mut sampler = sampler_for(&busy, CHILDREN);
        g.bench_with_input(
            BenchmarkId::new("process_tree_sample_busy", CHILDREN + 1),
            &(),
            |b, _| b.iter(|| black_box(sampler.sample().expect("sample"))),
        );
        drop(sampler);
        drop(busy);
        g.finish();
    }
}

#[cfg(target_os = "linux")]
fn collect(c: &mut Criterion) {
    linux::bench(c);
}

/// The collectors read /proc: nothing to measure elsewhere.
#[cfg(not(target_os = "linux"))]
fn collect(_c: &mut Criterion) {}

criterion_group!(benches, collect);
criterion_main!(benches);
