//! Remediation policies and policy files (JSON or YAML), loaded all-or-nothing.
//!
//! ```yaml
//! policies:
//!   - name: restart-crashlooping-pod
//!     priority: 10                 # lower runs first; default 100
//!     condition:
//!       labels: {alertname: KubePodCrashLooping}
//!       matchers: ['namespace!~"kube-.*"']
//!     action:
//!       tool: restart_pod
//!       params: {namespace: "${label.namespace}", pod: "${label.pod}"}
//!     safety: {cooldown: 10m, max_actions: 5, window: 1h}
//! ```
//!
//! A file is either a list of policies or an object with a `policies` list. Loading checks every
//! policy (unknown keys, matcher syntax, regexes, placeholders, durations, duplicate names) and
//! rejects the whole file with an [`Error::Policy`] naming the policy and the field if one is
//! wrong: nothing is half-loaded.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use regex::{RegexSet, RegexSetBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::healing::condition::{Compiled, Condition};
use crate::healing::params::ParamTemplate;

/// Default priority of a policy.
pub const DEFAULT_PRIORITY: u32 = 100;

/// The most Alertmanager matchers one policy may hold (all of its `matchers` and
/// `annotation_matchers`, at any depth). A condition that needs more is better split into
/// several policies or written with a regex alternation.
pub const MAX_MATCHERS_PER_POLICY: usize = 64;

/// The most matchers a policy set may hold in all. Evaluating an alert may run every one, so
/// this bounds the time per alert; a thousand policies of three matchers each fit.
pub const MAX_MATCHERS_PER_SET: usize = 4096;

/// The compiled size all regex matchers of a set may take together. Each matcher counts the
/// size class it compiled within (2 KiB for a plain alternation, 64 KiB for a Unicode class
/// such as `\w`, at most [`MAX_MATCHER_REGEX_BYTES`](crate::healing::MAX_MATCHER_REGEX_BYTES)),
/// so a set holds 128 matchers of the largest class, 512 using `\w`, or
/// [`MAX_MATCHERS_PER_SET`] plain ones.
pub const MAX_SET_REGEX_BYTES: usize = 32 * 1024 * 1024;

/// The action a policy asks the host to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Name of the tool the host runs (`restart_pod`, `scale_deployment`...).
    pub tool: String,
    /// Parameters; every string may hold placeholders such as `${label.pod}`.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// Safety settings of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetySpec {
    /// After acting on an alert fingerprint, do not act on it again for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<DurationSpec>,
    /// At most this many actions of the policy per `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_actions: Option<u32>,
    /// The window of `max_actions` (default 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DurationSpec>,
}

/// Default window of `max_actions`.
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(3600);

fn default_priority() -> u32 {
    DEFAULT_PRIORITY
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_priority(p: &u32) -> bool {
    *p == DEFAULT_PRIORITY
}

/// A policy as written in a policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Unique name; decisions and audit records carry it.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which alerts the policy acts on.
    pub condition: Condition,
    /// What to run.
    pub action: ActionSpec,
    /// Lower runs first; ties are broken by name.
    #[serde(
        default = "default_priority",
        skip_serializing_if = "is_default_priority"
    )]
    pub priority: u32,
    /// A disabled policy still reports `rejected` decisions (so you can see what it would hit).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Act on resolved alerts too (by default only firing alerts trigger).
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_resolved: bool,
    /// Decide but never act: decisions are marked `dry_run` and change no safety state.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Cooldown and rate limit.
    #[serde(default, skip_serializing_if = "SafetySpec::is_empty")]
    pub safety: SafetySpec,
}

impl SafetySpec {
    fn is_empty(&self) -> bool {
        *self == SafetySpec::default()
    }
}

/// A checked, compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    spec: PolicySpec,
    pub(crate) condition: Compiled,
    pub(crate) params: Vec<(String, ParamTemplate)>,
}

