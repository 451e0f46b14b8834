//! Policy conditions: the forms users already write, compiled once when the policy loads.
//!
//! A condition is an object whose keys are all checked (logical AND):
//!
//! | key | meaning |
//! |---|---|
//! | `labels: {k: v, ...}` | every label equals the value (a missing label equals `""`) |
//! | `label: k` + `value: v` | one label equals the value |
//! | `status: firing \| resolved` | the alert's status |
//! | `matchers: ["severity=~\"critical\|page\"", ...]` | Alertmanager matchers on labels; each entry may hold a comma-separated list |
//! | `annotations: {k: v}` | every annotation equals the value |
//! | `annotation_matchers: [...]` | Alertmanager matchers on annotations |
//! | `all: [cond, ...]` / `any: [cond, ...]` / `not: cond` | combinators |
//!
//! An empty condition `{}` is refused: write `{"all": []}` to match every alert on purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::healing::alert::{Alert, AlertStatus, LabelSet};
use crate::healing::matcher::{parse_matchers, MatchType, Matcher};

/// A condition as written in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Condition {
    /// Labels that must all equal the given values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// A single label name; requires `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The value `label` must equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The alert status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// Alertmanager matchers on labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matchers: Option<Vec<String>>,
    /// Annotations that must all equal the given values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Alertmanager matchers on annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_matchers: Option<Vec<String>>,
    /// Every sub-condition holds (`[]` holds always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<Condition>>,
    /// At least one sub-condition holds (`[]` never holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<Condition>>,
    /// The sub-condition does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<Condition>>,
}

