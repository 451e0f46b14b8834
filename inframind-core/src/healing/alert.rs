//! Alertmanager webhook payloads (version 4) and the alerts inside them.
//!
//! The shape is the one Alertmanager's `webhook_config` receiver POSTs. Unknown fields are
//! tolerated (Alertmanager adds fields over time); a malformed payload is an
//! [`Error::Payload`] naming the field, e.g. `alerts[0].startsAt`.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// The webhook payload version this module understands.
pub const WEBHOOK_VERSION: &str = "4";

/// Labels or annotations: a sorted map, so iteration (and fingerprints) are deterministic.
pub type LabelSet = BTreeMap<String, String>;

/// Whether an alert (or a group of alerts) is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert condition holds.
    Firing,
    /// The alert condition stopped holding.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`, as in the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert of a webhook payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// Identifying labels (`alertname`, `severity`, `namespace`, `pod`...).
    #[serde(default)]
    pub labels: LabelSet,
    /// Non-identifying annotations (`summary`, `runbook_url`...).
    #[serde(default)]
    pub annotations: LabelSet,
    /// When the alert started firing.
    #[serde(with = "am_time")]
    pub starts_at: Timestamp,
    /// When the alert resolved; `None` when Alertmanager sent the zero time
    /// `0001-01-01T00:00:00Z` (or nothing), i.e. the alert has no known end.
    #[serde(default, with = "am_time_opt")]
    pub ends_at: Option<Timestamp>,
    /// Link to the rule that generated the alert.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager's fingerprint of the label set (16 hex digits). When a payload omits it,
    /// [`Webhook::from_json`] fills it with [`fingerprint`] of the labels.
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    /// Parses one alert (the element of `alerts[]`) from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(json);
        let mut alert: Alert = serde_path_to_error::deserialize(&mut de).map_err(payload_error)?;
        de.end().map_err(|e| Error::Payload {
            field: "(end)".into(),
            reason: e.to_string(),
        })?;
        alert.fill_fingerprint();
        Ok(alert)
    }

    /// The value of a label; a missing label reads as the empty string, as in Alertmanager.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// The value of an annotation; a missing annotation reads as the empty string.
    pub fn annotation(&self, name: &str) -> &str {
        self.annotations.get(name).map_or("", String::as_str)
    }

    fn fill_fingerprint(&mut self) {
        if self.fingerprint.is_empty() {
            self.fingerprint = fingerprint(&self.labels);
        }
    }
}

/// An Alertmanager webhook notification (payload version 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Payload version; must be `"4"`.
    pub version: String,
    /// Key identifying the alert group (route + group labels).
    #[serde(default)]
    pub group_key: String,
    /// How many alerts Alertmanager dropped because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` when at least one alert of the group fires.
    pub status: AlertStatus,
    /// The receiver that sent this notification.
    #[serde(default)]
    pub receiver: String,
    /// Labels the group is grouped by.
    #[serde(default)]
    pub group_labels: LabelSet,
    /// Labels all alerts of the group share.
    #[serde(default)]
    pub common_labels: LabelSet,
    /// Annotations all alerts of the group share.
    #[serde(default)]
    pub common_annotations: LabelSet,
    /// Alertmanager's external URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts of the group.
    pub alerts: Vec<Alert>,
}

impl Webhook {
    /// Parses and checks a webhook payload.
    ///
    /// ```
    /// use inframind_core::healing::{AlertStatus, Webhook};
    /// let hook = Webhook::from_json(r#"{"version":"4","status":"firing","alerts":[
    ///   {"status":"firing","labels":{"alertname":"HighCPU"},
    ///    "startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#)?;
    /// assert_eq!(hook.alerts[0].status, AlertStatus::Firing);
    /// assert_eq!(hook.alerts[0].ends_at, None);
    /// assert_eq!(hook.alerts[0].fingerprint.len(), 16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        Self::from_slice(json.as_bytes())
    }

    /// Like [`Webhook::from_json`], from bytes (an HTTP body).
    pub fn from_slice(json: &[u8]) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let mut hook: Webhook = serde_path_to_error::deserialize(&mut de).map_err(payload_error)?;
        de.end().map_err(|e| Error::Payload {
            field: "(end)".into(),
            reason: e.to_string(),
        })?;
        if hook.version != WEBHOOK_VERSION {
            return Err(Error::Payload {
                field: "version".into(),
                reason: format!(
                    "version {:?} is not supported; Alertmanager webhook payloads are version \"4\"",
                    hook.version
                ),
            });
        }
        for alert in &mut hook.alerts {
            alert.fill_fingerprint();
        }
        Ok(hook)
    }

    /// Wraps single alerts in a payload, e.g. to evaluate alerts that did not come from a webhook.
    pub fn from_alerts(alerts: Vec<Alert>) -> Self {
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        Webhook {
            version: WEBHOOK_VERSION.into(),
            group_key: String::new(),
            truncated_alerts: 0,
            status,
            receiver: String::new(),
            group_labels: LabelSet::new(),
            common_labels: LabelSet::new(),
            common_annotations: LabelSet::new(),
            external_url: String::new(),
            alerts,
        }
    }
}

fn payload_error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = e.path().to_string();
    let field = if path == "." || path.is_empty() {
        "(payload)".to_string()
    } else {
        path
    };
    Error::Payload {
        field,
        reason: e.into_inner().to_string(),
    }
}

/// Alertmanager's fingerprint of a label set: FNV-1a 64 over the sorted names and values, each
/// followed by the byte `0xff`, printed as 16 hex digits (`model.LabelSet.Fingerprint`).
///
/// ```
/// use inframind_core::healing::{fingerprint, LabelSet};
/// let labels = LabelSet::from([("alertname".to_string(), "HighCPU".to_string())]);
/// assert_eq!(fingerprint(&labels), fingerprint(&labels.clone()));
/// assert_eq!(fingerprint(&LabelSet::new()), "cbf29ce484222325");
/// ```
pub fn fingerprint(labels: &LabelSet) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    format!("{h:016x}")
}

/// Alertmanager's "no time": Go's zero `time.Time`.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

mod am_time {
    use super::*;

    pub(super) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse_time(&s).map_err(serde::de::Error::custom)
    }
}

mod am_time_opt {
    use super::*;

    pub(super) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_str(ZERO_TIME),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => {
                let t = parse_time(s).map_err(serde::de::Error::custom)?;
                Ok(if is_zero_time(t) { None } else { Some(t) })
            }
        }
    }
}

fn is_zero_time(t: Timestamp) -> bool {
    // Go's zero time is year 1; anything before 1970 cannot be a real alert time either, but only
    // the exact zero time means "unset".
    t.as_second() == -62_135_596_800 && t.subsec_nanosecond() == 0
}

fn parse_time(s: &str) -> std::result::Result<Timestamp, String> {
    s.parse::<Timestamp>().map_err(|e| {
        format!("{s:?} is not an RFC 3339 time such as \"2024-05-01T10:00:00.123Z\": {e}")
    })
}