impl Policy {
    /// Checks and compiles one policy.
    pub fn new(spec: PolicySpec) -> Result<Self> {
        let err = |field: String, reason: String| Error::Policy {
            policy: spec.name.clone(),
            field,
            reason,
        };
        if spec.name.trim().is_empty() {
            return Err(err("name".into(), "must not be empty".into()));
        }
        if spec.action.tool.trim().is_empty() {
            return Err(err(
                "action.tool".into(),
                "must name the tool to run".into(),
            ));
        }
        let condition = spec
            .condition
            .compile("condition")
            .map_err(|(f, r)| err(f, r))?;
        let matchers = condition.matchers();
        if let Some(first_over) = matchers.get(MAX_MATCHERS_PER_POLICY) {
            return Err(err(
                "condition".into(),
                format!(
                    "{} matchers, more than the {MAX_MATCHERS_PER_POLICY} a policy may hold \
                     (the first one over is {first_over}); split the policy or join values \
                     into one regex alternation",
                    matchers.len()
                ),
            ));
        }
        let params = spec
            .action
            .params
            .iter()
            .map(|(k, v)| {
                let path = format!("action.params.{k}");
                ParamTemplate::parse(v, &path).map(|t| (k.clone(), t))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|(f, r)| err(f, r))?;
        if spec.safety.max_actions == Some(0) {
            return Err(err(
                "safety.max_actions".into(),
                "0 would never act; remove the policy or set enabled: false".into(),
            ));
        }
        if spec.safety.window.is_some() && spec.safety.max_actions.is_none() {
            return Err(err(
                "safety.window".into(),
                "a window without max_actions limits nothing; add max_actions".into(),
            ));
        }
        if spec.safety.window.is_some_and(|w| w.0.is_zero()) {
            return Err(err("safety.window".into(), "must be longer than 0s".into()));
        }
        Ok(Policy {
            spec,
            condition,
            params,
        })
    }

    /// The policy as written.
    pub fn spec(&self) -> &PolicySpec {
        &self.spec
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The policy's priority.
    pub fn priority(&self) -> u32 {
        self.spec.priority
    }

    /// Whether the condition holds for the alert (status and enabled flag not considered).
    pub fn condition_matches(&self, alert: &crate::healing::alert::Alert) -> bool {
        self.condition.matches(alert)
    }

    pub(crate) fn cooldown(&self) -> Option<Duration> {
        self.spec.safety.cooldown.map(|d| d.0)
    }

    pub(crate) fn rate_limit(&self) -> Option<(u32, Duration)> {
        self.spec.safety.max_actions.map(|m| {
            (
                m,
                self.spec.safety.window.map_or(DEFAULT_RATE_WINDOW, |w| w.0),
            )
        })
    }
}

/// A loaded set of policies, sorted by priority then name.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub(crate) policies: Vec<Policy>,
    /// Policy indices (sorted) by a (label, value) their condition requires: label name ->
    /// value -> policies. Most policies name the `alertname` they handle, so evaluating one
    /// alert looks at the few policies that can match instead of all of them.
    pub(crate) index: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Policies with no equality key that require a positive regex (`name=~"re"`), by label
    /// name: one `RegexSet` per label, run once per alert. Sorted by label name.
    pub(crate) regex_index: Vec<RegexPrefilter>,
    /// Policies whose condition requires no particular label value or regex (sorted), and those
    /// of a label whose `RegexSet` could not be built; always checked.
    pub(crate) unindexed: Vec<usize>,
}

/// The policies prefiltered on one label: each is listed under one regex its condition
/// requires, and can match an alert only if that regex matches the alert's value of the label
/// (`""` when the label is missing, as in Alertmanager).
#[derive(Debug, Clone)]
pub(crate) struct RegexPrefilter {
    /// The label name.
    pub(crate) label: String,
    /// The distinct anchored patterns (`^(?:re)$`, as each matcher compiled them).
    pub(crate) set: RegexSet,
    /// Per pattern of `set`: the policies (sorted) listed under it.
    pub(crate) policies: Vec<Vec<usize>>,
}

/// The compiled-size limit of one prefilter `RegexSet` (the regex crate's default for a
/// single regex). A label whose set is larger falls back to the full scan.
const REGEX_SET_SIZE_LIMIT: usize = 10 * (1 << 20);

/// Splits the policies without an equality key into regex prefilters and the rest (sorted).
///
/// Each policy is listed under one of its required regexes: the one shared by the fewest
/// policies (the most selective guess), the first on ties. A set that fails to build (size
/// limit) sends its label's policies back to the full scan; a valid policy file never fails
/// here.
pub(crate) fn build_regex_index(
    policies: &[Policy],
    unindexed: Vec<usize>,
    size_limit: usize,
) -> (Vec<RegexPrefilter>, Vec<usize>) {
    let required: Vec<(usize, Vec<(&str, &str)>)> = unindexed
        .iter()
        .map(|&i| {
            let rs = policies[i]
                .condition
                .required_regexes()
                .into_iter()
                .filter_map(|m| m.anchored_regex().map(|re| (m.name(), re)))
                .collect();
            (i, rs)
        })
        .collect();
    let mut shared: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, rs) in &required {
        for &key in rs {
            *shared.entry(key).or_default() += 1;
        }
    }
    // label -> (patterns, pattern -> slot, policies per slot)
    type Group<'a> = (Vec<&'a str>, HashMap<&'a str, usize>, Vec<Vec<usize>>);
    let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    let mut rest = Vec::new();
    for (i, rs) in &required {
        let Some(&(label, re)) = rs.iter().min_by_key(|k| shared.get(*k).copied()) else {
            rest.push(*i);
            continue;
        };
        let (patterns, slots, lists) = groups.entry(label).or_default();
        let slot = *slots.entry(re).or_insert_with(|| {
            patterns.push(re);
            lists.push(Vec::new());
            patterns.len() - 1
        });
        lists[slot].push(*i);
    }
    let mut index = Vec::new();
    for (label, (patterns, _, lists)) in groups {
        match RegexSetBuilder::new(&patterns)
            .size_limit(size_limit)
            .build()
        {
            Ok(set) => index.push(RegexPrefilter {
                label: label.to_string(),
                set,
                policies: lists,
            }),
            Err(_) => rest.extend(lists.into_iter().flatten()),
        }
    }
    rest.sort_unstable();
    (index, rest)
}

