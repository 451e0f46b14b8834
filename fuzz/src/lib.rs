//! Shared pieces of the fuzz targets in `fuzz_targets/`: the checksum the model format ends
//! with, so the model target can reach the decoder past it, and the invariants several targets
//! check on predictions.
#![deny(missing_docs)]

use inframind_core::Prediction;

/// FNV-1a 64 of `bytes`, the checksum that ends an InfraMind model file.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `body` followed by its checksum: a model file whose checksum always matches, so that
/// mutations exercise the decoder instead of dying at the checksum.
pub fn with_checksum(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(body);
    out.extend_from_slice(&fnv1a64(body).to_le_bytes());
    out
}

/// A prediction a caller can use: a finite mean and a finite, non-negative spread.
pub fn assert_usable(p: &Prediction, what: &str) {
    assert!(
        p.mean.is_finite() && p.spread.is_finite() && p.spread >= 0.0,
        "{what}: prediction is not usable: {p:?}"
    );
}

/// Invariants of policy sets.
pub mod policy {
    use inframind_core::healing::PolicySet;

    /// A loaded set writes itself as JSON and as YAML, and both load back to the same policies.
    pub fn assert_round_trips(set: &PolicySet) {
        let json = set
            .to_json()
            .unwrap_or_else(|e| panic!("a loaded policy set does not render as JSON: {e}"));
        let from_json = PolicySet::from_json(&json)
            .unwrap_or_else(|e| panic!("a loaded policy set's JSON does not load: {e}\n{json}"));
        assert_eq!(
            from_json.specs(),
            set.specs(),
            "policies: JSON round trip\n{json}"
        );
        let yaml = set
            .to_yaml()
            .unwrap_or_else(|e| panic!("a loaded policy set does not render as YAML: {e}"));
        let from_yaml = PolicySet::from_yaml(&yaml)
            .unwrap_or_else(|e| panic!("a loaded policy set's YAML does not load: {e}\n{yaml}"));
        assert_eq!(
            from_yaml.specs(),
            set.specs(),
            "policies: YAML round trip\n{yaml}"
        );
    }
}
