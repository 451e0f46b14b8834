//! Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`,
//! `name!~"regex"`, with Alertmanager's exact semantics.
//!
//! The parser follows Alertmanager's classic matcher parser (`pkg/labels/parse.go`, the one
//! `amtool` 0.25 and routing configs use), and `scripts/suites/30-alertmanager.sh` holds our
//! verdicts against `amtool config routes test`:
//!
//! * a label name is `[a-zA-Z_:][a-zA-Z0-9_:]*`; whitespace around the three tokens is dropped;
//! * the value may be double-quoted; inside it `\"`, `\\` and `\n` are escapes, any other `\x`
//!   is a literal backslash followed by `x`, and an unescaped `"` inside the value is an error;
//! * a regex is fully anchored: `=~"5.."` is compiled as `^(?:5..)$`;
//! * a missing label equals the empty string, so `team=""` matches alerts without `team` and
//!   `team!="x"` matches them too.
//!
//! One known divergence: Go's regexp treats `\d`, `\w`, `\s` and `\b` as ASCII classes, the
//! `regex` crate as Unicode classes, so they differ on non-ASCII label values only.

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::error::{Error, Result};
use crate::healing::alert::LabelSet;

/// The most memory one regex matcher may compile to: the size limit of its program and,
/// separately, of each lazy DFA cache it grows while matching. The `regex` crate's defaults
/// (10 MiB and 2 MiB) let a 20-byte pattern such as `(?:\w+\d{300}){3}` cost hundreds of
/// milliseconds and megabytes to compile; the widest matcher a routing tree needs (a
/// 100-way alternation of service names) stays far below this.
pub const MAX_MATCHER_REGEX_BYTES: usize = 256 * 1024;

/// The sizes a regex matcher is tried at, smallest first; the first that holds is what the
/// matcher counts against [`MAX_SET_REGEX_BYTES`](crate::healing::MAX_SET_REGEX_BYTES). A plain
/// alternation fits the first, a Unicode class such as `\w` the second.
const REGEX_SIZE_CLASSES: [usize; 3] = [2 * 1024, 64 * 1024, MAX_MATCHER_REGEX_BYTES];

/// The comparison a matcher makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: matches the anchored regex.
    Regexp,
    /// `!~`: does not match the anchored regex.
    NotRegexp,
}