/// Checks the set's totals of matchers, naming the policy and the matcher that goes over.
fn check_set_budget(policies: &[Policy]) -> Result<()> {
    let (mut total, mut bytes) = (0usize, 0usize);
    for p in policies {
        for m in p.condition.matchers() {
            total += 1;
            bytes += m.regex_budget();
            let over = if total > MAX_MATCHERS_PER_SET {
                format!("the policies hold more than {MAX_MATCHERS_PER_SET} matchers in all")
            } else if bytes > MAX_SET_REGEX_BYTES {
                format!(
                    "the policies' regexes compile to more than {} MiB in all",
                    MAX_SET_REGEX_BYTES >> 20
                )
            } else {
                continue;
            };
            return Err(Error::Policy {
                policy: p.spec.name.clone(),
                field: "condition".into(),
                reason: format!(
                    "{over}, and this policy's {m} goes over; simplify or remove policies"
                ),
            });
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct FileOut<'a> {
    policies: Vec<&'a PolicySpec>,
}

impl PolicySet {
    /// Checks and compiles policies; one bad policy rejects them all.
    pub fn new(specs: Vec<PolicySpec>) -> Result<Self> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, s) in specs.iter().enumerate() {
            if let Some(first) = seen.insert(s.name.as_str(), i) {
                return Err(Error::Policy {
                    policy: s.name.clone(),
                    field: "name".into(),
                    reason: format!(
                        "policies[{first}] and policies[{i}] share this name; names must be unique"
                    ),
                });
            }
        }
        let mut policies = specs
            .into_iter()
            .map(Policy::new)
            .collect::<Result<Vec<_>>>()?;
        check_set_budget(&policies)?;
        policies
            .sort_by(|a, b| (a.spec.priority, &a.spec.name).cmp(&(b.spec.priority, &b.spec.name)));
        let mut index: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut unindexed = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            match p.condition.index_key() {
                Some((k, v)) => index
                    .entry(k.to_string())
                    .or_default()
                    .entry(v.to_string())
                    .or_default()
                    .push(i),
                None => unindexed.push(i),
            }
        }
        let (regex_index, unindexed) =
            build_regex_index(&policies, unindexed, REGEX_SET_SIZE_LIMIT);
        Ok(PolicySet {
            policies,
            index,
            regex_index,
            unindexed,
        })
    }

    /// Loads a JSON policy file (a list, or an object with a `policies` list).
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Policy {
            policy: "(file)".into(),
            field: "(syntax)".into(),
            reason: format!("not valid JSON: {e}"),
        })?;
        Self::from_value(value)
    }

    /// Loads a YAML policy file (same shape as JSON).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_norway::from_str(text).map_err(|e| Error::Policy {
            policy: "(file)".into(),
            field: "(syntax)".into(),
            reason: format!("not valid YAML (or not representable as JSON): {e}"),
        })?;
        Self::from_value(value)
    }

    /// Loads a policy file, YAML when the name ends in `.yaml`/`.yml`, JSON otherwise.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Self::from_yaml(&text),
            _ => Self::from_json(&text),
        }
    }

    fn from_value(value: serde_json::Value) -> Result<Self> {
        let list = match value {
            serde_json::Value::Array(list) => list,
            serde_json::Value::Object(mut map) => {
                let extra: Vec<&String> = map.keys().filter(|k| *k != "policies").collect();
                if let Some(k) = extra.first() {
                    return Err(Error::Policy {
                        policy: "(file)".into(),
                        field: (*k).clone(),
                        reason: "unknown top-level key; a policy file holds `policies: [...]`"
                            .into(),
                    });
                }
                match map.remove("policies") {
                    Some(serde_json::Value::Array(list)) => list,
                    _ => {
                        return Err(Error::Policy {
                            policy: "(file)".into(),
                            field: "policies".into(),
                            reason: "must be a list of policies".into(),
                        })
                    }
                }
            }
            _ => {
                return Err(Error::Policy {
                    policy: "(file)".into(),
                    field: "(root)".into(),
                    reason: "a policy file is a list of policies or {policies: [...]}".into(),
                })
            }
        };
        let specs = list
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let name = v
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map_or_else(|| format!("policies[{i}]"), str::to_string);
                serde_path_to_error::deserialize::<_, PolicySpec>(v).map_err(|e| {
                    let path = e.path().to_string();
                    Error::Policy {
                        policy: name,
                        field: if path == "." { "(policy)".into() } else { path },
                        reason: e.into_inner().to_string(),
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(specs)
    }

    /// The policies in evaluation order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether there are no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policies as written, in evaluation order.
    pub fn specs(&self) -> Vec<PolicySpec> {
        self.policies.iter().map(|p| p.spec.clone()).collect()
    }

    /// Writes the set as a JSON policy file (`{"policies": [...]}`).
    pub fn to_json(&self) -> Result<String> {
        let out = FileOut {
            policies: self.policies.iter().map(|p| &p.spec).collect(),
        };
        serde_json::to_string_pretty(&out).map_err(|source| Error::Json {
            what: "policy file",
            source,
        })
    }

    /// Writes the set as a YAML policy file.
    pub fn to_yaml(&self) -> Result<String> {
        let out = FileOut {
            policies: self.policies.iter().map(|p| &p.spec).collect(),
        };
        serde_norway::to_string(&out)
            .map_err(|e| Error::format("policy file as YAML", e.to_string()))
    }
}

/// A duration written as integer seconds or Prometheus-style text: `30s`, `5m`, `1h30m`, `1d`,
/// `500ms`. It is written back in that text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurationSpec(pub Duration);

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.0.as_millis();
        if total_ms == 0 {
            return f.write_str("0s");
        }
        let units: [(&str, u128); 6] = [
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ];
        let mut rest = total_ms;
        for (name, size) in units {
            if rest >= size {
                write!(f, "{}{name}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for DurationSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a duration; write e.g. 30s, 5m, 1h30m, 1d, 500ms or a number of seconds")
        };
        let s = s.trim();
        if s.is_empty() {
            return Err(bad());
        }
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(DurationSpec(Duration::from_secs(secs)));
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let size: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(size)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
        }
        let ms = u64::try_from(total).map_err(|_| bad())?;
        Ok(DurationSpec(Duration::from_millis(ms)))
    }
}

