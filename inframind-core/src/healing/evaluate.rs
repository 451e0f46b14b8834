//! Evaluation: which policies act on which alerts, what they would run, and why not.
//!
//! For every (policy, alert) pair whose condition holds, evaluation returns one [`Decision`]:
//!
//! * `matched`: run `action` (unless `dry_run`);
//! * `rejected`: the policy cannot act: it is disabled, the alert is resolved and the policy does
//!   not set `on_resolved`, or a parameter placeholder has no value;
//! * `suppressed`: the policy could act but safety holds it back: a duplicate delivery, a
//!   cooldown, or the rate limit.
//!
//! Decisions come in a deterministic order: policy priority, then policy name, then the alert's
//! position in the payload. Each decision also yields an [`AuditRecord`] for the host's log.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::healing::alert::{Alert, AlertStatus, Webhook};
use crate::healing::policy::{Policy, PolicySet};
use crate::healing::safety::{Clock, SafetyState};

/// What became of a (policy, alert) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action should run.
    Matched,
    /// The policy cannot act on this alert.
    Rejected,
    /// Safety (dedup, cooldown, rate limit) holds the action back.
    Suppressed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Matched => "matched",
            Outcome::Rejected => "rejected",
            Outcome::Suppressed => "suppressed",
        })
    }
}

/// An action with its parameters rendered for one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The tool to run.
    pub tool: String,
    /// Parameters, placeholders substituted. Pass them as data (arguments, JSON), never through
    /// a shell.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// The verdict of one policy on one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Policy name.
    pub policy: String,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// Matched, rejected or suppressed.
    pub outcome: Outcome,
    /// Why, in words.
    pub reason: String,
    /// The rendered action; `None` when a placeholder could not be resolved or the policy
    /// cannot act at all (disabled, resolved alert).
    pub action: Option<Action>,
    /// The alert's `alertname` label (empty when missing).
    pub alertname: String,
    /// The alert's status.
    pub status: AlertStatus,
    /// True when the action must not run (evaluation or policy in dry-run mode).
    pub dry_run: bool,
}

/// One line of the audit trail: a decision with when and where it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the decision was made (from the evaluation's clock).
    pub at: Timestamp,
    /// The webhook's receiver.
    pub receiver: String,
    /// The webhook's group key.
    pub group_key: String,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
}

/// Decisions and their audit records.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// One per (policy, alert) whose condition holds, in deterministic order.
    pub decisions: Vec<Decision>,
    /// One per decision.
    pub audit: Vec<AuditRecord>,
}

impl Evaluation {
    /// The decisions whose action should run now.
    pub fn actions(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| d.outcome == Outcome::Matched && !d.dry_run)
    }
}

/// Options of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EvalOptions {
    /// Decide without acting: every decision is marked `dry_run` and the safety state is read
    /// but not changed.
    pub dry_run: bool,
}

impl EvalOptions {
    /// Options for a dry run.
    pub fn dry_run() -> Self {
        EvalOptions { dry_run: true }
    }
}

fn fmt_duration(d: Duration) -> String {
    crate::healing::policy::DurationSpec(d).to_string()
}

