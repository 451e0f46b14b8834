#![cfg(feature = "healing")]
//! Alertmanager webhook payloads through the public API: parsing, field-naming errors, the JSON
//! round trip and Alertmanager's fingerprint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inframind_core::healing::{fingerprint, AlertStatus, LabelSet, Webhook};
use inframind_core::Error;

const SAMPLE: &str = r#"{
  "version": "4",
  "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "inframind",
  "groupLabels": {"alertname": "KubePodCrashLooping"},
  "commonLabels": {"alertname": "KubePodCrashLooping", "severity": "warning"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "somethingNew": {"ignored": true},
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f", "severity": "warning"},
     "annotations": {"summary": "Pod shop/cart-7d9f is crash looping"},
     "startsAt": "2024-05-01T10:00:00.123456789Z",
     "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
     "fingerprint": "d4d5b3a8b7e1f3c2"},
    {"status": "resolved",
     "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-aaaa"},
     "annotations": {},
     "startsAt": "2024-05-01T09:00:00+02:00",
     "endsAt": "2024-05-01T09:30:00Z",
     "generatorURL": "",
     "fingerprint": ""}
  ]
}"#;

#[test]
fn parses_a_real_shaped_payload() {
    let hook = Webhook::from_json(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hook.alerts.len(), 2);
    assert_eq!(hook.alerts[0].ends_at, None);
    assert_eq!(hook.alerts[0].label("pod"), "cart-7d9f");
    assert_eq!(hook.alerts[0].label("missing"), "");
    assert_eq!(hook.alerts[1].status, AlertStatus::Resolved);
    assert_eq!(
        hook.alerts[1].starts_at.to_string(),
        "2024-05-01T07:00:00Z",
        "offsets are normalised to UTC"
    );
    // An empty fingerprint is filled from the labels.
    assert_eq!(
        hook.alerts[1].fingerprint,
        fingerprint(&hook.alerts[1].labels)
    );
}

#[test]
fn malformed_payload_names_the_field() {
    let bad = SAMPLE.replace("2024-05-01T10:00:00.123456789Z", "yesterday");
    match Webhook::from_json(&bad) {
        Err(Error::Payload { field, reason }) => {
            assert_eq!(field, "alerts[0].startsAt");
            assert!(reason.contains("yesterday"), "{reason}");
        }
        other => panic!("expected a payload error, got {other:?}"),
    }
    let bad = SAMPLE.replace(r#""status": "resolved""#, r#""status": "pending""#);
    match Webhook::from_json(&bad) {
        Err(Error::Payload { field, .. }) => assert_eq!(field, "alerts[1].status"),
        other => panic!("expected a payload error, got {other:?}"),
    }
    match Webhook::from_json(&SAMPLE.replace(r#""version": "4""#, r#""version": "3""#)) {
        Err(Error::Payload { field, .. }) => assert_eq!(field, "version"),
        other => panic!("expected a payload error, got {other:?}"),
    }
    match Webhook::from_json(r#"{"version":"4","status":"firing"}"#) {
        Err(Error::Payload { reason, .. }) => assert!(reason.contains("alerts"), "{reason}"),
        other => panic!("expected a payload error, got {other:?}"),
    }
}

#[test]
fn round_trips_through_json() {
    let hook = Webhook::from_json(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_string(&hook).unwrap_or_else(|e| panic!("{e}"));
    assert!(json.contains("0001-01-01T00:00:00Z"));
    let again = Webhook::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hook, again);
}

#[test]
fn fingerprint_is_fnv1a_over_sorted_labels() {
    // Reference value computed with prometheus/common model.LabelSet{"alertname":"HighCPU"}
    // semantics: FNV-1a 64 of "alertname\xffHighCPU\xff".
    let mut expected: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"alertname\xffHighCPU\xff" {
        expected ^= u64::from(*b);
        expected = expected.wrapping_mul(0x100_0000_01b3);
    }
    let labels = LabelSet::from([("alertname".to_string(), "HighCPU".to_string())]);
    assert_eq!(fingerprint(&labels), format!("{expected:016x}"));
}