impl Condition {
    /// `{"labels": {...}}`.
    pub fn labels<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Condition {
            labels: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            ..Condition::default()
        }
    }

    /// `{"matchers": [...]}`.
    pub fn matchers<S: Into<String>>(matchers: impl IntoIterator<Item = S>) -> Self {
        Condition {
            matchers: Some(matchers.into_iter().map(Into::into).collect()),
            ..Condition::default()
        }
    }

    /// `{"status": ...}`.
    pub fn status(status: AlertStatus) -> Self {
        Condition {
            status: Some(status),
            ..Condition::default()
        }
    }

    /// `{"all": [...]}`.
    pub fn all(conditions: Vec<Condition>) -> Self {
        Condition {
            all: Some(conditions),
            ..Condition::default()
        }
    }

    /// `{"any": [...]}`.
    pub fn any(conditions: Vec<Condition>) -> Self {
        Condition {
            any: Some(conditions),
            ..Condition::default()
        }
    }

    /// `{"not": ...}`.
    pub fn negate(condition: Condition) -> Self {
        Condition {
            not: Some(Box::new(condition)),
            ..Condition::default()
        }
    }

    /// Compiles the condition; the error is `(field path, reason)` relative to `path`.
    pub(crate) fn compile(&self, path: &str) -> Result<Compiled, (String, String)> {
        let mut checks = Vec::new();
        if let Some(labels) = &self.labels {
            for (k, v) in labels {
                check_label_name(k, &format!("{path}.labels"))?;
                checks.push(Check::LabelEq(k.clone(), v.clone()));
            }
        }
        match (&self.label, &self.value) {
            (Some(k), Some(v)) => {
                check_label_name(k, &format!("{path}.label"))?;
                checks.push(Check::LabelEq(k.clone(), v.clone()));
            }
            (Some(_), None) => {
                return Err((
                    format!("{path}.value"),
                    "`label` needs a `value` to compare with".into(),
                ))
            }
            (None, Some(_)) => {
                return Err((
                    format!("{path}.label"),
                    "`value` needs a `label` naming which label to compare".into(),
                ))
            }
            (None, None) => {}
        }
        if let Some(s) = self.status {
            checks.push(Check::Status(s));
        }
        if let Some(ms) = &self.matchers {
            checks.push(Check::Labels(compile_matchers(
                ms,
                &format!("{path}.matchers"),
            )?));
        }
        if let Some(annotations) = &self.annotations {
            for (k, v) in annotations {
                check_label_name(k, &format!("{path}.annotations"))?;
                checks.push(Check::AnnotationEq(k.clone(), v.clone()));
            }
        }
        if let Some(ms) = &self.annotation_matchers {
            checks.push(Check::Annotations(compile_matchers(
                ms,
                &format!("{path}.annotation_matchers"),
            )?));
        }
        if let Some(all) = &self.all {
            let subs = all
                .iter()
                .enumerate()
                .map(|(i, c)| c.compile(&format!("{path}.all[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            checks.push(Check::All(subs));
        }
        if let Some(any) = &self.any {
            let subs = any
                .iter()
                .enumerate()
                .map(|(i, c)| c.compile(&format!("{path}.any[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            checks.push(Check::Any(subs));
        }
        if let Some(not) = &self.not {
            checks.push(Check::Not(Box::new(not.compile(&format!("{path}.not"))?)));
        }
        if checks.is_empty() {
            return Err((
                path.to_string(),
                "empty condition; give labels, label+value, status, matchers, annotations, \
                 annotation_matchers, all, any or not (write {\"all\": []} to match every alert)"
                    .into(),
            ));
        }
        Ok(Compiled { checks })
    }
}

fn check_label_name(name: &str, path: &str) -> Result<(), (String, String)> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok {
        Ok(())
    } else {
        Err((
            path.to_string(),
            format!("{name:?} is not a valid label name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
        ))
    }
}

fn compile_matchers(list: &[String], path: &str) -> Result<Vec<Matcher>, (String, String)> {
    let mut out = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let ms = parse_matchers(text).map_err(|e| (format!("{path}[{i}]"), e.to_string()))?;
        out.extend(ms);
    }
    Ok(out)
}

/// A compiled condition: regexes built, names checked.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    checks: Vec<Check>,
}

#[derive(Debug, Clone)]
enum Check {
    LabelEq(String, String),
    AnnotationEq(String, String),
    Status(AlertStatus),
    Labels(Vec<Matcher>),
    Annotations(Vec<Matcher>),
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
}

fn get<'a>(set: &'a LabelSet, name: &str) -> &'a str {
    set.get(name).map_or("", String::as_str)
}

impl Compiled {
    pub(crate) fn matches(&self, alert: &Alert) -> bool {
        self.checks.iter().all(|c| match c {
            Check::LabelEq(k, v) => get(&alert.labels, k) == v,
            Check::AnnotationEq(k, v) => get(&alert.annotations, k) == v,
            Check::Status(s) => alert.status == *s,
            Check::Labels(ms) => ms.iter().all(|m| m.matches(&alert.labels)),
            Check::Annotations(ms) => ms.iter().all(|m| m.matches(&alert.annotations)),
            Check::All(subs) => subs.iter().all(|s| s.matches(alert)),
            Check::Any(subs) => subs.iter().any(|s| s.matches(alert)),
            Check::Not(sub) => !sub.matches(alert),
        })
    }

    /// Every Alertmanager matcher of the condition (on labels and annotations, at any depth).
    pub(crate) fn matchers(&self) -> Vec<&Matcher> {
        let mut out = Vec::new();
        self.collect_matchers(&mut out);
        out
    }

    fn collect_matchers<'a>(&'a self, out: &mut Vec<&'a Matcher>) {
        for c in &self.checks {
            match c {
                Check::Labels(ms) | Check::Annotations(ms) => out.extend(ms.iter()),
                Check::All(subs) | Check::Any(subs) => {
                    for s in subs {
                        s.collect_matchers(out);
                    }
                }
                Check::Not(sub) => sub.collect_matchers(out),
                Check::LabelEq(..) | Check::AnnotationEq(..) | Check::Status(_) => {}
            }
        }
    }

    /// A (label, value) every matching alert must carry, preferring `alertname`: the key the
    /// policy set indexes the policy under. Only non-empty equalities count.
    pub(crate) fn index_key(&self) -> Option<(&str, &str)> {
        if let Some(v) = self.required_label("alertname") {
            return Some(("alertname", v));
        }
        self.checks.iter().find_map(|c| match c {
            Check::LabelEq(k, v) if !v.is_empty() => Some((k.as_str(), v.as_str())),
            Check::Labels(ms) => ms
                .iter()
                .find(|m| m.op() == MatchType::Equal && !m.value().is_empty())
                .map(|m| (m.name(), m.value())),
            Check::All(subs) => subs.iter().find_map(Compiled::index_key),
            _ => None,
        })
    }

    /// The positive label regex matchers (`name=~"re"`) every matching alert must satisfy: the
    /// top-level conjuncts (plain matcher lists and `all`), never those under `any` or `not`.
    /// The policy set prefilters on them.
    pub(crate) fn required_regexes(&self) -> Vec<&Matcher> {
        let mut out = Vec::new();
        self.collect_required_regexes(&mut out);
        out
    }

    fn collect_required_regexes<'a>(&'a self, out: &mut Vec<&'a Matcher>) {
        for c in &self.checks {
            match c {
                Check::Labels(ms) => {
                    out.extend(ms.iter().filter(|m| m.op() == MatchType::Regexp));
                }
                Check::All(subs) => {
                    for s in subs {
                        s.collect_required_regexes(out);
                    }
                }
                _ => {}
            }
        }
    }

    /// A label value every matching alert must carry, if the condition demands one.
    /// Only non-empty equalities count.
    pub(crate) fn required_label(&self, name: &str) -> Option<&str> {
        self.checks.iter().find_map(|c| match c {
            Check::LabelEq(k, v) if k == name && !v.is_empty() => Some(v.as_str()),
            Check::Labels(ms) => ms
                .iter()
                .find(|m| m.name() == name && m.op() == MatchType::Equal && !m.value().is_empty())
                .map(Matcher::value),
            Check::All(subs) => subs.iter().find_map(|s| s.required_label(name)),
            _ => None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alert(status: AlertStatus, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Alert {
        Alert {
            status,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            starts_at: jiff::Timestamp::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
            fingerprint: "f".into(),
        }
    }

    fn cond(json: &str) -> Compiled {
        let c: Condition = serde_json::from_str(json).unwrap();
        c.compile("condition").unwrap()
    }

    #[test]
    fn the_three_user_forms() {
        let a = alert(
            AlertStatus::Firing,
            &[("alertname", "HighCPU"), ("severity", "critical")],
            &[],
        );
        assert!(
            cond(r#"{"labels": {"alertname": "HighCPU", "severity": "critical"}}"#).matches(&a)
        );
        assert!(!cond(r#"{"labels": {"alertname": "HighCPU", "severity": "page"}}"#).matches(&a));
        assert!(cond(r#"{"label": "alertname", "value": "HighCPU"}"#).matches(&a));
        assert!(cond(r#"{"status": "firing"}"#).matches(&a));
        assert!(!cond(r#"{"status": "resolved"}"#).matches(&a));
    }

    #[test]
    fn matchers_annotations_and_combinators() {
        let a = alert(
            AlertStatus::Firing,
            &[("severity", "page"), ("namespace", "shop")],
            &[("runbook_url", "https://runbooks/disk")],
        );
        assert!(cond(
            r#"{"matchers": ["severity=~\"critical|page\"", "namespace!=\"kube-system\""]}"#
        )
        .matches(&a));
        assert!(cond(r#"{"annotation_matchers": ["runbook_url=~\"https://.*\""]}"#).matches(&a));
        assert!(cond(r#"{"annotations": {"runbook_url": "https://runbooks/disk"}}"#).matches(&a));
        assert!(cond(
            r#"{"any": [{"status": "resolved"}, {"label": "namespace", "value": "shop"}]}"#
        )
        .matches(&a));
        assert!(!cond(r#"{"not": {"label": "namespace", "value": "shop"}}"#).matches(&a));
        assert!(cond(r#"{"all": []}"#).matches(&a));
        assert!(!cond(r#"{"any": []}"#).matches(&a));
        // Keys of one object are ANDed.
        assert!(!cond(r#"{"status": "firing", "labels": {"namespace": "other"}}"#).matches(&a));
    }

    #[test]
    fn errors_name_the_field() {
        let c: Condition = serde_json::from_str(
            r#"{"all": [{"status": "firing"}, {"matchers": ["a=\"b\"c\""]}]}"#,
        )
        .unwrap();
        let (field, reason) = c.compile("condition").unwrap_err();
        assert_eq!(field, "condition.all[1].matchers[0]");
        assert!(reason.contains("byte"), "{reason}");
        let c: Condition = serde_json::from_str(r#"{"label": "x"}"#).unwrap();
        assert_eq!(c.compile("condition").unwrap_err().0, "condition.value");
        let c: Condition = serde_json::from_str("{}").unwrap();
        assert!(c
            .compile("condition")
            .unwrap_err()
            .1
            .contains("empty condition"));
        assert!(serde_json::from_str::<Condition>(r#"{"lables": {}}"#).is_err());
    }

    #[test]
    fn index_key_prefers_alertname() {
        assert_eq!(
            cond(r#"{"labels": {"a": "1", "alertname": "X"}}"#).index_key(),
            Some(("alertname", "X"))
        );
        assert_eq!(
            cond(r#"{"matchers": ["svc=~\"a|b\"", "job=\"node\""]}"#).index_key(),
            Some(("job", "node"))
        );
        assert_eq!(cond(r#"{"matchers": ["job!=\"node\""]}"#).index_key(), None);
    }

    #[test]
    fn required_label_for_indexing() {
        assert_eq!(
            cond(r#"{"labels": {"alertname": "X"}}"#).required_label("alertname"),
            Some("X")
        );
        assert_eq!(
            cond(r#"{"all": [{"matchers": ["alertname=\"Y\""]}]}"#).required_label("alertname"),
            Some("Y")
        );
        assert_eq!(
            cond(r#"{"any": [{"labels": {"alertname": "X"}}]}"#).required_label("alertname"),
            None
        );
    }
}