impl PolicySet {
    /// Indices of policies that may match the alert, in evaluation order.
    fn candidates(&self, alert: &Alert, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.unindexed);
        let mut lists = usize::from(!self.unindexed.is_empty());
        for (name, by_value) in &self.index {
            // A missing label reads as "", and index keys are never empty.
            if let Some(list) = alert.labels.get(name).and_then(|v| by_value.get(v)) {
                out.extend_from_slice(list);
                lists += 1;
            }
        }
        for pre in &self.regex_index {
            // A missing label reads as "", as in Alertmanager (so `=~".*"` still matches).
            let value = alert.labels.get(&pre.label).map_or("", String::as_str);
            for slot in pre.set.matches(value).iter() {
                out.extend_from_slice(&pre.policies[slot]);
                lists += 1;
            }
        }
        // Each policy sits in exactly one list, so there are no duplicates to remove.
        if lists > 1 {
            out.sort_unstable();
        }
    }

    /// The policies whose condition holds for the alert, in evaluation order (no status,
    /// enabled or safety checks).
    pub fn matching<'a>(&'a self, alert: &Alert) -> Vec<&'a Policy> {
        let mut idx = Vec::new();
        self.candidates(alert, &mut idx);
        idx.into_iter()
            .map(|i| &self.policies[i])
            .filter(|p| p.condition.matches(alert))
            .collect()
    }

    /// Evaluates a webhook against the policies, applying and updating the safety state.
    ///
    /// ```
    /// use inframind_core::healing::*;
    /// let policies = PolicySet::from_yaml(r#"
    /// - name: restart
    ///   condition: {labels: {alertname: KubePodCrashLooping}}
    ///   action: {tool: restart_pod, params: {pod: "${label.pod}"}}
    ///   safety: {cooldown: 10m}
    /// "#)?;
    /// let hook = Webhook::from_json(r#"{"version":"4","status":"firing","alerts":[
    ///   {"status":"firing","labels":{"alertname":"KubePodCrashLooping","pod":"cart-1"},
    ///    "startsAt":"2024-05-01T10:00:00Z"}]}"#)?;
    /// let clock = ManualClock::new("2024-05-01T10:00:05Z".parse()?);
    /// let mut state = SafetyState::default();
    /// let first = policies.evaluate(&hook, &mut state, &clock, EvalOptions::default());
    /// assert_eq!(first.decisions[0].outcome, Outcome::Matched);
    /// assert_eq!(first.decisions[0].action.as_ref().unwrap().params["pod"], "cart-1");
    /// // The same delivery again (an HA peer) is suppressed.
    /// let again = policies.evaluate(&hook, &mut state, &clock, EvalOptions::default());
    /// assert_eq!(again.decisions[0].outcome, Outcome::Suppressed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate(
        &self,
        hook: &Webhook,
        state: &mut SafetyState,
        clock: &dyn Clock,
        options: EvalOptions,
    ) -> Evaluation {
        let now = clock.now();
        if !options.dry_run {
            state.maybe_prune(now);
        }
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut cands = Vec::new();
        for (ai, alert) in hook.alerts.iter().enumerate() {
            self.candidates(alert, &mut cands);
            for &pi in &cands {
                if self.policies[pi].condition.matches(alert) {
                    pairs.push((pi, ai));
                }
            }
        }
        pairs.sort_unstable();
        let duplicates: Vec<Option<Timestamp>> = hook
            .alerts
            .iter()
            .map(|a| state.duplicate_of(a, now))
            .collect();

        let mut eval = Evaluation {
            decisions: Vec::with_capacity(pairs.len()),
            audit: Vec::with_capacity(pairs.len()),
        };
        for (pi, ai) in pairs {
            let policy = &self.policies[pi];
            let alert = &hook.alerts[ai];
            let dry_run = options.dry_run || policy.spec().dry_run;
            let decision = decide(policy, alert, duplicates[ai], state, now, dry_run);
            if decision.outcome == Outcome::Matched && !dry_run {
                state.record_action(
                    policy.name(),
                    &alert.fingerprint,
                    policy.cooldown(),
                    policy.rate_limit(),
                    now,
                );
            }
            eval.audit.push(AuditRecord {
                at: now,
                receiver: hook.receiver.clone(),
                group_key: hook.group_key.clone(),
                decision: decision.clone(),
            });
            eval.decisions.push(decision);
        }
        if !options.dry_run {
            for alert in &hook.alerts {
                state.remember_delivery(alert, now);
            }
        }
        eval
    }

    /// Evaluates single alerts (not from a webhook), e.g. re-checking one alert by hand.
    pub fn evaluate_alerts(
        &self,
        alerts: Vec<Alert>,
        state: &mut SafetyState,
        clock: &dyn Clock,
        options: EvalOptions,
    ) -> Evaluation {
        self.evaluate(&Webhook::from_alerts(alerts), state, clock, options)
    }

    /// A dry run on fresh state: what the policies would do with this webhook, and why
    /// (like `amtool config routes test` or `st2-rule-tester`).
    pub fn dry_run(&self, hook: &Webhook, clock: &dyn Clock) -> Evaluation {
        let mut state = SafetyState::default();
        self.evaluate(hook, &mut state, clock, EvalOptions::dry_run())
    }
}

