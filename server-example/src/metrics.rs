//! The server's own Prometheus metrics, rendered in the text exposition format.
//!
//! Hand-rendered because the set is tiny and fixed (six families) and must be exact for
//! `promtool check metrics`: base units (`_seconds`), `_total` on counters, `# HELP`/`# TYPE`
//! before every family, cumulative histogram buckets ending in `+Inf`. The client crates would
//! bring a global registry (awkward with two app instances in one test process) or OpenMetrics
//! output that `promtool check metrics` does not read as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use inframind_core::retrain::RetrainReason;

/// Upper bounds of the latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters and histograms of one app instance.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    suggestions_cold: AtomicU64,
    suggestions_warm: AtomicU64,
    trainings: Mutex<BTreeMap<&'static str, u64>>,
    training_reasons: Mutex<BTreeMap<&'static str, u64>>,
    decisions: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a counter map inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Records one answered request. `route` must come from a closed set (a route template or
    /// `unmatched`); the method is labelled by [`method_label`].
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests)
            .entry((route.to_string(), method_label(method), status))
            .or_insert(0) += 1;
        let secs = elapsed.as_secs_f64();
        let mut lat = lock(&self.latency);
        let h = match lat.get_mut(route) {
            Some(h) => h,
            None => lat.entry(route.to_string()).or_default(),
        };
        h.count += 1;
        h.sum += secs;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i] += 1;
        }
    }

    /// Records one suggestion.
    pub fn observe_suggestion(&self, cold_start: bool) {
        let c = if cold_start {
            &self.suggestions_cold
        } else {
            &self.suggestions_warm
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one training attempt: `trained`, `failed` or `skipped`.
    pub fn observe_training(&self, result: &'static str) {
        *lock(&self.trainings).entry(result).or_insert(0) += 1;
    }

    /// Records why a training was started (the retrain policy's reason).
    pub fn observe_training_reason(&self, reason: RetrainReason) {
        *lock(&self.training_reasons)
            .entry(reason.as_str())
            .or_insert(0) += 1;
    }

    /// Records one alert decision by outcome.
    pub fn observe_decision(&self, outcome: &str) {
        *lock(&self.decisions)
            .entry(outcome.to_string())
            .or_insert(0) += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP inframind_http_requests_total HTTP requests answered, by route, method and status.\n\
             # TYPE inframind_http_requests_total counter\n",
        );
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "inframind_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str(
            "# HELP inframind_http_request_duration_seconds Time to answer a request, by route.\n\
             # TYPE inframind_http_request_duration_seconds histogram\n",
        );
        for (route, h) in lock(&self.latency).iter() {
            let route = escape(route);
            let mut cum = 0;
            for (b, n) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
                cum += n;
                let _ = writeln!(
                    out,
                    "inframind_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cum}"
                );
            }
            let _ = writeln!(
                out,
                "inframind_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 inframind_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 inframind_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = write!(
            out,
            "# HELP inframind_suggestions_total Suggestions answered by /optimize, by cold start.\n\
             # TYPE inframind_suggestions_total counter\n\
             inframind_suggestions_total{{cold_start=\"true\"}} {}\n\
             inframind_suggestions_total{{cold_start=\"false\"}} {}\n",
            self.suggestions_cold.load(Ordering::Relaxed),
            self.suggestions_warm.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP inframind_trainings_total Model trainings, by result (trained, failed, skipped).\n\
             # TYPE inframind_trainings_total counter\n",
        );
        let trainings = lock(&self.trainings);
        for result in ["trained", "failed", "skipped"] {
            let _ = writeln!(
                out,
                "inframind_trainings_total{{result=\"{result}\"}} {}",
                trainings.get(result).copied().unwrap_or(0)
            );
        }
        drop(trainings);
        out.push_str(
            "# HELP inframind_training_triggers_total Trainings started, by the retrain policy's reason (first_model, growth, surprise).\n\
             # TYPE inframind_training_triggers_total counter\n",
        );
        let reasons = lock(&self.training_reasons);
        for reason in ["first_model", "growth", "surprise"] {
            let _ = writeln!(
                out,
                "inframind_training_triggers_total{{reason=\"{reason}\"}} {}",
                reasons.get(reason).copied().unwrap_or(0)
            );
        }
        drop(reasons);
        out.push_str(
            "# HELP inframind_alert_decisions_total Policy decisions on Alertmanager alerts, by outcome.\n\
             # TYPE inframind_alert_decisions_total counter\n",
        );
        let decisions = lock(&self.decisions);
        for outcome in ["matched", "rejected", "suppressed"] {
            let _ = writeln!(
                out,
                "inframind_alert_decisions_total{{outcome=\"{outcome}\"}} {}",
                decisions.get(outcome).copied().unwrap_or(0)
            );
        }
        out
    }
}

/// The label of a request method: one of the eight methods of RFC 9110 or PATCH, else
/// `OTHER`. Requests are counted before authentication, so a label taken from the request
/// itself would let anyone create series without bound.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_request("/optimize", "POST", 200, Duration::from_micros(300));
        m.observe_request("/optimize", "POST", 200, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains(
            "inframind_http_request_duration_seconds_bucket{route=\"/optimize\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "inframind_http_request_duration_seconds_bucket{route=\"/optimize\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "inframind_http_requests_total{route=\"/optimize\",method=\"POST\",status=\"200\"} 2"
        ));
    }
}
