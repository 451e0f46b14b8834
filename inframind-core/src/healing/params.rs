//! Action parameters with placeholders: `${label.pod}`, `${annotation.summary}`, `${status}`,
//! `${fingerprint}` and `${label.x:-default}`.
//!
//! Templates are parsed when the policy loads, so a typo (`${labels.pod}`, an unclosed `${`) is a
//! load error, not a surprise at 3 a.m. Rendering is one pass: a substituted value is data and is
//! never scanned for placeholders again, and nothing is ever handed to a shell. A placeholder
//! whose value is missing or empty and has no default makes the render fail with
//! [`Unresolved`], which evaluation turns into a `rejected` decision: `restart_pod` never runs
//! with an empty pod name. `$${` writes a literal `${`.

use std::fmt;

use crate::healing::alert::Alert;

/// Where a placeholder takes its value from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// `${label.NAME}`.
    Label(String),
    /// `${annotation.NAME}`.
    Annotation(String),
    /// `${status}`: `firing` or `resolved`.
    Status,
    /// `${fingerprint}`.
    Fingerprint,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Label(n) => write!(f, "label.{n}"),
            Source::Annotation(n) => write!(f, "annotation.{n}"),
            Source::Status => f.write_str("status"),
            Source::Fingerprint => f.write_str("fingerprint"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder {
        source: Source,
        default: Option<String>,
    },
}

/// A parsed string parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// A placeholder that had no value and no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The placeholder as written, e.g. `${label.pod}`.
    pub placeholder: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "placeholder {} has no value in this alert and no default (write ${{x:-default}} to give one)",
            self.placeholder
        )
    }
}

impl Template {
    /// Parses a template. The error says what is wrong and at which byte.
    ///
    /// ```
    /// use inframind_core::healing::Template;
    /// assert!(Template::parse("kubectl -n ${label.namespace:-default}").is_ok());
    /// assert!(Template::parse("${labels.pod}").is_err());
    /// assert!(Template::parse("${label.pod").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = s;
        let mut pos = 0;
        while let Some(i) = rest.find('$') {
            let after = &rest[i..];
            if after.starts_with("$${") {
                literal.push_str(&rest[..i]);
                literal.push_str("${");
                rest = &rest[i + 3..];
                pos += i + 3;
            } else if let Some(inner_start) = after.strip_prefix("${") {
                literal.push_str(&rest[..i]);
                let close = inner_start.find('}').ok_or_else(|| {
                    format!(
                        "unclosed placeholder at byte {}: add the closing '}}'",
                        pos + i
                    )
                })?;
                let inner = &inner_start[..close];
                let (key, default) = match inner.split_once(":-") {
                    Some((k, d)) => (k, Some(d.to_string())),
                    None => (inner, None),
                };
                let source = parse_source(key).map_err(|why| {
                    format!("placeholder ${{{inner}}} at byte {}: {why}", pos + i)
                })?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder { source, default });
                let consumed = i + 2 + close + 1;
                rest = &rest[consumed..];
                pos += consumed;
            } else {
                literal.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
                pos += i + 1;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template { segments })
    }

    /// Whether the template has no placeholders.
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// Renders the template for an alert.
    pub fn render(&self, alert: &Alert) -> Result<String, Unresolved> {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Placeholder { source, default } => {
                    let value = match source {
                        Source::Label(n) => alert.label(n),
                        Source::Annotation(n) => alert.annotation(n),
                        Source::Status => alert.status.as_str(),
                        Source::Fingerprint => alert.fingerprint.as_str(),
                    };
                    if !value.is_empty() {
                        out.push_str(value);
                    } else if let Some(d) = default {
                        out.push_str(d);
                    } else {
                        return Err(Unresolved {
                            placeholder: format!("${{{source}}}"),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_source(key: &str) -> Result<Source, String> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    match key {
        "status" => Ok(Source::Status),
        "fingerprint" => Ok(Source::Fingerprint),
        _ => {
            let (kind, name) = key.split_once('.').ok_or_else(|| {
                "expected label.NAME, annotation.NAME, status or fingerprint".to_string()
            })?;
            if !valid_name(name) {
                return Err(format!(
                    "{name:?} is not a label or annotation name ([a-zA-Z0-9_:]+)"
                ));
            }
            match kind {
                "label" => Ok(Source::Label(name.to_string())),
                "annotation" => Ok(Source::Annotation(name.to_string())),
                other => Err(format!(
                    "unknown source {other:?}; expected label.NAME, annotation.NAME, status or fingerprint"
                )),
            }
        }
    }
}

/// A parameter value: JSON, with every string inside parsed as a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamTemplate {
    /// A number, bool or null: copied as is.
    Plain(serde_json::Value),
    /// A string with or without placeholders.
    Text(Template),
    /// An array of parameters.
    List(Vec<ParamTemplate>),
    /// An object of parameters.
    Map(Vec<(String, ParamTemplate)>),
}

impl ParamTemplate {
    /// Parses every string of `value`; `path` names the field for errors.
    pub(crate) fn parse(value: &serde_json::Value, path: &str) -> Result<Self, (String, String)> {
        Ok(match value {
            serde_json::Value::String(s) => {
                ParamTemplate::Text(Template::parse(s).map_err(|e| (path.to_string(), e))?)
            }
            serde_json::Value::Array(items) => ParamTemplate::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ParamTemplate::parse(v, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => ParamTemplate::Map(
                map.iter()
                    .map(|(k, v)| {
                        ParamTemplate::parse(v, &format!("{path}.{k}")).map(|t| (k.clone(), t))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => ParamTemplate::Plain(other.clone()),
        })
    }

    /// Renders every string for the alert.
    pub(crate) fn render(&self, alert: &Alert) -> Result<serde_json::Value, Unresolved> {
        Ok(match self {
            ParamTemplate::Plain(v) => v.clone(),
            ParamTemplate::Text(t) => serde_json::Value::String(t.render(alert)?),
            ParamTemplate::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|t| t.render(alert))
                    .collect::<Result<_, _>>()?,
            ),
            ParamTemplate::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, t)| t.render(alert).map(|v| (k.clone(), v)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}
