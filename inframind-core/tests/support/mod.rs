//! Helpers shared by the `healing_*` integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use inframind_core::healing::{Alert, AlertStatus, LabelSet};

/// `inframind-core/tests/data/healing/<rel>`.
pub(crate) fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/healing")
        .join(rel)
}

/// A firing alert with these labels, its fingerprint computed like Alertmanager does.
pub(crate) fn alert(labels: &[(&str, &str)]) -> Alert {
    let labels: LabelSet = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Alert {
        status: AlertStatus::Firing,
        fingerprint: inframind_core::healing::fingerprint(&labels),
        labels,
        annotations: LabelSet::new(),
        starts_at: jiff::Timestamp::UNIX_EPOCH,
        ends_at: None,
        generator_url: String::new(),
    }
}