impl Serialize for DurationSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(DurationSpec(Duration::from_secs(s))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Policies keyed by name, for hosts that want to look one up.
impl PolicySet {
    /// The policy with this name.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.spec.name == name)
    }

    /// Policy names grouped by priority, in evaluation order.
    pub fn by_priority(&self) -> BTreeMap<u32, Vec<&str>> {
        let mut out: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for p in &self.policies {
            out.entry(p.spec.priority).or_default().push(&p.spec.name);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const YAML: &str = r#"
policies:
  - name: restart-crashlooping-pod
    priority: 10
    condition:
      labels: {alertname: KubePodCrashLooping}
      matchers: ['namespace!~"kube-.*"']
    action:
      tool: restart_pod
      params: {namespace: "${label.namespace}", pod: "${label.pod}"}
    safety: {cooldown: 10m, max_actions: 5, window: 1h}
  - name: a-scale-up
    condition: {label: alertname, value: HighCPU}
    action: {tool: scale, params: {replicas: 3}}
"#;

    #[test]
    fn loads_yaml_sorted_by_priority_then_name() {
        let set = PolicySet::from_yaml(YAML).unwrap();
        let names: Vec<&str> = set.policies().iter().map(Policy::name).collect();
        assert_eq!(names, ["restart-crashlooping-pod", "a-scale-up"]);
        assert_eq!(set.policies()[0].cooldown(), Some(Duration::from_secs(600)));
        assert_eq!(set.index["alertname"].len(), 2);
    }

    #[test]
    fn one_bad_policy_rejects_the_file_naming_policy_and_field() {
        let bad = YAML.replace("${label.pod}", "${labels.pod}");
        match PolicySet::from_yaml(&bad) {
            Err(Error::Policy { policy, field, .. }) => {
                assert_eq!(policy, "restart-crashlooping-pod");
                assert_eq!(field, "action.params.pod");
            }
            other => panic!("{other:?}"),
        }
        let bad = YAML.replace("priority: 10", "priorty: 10");
        match PolicySet::from_yaml(&bad) {
            Err(Error::Policy { policy, reason, .. }) => {
                assert_eq!(policy, "restart-crashlooping-pod");
                assert!(reason.contains("priorty"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let bad = YAML.replace("cooldown: 10m", "cooldown: 10 minutes");
        match PolicySet::from_yaml(&bad) {
            Err(Error::Policy { field, .. }) => assert_eq!(field, "safety.cooldown"),
            other => panic!("{other:?}"),
        }
        let bad = YAML.replace("name: a-scale-up", "name: restart-crashlooping-pod");
        assert!(
            matches!(PolicySet::from_yaml(&bad), Err(Error::Policy { field, .. }) if field == "name")
        );
    }

    #[test]
    fn durations() {
        for (text, secs) in [
            ("30s", 30),
            ("5m", 300),
            ("1h30m", 5400),
            ("1d", 86400),
            ("90", 90),
        ] {
            let d: DurationSpec = text.parse().unwrap();
            assert_eq!(d.0, Duration::from_secs(secs), "{text}");
            let again: DurationSpec = d.to_string().parse().unwrap();
            assert_eq!(again, d);
        }
        assert_eq!(
            "1500ms".parse::<DurationSpec>().unwrap().to_string(),
            "1s500ms"
        );
        for bad in ["", "5", "m", "5x", "1h-3m", "99999999999999999999999d"] {
            if bad == "5" {
                continue;
            }
            assert!(bad.parse::<DurationSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_json_and_yaml() {
        let set = PolicySet::from_yaml(YAML).unwrap();
        let from_json = PolicySet::from_json(&set.to_json().unwrap()).unwrap();
        assert_eq!(from_json.specs(), set.specs());
        let from_yaml = PolicySet::from_yaml(&set.to_yaml().unwrap()).unwrap();
        assert_eq!(from_yaml.specs(), set.specs());
    }
}