impl MatchType {
    /// The operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

/// One compiled label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchType,
    value: String,
    re: Option<Regex>,
    /// The size class the regex compiled within (0 for `=` and `!=`).
    budget: usize,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher from its parts; the regex (for `=~`/`!~`) is compiled anchored.
    pub fn new(name: impl Into<String>, op: MatchType, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let mut budget = 0;
        let re = match op {
            MatchType::Regexp | MatchType::NotRegexp => {
                // Exactly Alertmanager's construction (so `a)|(b` behaves as it does there).
                let anchored = format!("^(?:{value})$");
                let bad = |reason: String| Error::Matcher {
                    matcher: format!("{name}{}{value:?}", op.as_str()),
                    position: 0,
                    reason,
                };
                go_re2_compatible(&anchored).map_err(bad)?;
                // A compile that hits a size limit stops there, so trying the small classes
                // first costs little.
                let mut compiled = None;
                for class in REGEX_SIZE_CLASSES {
                    match compile_bounded(&anchored, class) {
                        Ok(re) => {
                            budget = class;
                            compiled = Some(re);
                            break;
                        }
                        Err(regex::Error::CompiledTooBig(_)) => continue,
                        Err(e) => return Err(bad(format!("invalid regex: {e}"))),
                    }
                }
                let Some(re) = compiled else {
                    return Err(bad(format!(
                        "the regex compiles to more than {} KiB, the limit per matcher; use \
                         fewer or smaller repetitions (\\d+ rather than \\d{{300}}) or ASCII \
                         classes ([0-9] rather than \\d)",
                        MAX_MATCHER_REGEX_BYTES / 1024
                    )));
                };
                Some(re)
            }
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
            budget,
        })
    }

    /// The size class the matcher's regex compiled within, in bytes (0 without a regex).
    pub(crate) fn regex_budget(&self) -> usize {
        self.budget
    }

    /// Parses one matcher such as `severity=~"critical|page"` or `env!=prod`.
    ///
    /// ```
    /// use inframind_core::healing::{LabelSet, Matcher};
    /// let m = Matcher::parse(r#"severity=~"critical|page""#)?;
    /// let labels = LabelSet::from([("severity".to_string(), "page".to_string())]);
    /// assert!(m.matches(&labels));
    /// assert!(!Matcher::parse("severity=~crit")?.matches(&labels)); // anchored
    /// assert!(Matcher::parse(r#"team="""#)?.matches(&labels)); // missing label == ""
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        parse_one(s, s, 0)
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchType {
        self.op
    }

    /// The value (unescaped), or the regex source for `=~`/`!~`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The anchored regex exactly as compiled (`^(?:value)$`), for `=~`/`!~` matchers.
    pub(crate) fn anchored_regex(&self) -> Option<&str> {
        self.re.as_ref().map(Regex::as_str)
    }

    /// Whether `value` (the label's value, `""` when the label is missing) satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(value),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(value),
            // `new` always compiles a regex for the regex operators.
            (MatchType::Regexp | MatchType::NotRegexp, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher (a missing label reads as `""`).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

impl fmt::Display for Matcher {
    /// Alertmanager's canonical form: `name="escaped value"` (what `amtool --tree` prints).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

/// Parses a comma-separated list of matchers, as Alertmanager's `ParseMatchers` does for each
/// entry of a route's `matchers:` list: `{a="1", b=~"x|y"}`, braces optional, commas inside
/// quotes kept, a trailing comma allowed.
///
/// ```
/// use inframind_core::healing::parse_matchers;
/// let ms = parse_matchers(r#"{alertname="Disk, full", severity!=info,}"#)?;
/// assert_eq!(ms.len(), 2);
/// assert_eq!(ms[0].value(), "Disk, full");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>> {
    let mut body = s;
    let mut base = 0;
    if let Some(rest) = body.strip_prefix('{') {
        body = rest;
        base = 1;
    }
    if let Some(rest) = body.strip_suffix('}') {
        body = rest;
    }
    let mut tokens: Vec<(usize, &str)> = Vec::new();
    let mut inside_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            ',' if !inside_quotes => {
                tokens.push((start, &body[start..i]));
                start = i + 1;
                continue;
            }
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    let last = &body[start..];
    if !last.trim().is_empty() {
        tokens.push((start, last));
    }
    tokens
        .into_iter()
        .map(|(at, tok)| parse_one(tok, s, base + at))
        .collect()
}

/// Rejects what the `regex` crate accepts but Go's RE2 (Alertmanager's regex engine) does not,
/// so a matcher we load is one Alertmanager would load: nested repetition operators (`a**`,
/// `a++`, `a{2}*`) and repeat counts above 1000.
fn go_re2_compatible(anchored: &str) -> std::result::Result<(), String> {
    use regex_syntax::ast::{self, Ast, RepetitionKind, RepetitionRange};

    struct GoRules;
    impl ast::Visitor for GoRules {
        type Output = ();
        type Err = String;
        fn finish(self) -> std::result::Result<(), String> {
            Ok(())
        }
        fn visit_pre(&mut self, node: &Ast) -> std::result::Result<(), String> {
            let Ast::Repetition(rep) = node else {
                return Ok(());
            };
            // Offsets are reported relative to the value, without the `^(?:` we added.
            let at = rep.op.span.start.offset.saturating_sub(4);
            if matches!(*rep.ast, Ast::Repetition(_)) {
                return Err(format!(
                    "invalid nested repetition operator at byte {at} of the regex: Go's RE2, \
                     which Alertmanager uses, rejects it; group the inner part, e.g. (a+)+"
                ));
            }
            if let RepetitionKind::Range(r) = &rep.op.kind {
                let max = match *r {
                    RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => n,
                    RepetitionRange::Bounded(m, n) => m.max(n),
                };
                if max > 1000 {
                    return Err(format!(
                        "repeat count {max} at byte {at} of the regex is above 1000, the limit of \
                         Go's RE2 which Alertmanager uses"
                    ));
                }
            }
            Ok(())
        }
    }
    match ast::parse::Parser::new().parse(anchored) {
        Ok(tree) => ast::visit(&tree, GoRules),
        // Syntax errors are reported by the regex compiler with a better message.
        Err(_) => Ok(()),
    }
}

/// Compiles with the program bounded by `limit`; the lazy DFA's cache is always bounded by
/// [`MAX_MATCHER_REGEX_BYTES`], since a cache too small for the regex only makes matching slower.
fn compile_bounded(anchored: &str, limit: usize) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(anchored)
        .size_limit(limit)
        .dfa_size_limit(MAX_MATCHER_REGEX_BYTES)
        .build()
}

