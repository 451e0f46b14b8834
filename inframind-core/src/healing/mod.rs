//! Self-healing: Alertmanager alerts matched against remediation policies, and CI failure
//! logs classified into a remediation.
//!
//! # Alerts and policies
//!
//! [`Webhook::from_json`] parses Alertmanager's webhook payload (version 4). A [`PolicySet`]
//! loads policies from JSON or YAML ([`PolicySet::from_yaml`]), all-or-nothing; conditions use
//! the forms users already write, including Alertmanager matchers with Alertmanager's semantics
//! ([`Matcher`]). [`PolicySet::evaluate`] returns a [`Decision`] per (policy, alert) whose
//! condition holds, in priority-then-name order, with parameters interpolated
//! (`${label.pod}`, [`Template`]) and safety applied from a [`SafetyState`] the host keeps
//! (cooldown, rate limit, deduplication of repeated deliveries) and an injectable [`Clock`].
//! What a set may compile is bounded, so a stored policy cannot make evaluation slow: each regex
//! matcher ([`MAX_MATCHER_REGEX_BYTES`]), the matchers of a policy ([`MAX_MATCHERS_PER_POLICY`])
//! and those of the whole set ([`MAX_MATCHERS_PER_SET`], [`MAX_SET_REGEX_BYTES`]).
//!
//! # CI failure logs
//!
//! [`classify()`] names the cause of a failed build log (`oom`, `disk_full`, `network`...), with
//! the evidence lines and a typed [`Remediation`]; it declines (`unknown`) when the log does not
//! show the cause. [`Classifier`] takes user pattern files and streams big logs with bounded
//! memory ([`Classifier::classify_reader`]).
//!
//! [`final_status()`] is the rule a host applies when a run finishes: which status to record from
//! what the CI reported and the log, and the classification when there is one.

mod alert;
mod category;
mod classify;
mod condition;
mod evaluate;
mod final_status;
mod log_text;
mod matcher;
mod params;
mod patterns;
mod policy;
mod remediation;
mod safety;

pub use alert::{fingerprint, Alert, AlertStatus, LabelSet, Webhook, WEBHOOK_VERSION};
pub use category::Category;
pub use classify::{
    classify, run_status, Classification, Classifier, Evidence, DEFAULT_MIN_SCORE,
    STRONG_CAUSE_SCORE,
};
pub use condition::Condition;
pub use evaluate::{Action, AuditRecord, Decision, EvalOptions, Evaluation, Outcome};
pub use final_status::final_status;
pub use log_text::MAX_LINE_BYTES;
pub use matcher::{parse_matchers, MatchType, Matcher, MAX_MATCHER_REGEX_BYTES};
pub use params::{Source, Template, Unresolved};
pub use patterns::{PatternSpec, BUILTIN_PATTERNS};
pub use policy::{
    ActionSpec, DurationSpec, Policy, PolicySet, PolicySpec, SafetySpec, DEFAULT_PRIORITY,
    DEFAULT_RATE_WINDOW, MAX_MATCHERS_PER_POLICY, MAX_MATCHERS_PER_SET, MAX_SET_REGEX_BYTES,
};
pub use remediation::{CleanTarget, Remediation, RetryPolicy};
pub use safety::{Clock, ManualClock, SafetyConfig, SafetyState, SystemClock};
