//! What teams do without InfraMind: keep the config they started from, or a KRR/VPA-style
//! percentile recommender.

use inframind_core::features::quantile;
use inframind_core::telemetry::{BuildConfig, BuildRun, Capacity, RunStatus};

/// A KRR/VPA-style recommendation from the last 50 runs: cores = p95 of CPU usage (rounded up
/// to a quarter core), memory = max peak + 15% (rounded up to 64 MiB), VPA's bump to 1.2x the
/// killed run's memory after an OOM; concurrency unchanged; both within `capacity`.
pub fn percentile_next(
    history: &[BuildRun],
    last: &BuildConfig,
    capacity: &Capacity,
) -> BuildConfig {
    let recent = &history[history.len().saturating_sub(50)..];
    let ok: Vec<&BuildRun> = recent.iter().filter(|r| r.status.is_success()).collect();
    let mut cpu_use: Vec<f64> = ok
        .iter()
        .map(|r| r.steps.iter().filter_map(|s| s.cpu_seconds).sum::<f64>() / r.duration_s.max(1e-9))
        .collect();
    let max_peak = ok
        .iter()
        .filter_map(|r| r.peak_rss_bytes())
        .max()
        .map_or(last.memory_bytes as f64, |b| b as f64);
    let mut mem = max_peak * 1.15;
    if let Some(oom) = recent
        .iter()
        .rev()
        .find(|r| r.status == RunStatus::OomKilled)
    {
        mem = mem.max(oom.config.memory_bytes as f64 * 1.2);
    }
    let max_cpu = capacity.cpu_cores.unwrap_or(f64::INFINITY).max(0.25);
    let cpu = quantile(&mut cpu_use, 0.95)
        .map_or(last.cpu_cores, |c| (c / 0.25).ceil() * 0.25)
        .clamp(0.25, max_cpu);
    let step = 64.0 * 1024.0 * 1024.0;
    BuildConfig {
        concurrency: last.concurrency,
        cpu_cores: cpu,
        memory_bytes: (((mem / step).ceil() * step) as u64)
            .min(capacity.memory_bytes.unwrap_or(u64::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inframind_core::demo::demo_history;

    #[test]
    fn the_percentile_recommendation_stays_within_the_capacity() {
        let history = demo_history("cargo", 60, 2);
        let last = history[history.len() - 1].config;
        let cap = Capacity {
            cpu_cores: Some(1.0),
            memory_bytes: Some(1 << 30),
        };
        let next = percentile_next(&history, &last, &cap);
        assert!(next.cpu_cores <= 1.0);
        assert!(next.memory_bytes <= 1 << 30);
        assert_eq!(next.concurrency, last.concurrency);
        let free = percentile_next(&history, &last, &Capacity::default());
        assert!(free.memory_bytes > 1 << 30);
    }
}
