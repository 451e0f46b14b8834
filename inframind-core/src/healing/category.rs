//! The causes a failed build log can show, and what each one means for the run's status and for
//! the order in which the classifier prefers causes over their consequences.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::telemetry::RunStatus;

/// The cause a failed build log shows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// Out of memory: the OOM killer, exit 137, `Killed (program cc1plus)`, heap exhausted.
    Oom,
    /// The disk or a quota is full.
    DiskFull,
    /// The machine running the job went away (runner lost, agent offline, pod evicted).
    InfraLost,
    /// The job hit a time limit.
    Timeout,
    /// DNS, connection, TLS or registry availability failures.
    Network,
    /// Access denied: file permissions, credentials, tokens.
    Permission,
    /// A dependency could not be resolved (version conflict, missing package).
    Dependency,
    /// The code does not compile or link.
    CompileError,
    /// Tests ran and failed.
    TestFailure,
    /// The log does not show the cause.
    #[default]
    Unknown,
}

impl Category {
    /// Every category, in tie-break order (causes before their usual consequences).
    pub const ALL: [Category; 10] = [
        Category::Oom,
        Category::DiskFull,
        Category::InfraLost,
        Category::Timeout,
        Category::Network,
        Category::Permission,
        Category::Dependency,
        Category::CompileError,
        Category::TestFailure,
        Category::Unknown,
    ];

    /// The snake_case name (`disk_full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Oom => "oom",
            Category::DiskFull => "disk_full",
            Category::InfraLost => "infra_lost",
            Category::Timeout => "timeout",
            Category::Network => "network",
            Category::Permission => "permission",
            Category::Dependency => "dependency",
            Category::CompileError => "compile_error",
            Category::TestFailure => "test_failure",
            Category::Unknown => "unknown",
        }
    }

    /// The status a run that failed for this reason should be recorded with: `oom_killed` for
    /// [`Category::Oom`] (so the optimizer raises the memory floor), `timeout` for
    /// [`Category::Timeout`], `failure` otherwise.
    pub fn run_status(self) -> RunStatus {
        match self {
            Category::Oom => RunStatus::OomKilled,
            Category::Timeout => RunStatus::Timeout,
            _ => RunStatus::Failure,
        }
    }

    /// 0 for environmental causes (oom, disk_full, infra_lost, timeout, network, permission),
    /// 1 for dependency failures, 2 for compile errors and test failures (and unknown).
    pub fn tier(self) -> u8 {
        match self {
            Category::Oom
            | Category::DiskFull
            | Category::InfraLost
            | Category::Timeout
            | Category::Network
            | Category::Permission => 0,
            Category::Dependency => 1,
            Category::CompileError | Category::TestFailure | Category::Unknown => 2,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
