//! The status a finished run is recorded with, decided once for every host from what the CI
//! reported and the run's log.

use crate::healing::classify::{classify, Classification};
use crate::telemetry::RunStatus;

/// The status to record for a finished run, and the classification of its log when the rule
/// classifies it.
///
/// - The log is classified only when `reported` is a failure ([`RunStatus::is_failure`]:
///   `failure`, `oom_killed`, `timeout`) and the log has something besides whitespace.
/// - A `cancelled` run is never classified: a person or a newer build stopped it, so its log
///   shows where it was interrupted, not why it failed. The same holds for `success` and
///   `running`. These come back unchanged with no classification.
/// - Only `failure` is rewritten, to the classification's [`Classification::run_status`]: an
///   out-of-memory cause makes it `oom_killed` (so the optimizer raises the memory floor), a time
///   limit makes it `timeout`, anything else leaves it `failure`.
/// - `oom_killed` and `timeout` are the CI's own, more specific verdicts: they are kept, and
///   the classification is still returned for its evidence and remediation.
///
/// ```
/// use inframind_core::healing::{final_status, Category};
/// use inframind_core::RunStatus;
///
/// let log = "gcc: fatal error: Killed signal terminated program cc1plus\n\
///            compilation terminated.\n";
/// let (status, classification) = final_status(RunStatus::Failure, Some(log));
/// assert_eq!(status, RunStatus::OomKilled);
/// assert_eq!(classification.map(|c| c.category), Some(Category::Oom));
///
/// // A cancelled run keeps its status and its log is not classified.
/// assert_eq!(final_status(RunStatus::Cancelled, Some(log)), (RunStatus::Cancelled, None));
/// // Without a log there is nothing to classify.
/// assert_eq!(final_status(RunStatus::Failure, None), (RunStatus::Failure, None));
/// ```
pub fn final_status(reported: RunStatus, log: Option<&str>) -> (RunStatus, Option<Classification>) {
    let classification = match log {
        Some(log) if reported.is_failure() && !log.trim().is_empty() => Some(classify(log)),
        _ => None,
    };
    let status = match (&classification, reported) {
        (Some(c), RunStatus::Failure) => c.run_status(),
        _ => reported,
    };
    (status, classification)
}