fn decide(
    policy: &Policy,
    alert: &Alert,
    duplicate_of: Option<Timestamp>,
    state: &SafetyState,
    now: Timestamp,
    dry_run: bool,
) -> Decision {
    let mut d = Decision {
        policy: policy.name().to_string(),
        fingerprint: alert.fingerprint.clone(),
        alertname: alert.label("alertname").to_string(),
        status: alert.status,
        outcome: Outcome::Rejected,
        reason: String::new(),
        action: None,
        dry_run,
    };
    if !policy.spec().enabled {
        d.reason = "policy is disabled (enabled: false)".into();
        return d;
    }
    if alert.status == AlertStatus::Resolved && !policy.spec().on_resolved {
        d.reason = "alert is resolved; this policy acts on firing alerts only (set on_resolved: true to act on resolved ones)".into();
        return d;
    }
    let mut params = serde_json::Map::new();
    for (k, t) in &policy.params {
        match t.render(alert) {
            Ok(v) => {
                params.insert(k.clone(), v);
            }
            Err(u) => {
                d.reason = format!("action.params.{k}: {u}");
                return d;
            }
        }
    }
    d.action = Some(Action {
        tool: policy.spec().action.tool.clone(),
        params,
    });
    d.outcome = Outcome::Suppressed;
    if let Some(first) = duplicate_of {
        d.reason = format!(
            "duplicate delivery: this alert (fingerprint, status, startsAt) was already received at {first} (dedup window {})",
            fmt_duration(state.config().dedup_ttl)
        );
        return d;
    }
    if let Some((at, until)) = state.cooling_down(policy.name(), &alert.fingerprint, now) {
        d.reason = format!("cooldown: acted on this alert at {at}; next action allowed at {until}");
        return d;
    }
    if let Some((max, window)) = policy.rate_limit() {
        let n = state.actions_in_window(policy.name(), window, now);
        if n >= max as usize {
            d.reason = format!(
                "rate limit: {n} actions in the last {} (max_actions {max})",
                fmt_duration(window)
            );
            return d;
        }
    }
    d.outcome = Outcome::Matched;
    d.reason = if dry_run {
        "condition holds; dry run, not acting".into()
    } else {
        "condition holds".into()
    };
    d
}