/// Go's `\s` in RE2 syntax: `[\t\n\f\r ]`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn parse_one(token: &str, whole: &str, offset: usize) -> Result<Matcher> {
    let err = |pos: usize, reason: String| Error::Matcher {
        matcher: whole.to_string(),
        position: offset + pos,
        reason,
    };
    let bytes = token.as_bytes();
    let mut i = 0;
    while i < token.len() && token[i..].starts_with(is_go_space) {
        i += 1;
    }
    let name_start = i;
    match bytes.get(i) {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' || *b == b':' => i += 1,
        Some(_) => {
            return Err(err(
                i,
                "expected a label name ([a-zA-Z_:][a-zA-Z0-9_:]*)".into(),
            ))
        }
        None => return Err(err(i, "empty matcher; expected name=\"value\"".into())),
    }
    while let Some(b) = bytes.get(i) {
        if b.is_ascii_alphanumeric() || *b == b'_' || *b == b':' {
            i += 1;
        } else {
            break;
        }
    }
    let name = &token[name_start..i];
    while i < token.len() && token[i..].starts_with(is_go_space) {
        i += 1;
    }
    let rest = &token[i..];
    let op = if rest.starts_with("=~") {
        MatchType::Regexp
    } else if rest.starts_with("!=") {
        MatchType::NotEqual
    } else if rest.starts_with("!~") {
        MatchType::NotRegexp
    } else if rest.starts_with('=') {
        MatchType::Equal
    } else {
        return Err(err(
            i,
            format!("expected one of =, !=, =~, !~ after label name {name:?}"),
        ));
    };
    i += op.as_str().len();
    while i < token.len() && token[i..].starts_with(is_go_space) {
        i += 1;
    }
    let raw_start = i;
    let raw = token[i..].trim_end_matches(is_go_space);
    let value = unescape(raw).map_err(|rel| {
        err(
            raw_start + rel,
            "unescaped double quote in the value; write \\\" for a literal quote".into(),
        )
    })?;
    Matcher::new(name, op, value).map_err(|e| match e {
        Error::Matcher { reason, .. } => err(raw_start, reason),
        other => other,
    })
}

/// OpenMetrics unescaping as Alertmanager does it. Returns the byte offset of a stray quote.
fn unescape(raw: &str) -> std::result::Result<String, usize> {
    let (body, mut expect_trailing_quote, shift) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true, 1),
        None => (raw, false, 0),
    };
    let mut out = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => out.push('\n'),
                '"' | '\\' => out.push(c),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            continue;
        }
        match c {
            '\\' => {
                if i < body.len() - 1 {
                    escaped = true;
                } else {
                    out.push('\\');
                }
            }
            '"' => {
                if !expect_trailing_quote || i < body.len() - 1 {
                    return Err(shift + i);
                }
                expect_trailing_quote = false;
            }
            c => out.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(0);
    }
    Ok(out)
}
