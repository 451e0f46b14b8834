//! What to do about a classified failure: the typed [`Remediation`] plans, their retry
//! schedule, and the default plan of each [`Category`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::healing::category::Category;
use crate::telemetry::{BuildConfig, RunStatus};

impl Category {
    /// What to do by default about a failure of this category.
    pub fn default_remediation(self) -> Remediation {
        match self {
            Category::Oom => Remediation::ReduceConcurrency {
                mark_status: RunStatus::OomKilled,
                concurrency_factor: 0.5,
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::DiskFull => Remediation::CleanAndRetry {
                clean: vec![CleanTarget::Workspace, CleanTarget::BuildCache],
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::Network => Remediation::Retry {
                retry: RetryPolicy::default(),
                another_agent: false,
            },
            Category::InfraLost => Remediation::Retry {
                retry: RetryPolicy {
                    max_attempts: 2,
                    ..RetryPolicy::default()
                },
                another_agent: true,
            },
            Category::Timeout => Remediation::ExtendTimeout {
                timeout_factor: 1.5,
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::Permission => Remediation::NoRetry {
                reason: "access was denied: fix the credentials, token scopes or file permissions; a retry would fail the same way".into(),
            },
            Category::Dependency => Remediation::NoRetry {
                reason: "a dependency cannot be resolved: fix or pin the version; a retry would fail the same way".into(),
            },
            Category::CompileError => Remediation::NoRetry {
                reason: "the code does not compile or link: a change is needed".into(),
            },
            Category::TestFailure => Remediation::NoRetry {
                reason: "tests failed: a change is needed (quarantine the test if it is known to be flaky)".into(),
            },
            Category::Unknown => Remediation::Escalate {
                reason: "the log does not show the cause; a person should look".into(),
            },
        }
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the failed attempt.
    pub max_attempts: u32,
    /// Delay before the first retry, in seconds.
    pub initial_backoff_s: f64,
    /// Growth of the delay per retry.
    pub multiplier: f64,
    /// Upper bound of the delay, in seconds.
    pub max_backoff_s: f64,
    /// Jitter as a fraction of the delay (0.2 = up to 20% shorter or longer).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff_s: 10.0,
            multiplier: 2.0,
            max_backoff_s: 300.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based), or `None` past `max_attempts`.
    /// `unit_random` is a uniform random number in `[0, 1)` supplied by the host (the core keeps
    /// no global RNG); values outside are clamped.
    ///
    /// ```
    /// use inframind_core::healing::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert_eq!(p.delay(1, 0.5).unwrap().as_secs(), 10);
    /// assert_eq!(p.delay(2, 0.5).unwrap().as_secs(), 20);
    /// assert!(p.delay(4, 0.5).is_none());
    /// ```
    pub fn delay(&self, attempt: u32, unit_random: f64) -> Option<Duration> {
        if attempt == 0 || attempt > self.max_attempts {
            return None;
        }
        let r = if unit_random.is_finite() {
            unit_random.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let exp = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let base = (self.initial_backoff_s.max(0.0) * self.multiplier.max(1.0).powi(exp))
            .min(self.max_backoff_s.max(0.0));
        let jitter = self.jitter.clamp(0.0, 1.0);
        let secs = base * (1.0 + jitter * (2.0 * r - 1.0));
        if secs.is_finite() {
            Some(Duration::from_secs_f64(secs.clamp(0.0, 1.0e9)))
        } else {
            None
        }
    }
}

/// What to clean before retrying after a full disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CleanTarget {
    /// The job's workspace / checkout.
    Workspace,
    /// Build caches (ccache, Gradle, Cargo target, npm cache...).
    BuildCache,
    /// Unused container images and build layers (`docker system prune`).
    DockerImages,
    /// Temporary files.
    Temp,
}

/// What to do about a classified failure. Hosts act on it; the core decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Remediation {
    /// Record the run as `mark_status` (OOM-killed, so the optimizer raises the memory floor),
    /// lower the concurrency by `concurrency_factor`, then retry.
    ReduceConcurrency {
        /// Status to record the run with.
        mark_status: RunStatus,
        /// Multiply the concurrency by this (0 < f < 1); at least 1 job remains.
        concurrency_factor: f64,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Retry with backoff, on another agent when `another_agent`.
    Retry {
        /// Retry schedule.
        retry: RetryPolicy,
        /// Run the retry on a different agent / runner.
        another_agent: bool,
    },
    /// Clean, then retry.
    CleanAndRetry {
        /// What to clean.
        clean: Vec<CleanTarget>,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Retry once with a longer time limit.
    ExtendTimeout {
        /// Multiply the time limit by this.
        timeout_factor: f64,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Do not retry: a change is needed.
    NoRetry {
        /// Why a retry would not help.
        reason: String,
    },
    /// Nothing automatic: tell a person.
    Escalate {
        /// Why.
        reason: String,
    },
}

impl Remediation {
    /// Whether the remediation retries the build.
    pub fn retries(&self) -> bool {
        matches!(
            self,
            Remediation::ReduceConcurrency { .. }
                | Remediation::Retry { .. }
                | Remediation::CleanAndRetry { .. }
                | Remediation::ExtendTimeout { .. }
        )
    }

    /// The configuration to retry with: lower concurrency for [`Remediation::ReduceConcurrency`]
    /// (never below 1), unchanged otherwise.
    pub fn next_config(&self, current: &BuildConfig) -> BuildConfig {
        match self {
            Remediation::ReduceConcurrency {
                concurrency_factor, ..
            } => {
                let f = if concurrency_factor.is_finite() {
                    concurrency_factor.clamp(0.0, 1.0)
                } else {
                    0.5
                };
                let lowered = (f64::from(current.concurrency) * f).floor();
                let mut next = *current;
                // `as` saturates; the value is within [0, concurrency] anyway.
                next.concurrency = (lowered as u32).clamp(1, current.concurrency.max(1));
                if next.concurrency == current.concurrency && current.concurrency > 1 {
                    next.concurrency -= 1;
                }
                next
            }
            _ => *current,
        }
    }
}