#[cfg(test)]
impl PolicySet {
    /// `matching` without any index or prefilter: every policy's condition, in order.
    fn matching_full_scan<'a>(&'a self, alert: &Alert) -> Vec<&'a Policy> {
        self.policies
            .iter()
            .filter(|p| p.condition.matches(alert))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;
    use crate::healing::alert::LabelSet;
    use crate::healing::policy::build_regex_index;

    const NAMES: &[&str] = &["alertname", "svc", "team"];
    const VALUES: &[&str] = &["", "x", "y", "xy", "x-1", "svc-5", "svc-5-canary"];
    const REGEXES: &[&str] = &[
        "x",
        "x|y",
        ".*",
        ".+",
        "",
        "x.*",
        "y?",
        "(x|xy)",
        "svc-5(-canary)?",
        "a)|(b",
        "x-[0-9]",
    ];

    fn alert(labels: &LabelSet) -> Alert {
        Alert {
            status: AlertStatus::Firing,
            labels: labels.clone(),
            annotations: LabelSet::new(),
            starts_at: Timestamp::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
            fingerprint: "f".into(),
        }
    }

    fn matcher() -> impl Strategy<Value = String> {
        (
            prop::sample::select(NAMES),
            0..6usize,
            prop::sample::select(VALUES),
            prop::sample::select(REGEXES),
        )
            .prop_map(|(n, op, v, re)| match op {
                0 => format!("{n}={v:?}"),
                1 => format!("{n}!={v:?}"),
                2 => format!("{n}!~{re:?}"),
                // Positive regexes, the prefiltered kind, most often.
                _ => format!("{n}=~{re:?}"),
            })
    }

    fn condition() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            4 => prop::collection::vec(matcher(), 1..4).prop_map(|ms| json!({"matchers": ms})),
            1 => (prop::sample::select(NAMES), prop::sample::select(VALUES))
                .prop_map(|(k, v)| json!({"labels": {k: v}})),
            1 => Just(json!({"status": "firing"})),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"all": cs})),
                prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"any": cs})),
                inner.clone().prop_map(|c| json!({"not": c})),
                (prop::collection::vec(matcher(), 1..3), inner)
                    .prop_map(|(ms, c)| json!({"matchers": ms, "all": [c]})),
            ]
        })
    }

    fn policy_set(conds: &[(Value, u32)]) -> PolicySet {
        let list: Vec<Value> = conds
            .iter()
            .enumerate()
            .map(|(i, (c, prio))| {
                json!({"name": format!("p{i:02}"), "priority": prio, "condition": c,
                       "action": {"tool": "t"}})
            })
            .collect();
        PolicySet::from_json(&Value::Array(list).to_string()).unwrap()
    }

    fn names(ps: &[&Policy]) -> Vec<String> {
        ps.iter().map(|p| p.name().to_string()).collect()
    }

    proptest! {
        #[test]
        fn prefiltered_matching_equals_full_scan(
            conds in prop::collection::vec((condition(), 0..3u32), 1..24),
            alerts in prop::collection::vec(
                prop::collection::btree_map(
                    prop::sample::select(NAMES).prop_map(str::to_string),
                    prop::sample::select(VALUES).prop_map(str::to_string),
                    0..4,
                ),
                1..6,
            ),
            tiny_limit in prop::bool::weighted(0.2),
        ) {
            let mut set = policy_set(&conds);
            if tiny_limit {
                // Every RegexSet fails to build: those labels fall back to the full scan.
                let mut all: Vec<usize> = set.regex_index.iter()
                    .flat_map(|pre| pre.policies.iter().flatten().copied())
                    .chain(set.unindexed.iter().copied())
                    .collect();
                all.sort_unstable();
                let (regex_index, unindexed) = build_regex_index(&set.policies, all, 1);
                prop_assert!(regex_index.is_empty());
                set.regex_index = regex_index;
                set.unindexed = unindexed;
            }
            for labels in &alerts {
                let a = alert(labels);
                prop_assert_eq!(names(&set.matching(&a)), names(&set.matching_full_scan(&a)));
            }
            // The decisions (and their order) equal those of a per-policy evaluation.
            let hook = Webhook::from_alerts(alerts.iter().enumerate().map(|(i, l)| {
                let mut a = alert(l);
                a.fingerprint = format!("f{i}");
                a
            }).collect());
            let clock = crate::healing::safety::ManualClock::new(Timestamp::UNIX_EPOCH);
            let got: Vec<(String, String)> = set.dry_run(&hook, &clock).decisions.iter()
                .map(|d| (d.policy.clone(), d.fingerprint.clone())).collect();
            let mut want = Vec::new();
            for p in &set.policies {
                for a in &hook.alerts {
                    if p.condition_matches(a) {
                        want.push((p.name().to_string(), a.fingerprint.clone()));
                    }
                }
            }
            prop_assert_eq!(got, want);
        }
    }

    /// The benchmark's regex-only shape: each policy is prefiltered under its most selective
    /// regex, so one alert leaves one candidate instead of all of them.
    #[test]
    fn regex_only_policies_are_prefiltered() {
        let conds: Vec<(Value, u32)> = (0..50)
            .map(|i| {
                (
                    json!({"matchers": [
                        "severity=~\"critical|page\"",
                        format!("service=~\"svc-{i}(-canary)?\""),
                        "namespace!~\"kube-.*\"",
                    ]}),
                    (i % 7) as u32,
                )
            })
            .collect();
        let set = policy_set(&conds);
        assert!(set.unindexed.is_empty());
        assert_eq!(set.regex_index.len(), 1);
        assert_eq!(set.regex_index[0].label, "service");
        let labels: LabelSet = [("service", "svc-5-canary"), ("severity", "page")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let a = alert(&labels);
        let mut cands = Vec::new();
        set.candidates(&a, &mut cands);
        assert_eq!(cands.len(), 1);
        assert_eq!(names(&set.matching(&a)), ["p05"]);
        assert_eq!(names(&set.matching_full_scan(&a)), ["p05"]);
    }

    /// A regex that matches "" keeps its policy for alerts without the label, as Alertmanager
    /// reads a missing label as "".
    #[test]
    fn missing_label_reads_as_empty() {
        let set = policy_set(&[
            (json!({"matchers": ["team=~\"x|\""]}), 0),
            (json!({"matchers": ["team=~\".+\""]}), 0),
            (json!({"any": [{"matchers": ["team=~\"x\""]}]}), 0),
        ]);
        let a = alert(&LabelSet::new());
        assert_eq!(names(&set.matching(&a)), ["p00"]);
        assert_eq!(set.unindexed, [2]);
    }
}
