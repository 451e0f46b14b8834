//! The pattern library of the log classifier: data, not code.
//!
//! A pattern file is YAML or JSON: a list of patterns, or `{patterns: [...]}`. Each pattern has
//! a `name`, a `category`, a `weight` (how strongly one hit points at the category; negative
//! weights count against it), a `pattern` (a regex, case-insensitive unless `case_sensitive:
//! true`, matched against each cleaned log line) and an optional `remediation` overriding the
//! category's default:
//!
//! ```yaml
//! patterns:
//!   - name: our-flaky-artifactory
//!     category: network
//!     weight: 6
//!     pattern: 'artifactory\.corp\.example: 50[234]'
//!     remediation: {action: retry, retry: {max_attempts: 5, initial_backoff_s: 30}}
//! ```
//!
//! The built-in library is [`BUILTIN_PATTERNS`] (`patterns.yaml` next to this file).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::healing::category::Category;
use crate::healing::remediation::Remediation;

/// The built-in pattern library (YAML).
pub const BUILTIN_PATTERNS: &str = include_str!("patterns.yaml");

/// One pattern of a pattern file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    /// Short unique name, shown with the evidence.
    pub name: String,
    /// The category a hit points at.
    pub category: Category,
    /// Strength of one hit. Around 1-2 for weak hints, 4-5 for clear signals, 8 for messages
    /// that name the cause beyond doubt.
    pub weight: f64,
    /// The regex (Rust `regex` syntax), matched against each line after ANSI colours and
    /// timestamp prefixes are stripped.
    pub pattern: String,
    /// Match case exactly (default: case-insensitive).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_sensitive: bool,
    /// What to do when this pattern decides the classification (default: the category's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PatternFile {
    List(Vec<serde_json::Value>),
    Wrapped { patterns: Vec<serde_json::Value> },
}

/// Parses a pattern file given as a JSON value tree (from JSON or YAML).
fn from_value(value: serde_json::Value, origin: &str) -> Result<Vec<PatternSpec>> {
    let list = match serde_json::from_value::<PatternFile>(value) {
        Ok(PatternFile::List(l)) | Ok(PatternFile::Wrapped { patterns: l }) => l,
        Err(_) => {
            return Err(Error::Pattern {
                pattern: origin.to_string(),
                reason: "a pattern file is a list of patterns or {patterns: [...]}".into(),
            })
        }
    };
    list.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let name = v
                .get("name")
                .and_then(|n| n.as_str())
                .map_or_else(|| format!("{origin} patterns[{i}]"), str::to_string);
            serde_path_to_error::deserialize::<_, PatternSpec>(v).map_err(|e| {
                let path = e.path().to_string();
                Error::Pattern {
                    pattern: name,
                    reason: format!("{path}: {}", e.into_inner()),
                }
            })
        })
        .collect()
}

/// Parses a YAML pattern file.
pub(crate) fn parse_yaml(text: &str, origin: &str) -> Result<Vec<PatternSpec>> {
    let value: serde_json::Value = serde_norway::from_str(text).map_err(|e| Error::Pattern {
        pattern: origin.to_string(),
        reason: format!("not valid YAML: {e}"),
    })?;
    from_value(value, origin)
}

/// Parses a JSON pattern file.
pub(crate) fn parse_json(text: &str, origin: &str) -> Result<Vec<PatternSpec>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Pattern {
        pattern: origin.to_string(),
        reason: format!("not valid JSON: {e}"),
    })?;
    from_value(value, origin)
}
