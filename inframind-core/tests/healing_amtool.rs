#![cfg(feature = "healing")]
//! Conformance of our Alertmanager matchers with Alertmanager itself: every verdict is held
//! against `amtool` (Debian `prometheus-alertmanager`), no mock.
//!
//! * parsing: each matcher text is put in a routing config and `amtool check-config` must accept
//!   exactly the texts we accept;
//! * canonical form: `amtool config routes show` must print the same matchers we parsed;
//! * verdicts: for generated label sets, `amtool config routes test` must route to exactly the
//!   receivers whose matchers we say match.
//!
//! Ignored by default (it needs `amtool`); `scripts/suites/30-alertmanager.sh` installs
//! Alertmanager and runs it with `cargo test -p inframind-core --test healing_amtool -- --ignored`.
//! `AMTOOL` overrides the binary, `AMTOOL_SEED` the random seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use inframind_core::healing::{parse_matchers, LabelSet, Matcher};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn amtool() -> String {
    std::env::var("AMTOOL").unwrap_or_else(|_| "amtool".to_string())
}

fn yaml_single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A routing config with one route (receiver `r{i}`, `continue: true`) per matcher list.
fn config(routes: &[Vec<String>]) -> String {
    let mut y = String::from("route:\n  receiver: default\n  routes:\n");
    for (i, ms) in routes.iter().enumerate() {
        let list: Vec<String> = ms.iter().map(|m| yaml_single_quoted(m)).collect();
        y.push_str(&format!(
            "    - receiver: r{i}\n      continue: true\n      matchers: [{}]\n",
            list.join(", ")
        ));
    }
    y.push_str("receivers:\n  - name: default\n");
    for i in 0..routes.len() {
        y.push_str(&format!("  - name: r{i}\n"));
    }
    y
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn amtool_accepts(dir: &Path, matcher: &str) -> bool {
    let file = write(dir, "one.yml", &config(&[vec![matcher.to_string()]]));
    let out = Command::new(amtool())
        .args(["check-config", &file])
        .output()
        .expect("run amtool check-config (install prometheus-alertmanager)");
    out.status.success()
}

/// Canonical matcher text, escaped the way Alertmanager prints it.
fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

const NAMES: &[&str] = &["a", "b", "severity", "env_1", "x:y"];
const VALUES: &[&str] = &[
    "",
    "a",
    "b",
    "ab",
    "ba",
    "x",
    "xa",
    "crit",
    "critical",
    "page",
    "a b",
    "5xx",
    "503",
    "A",
    "q\"uote",
    "back\\slash",
    "multi\nline",
    "ünï",
    "a,b",
];
const REGEXES: &[&str] = &[
    ".*",
    ".+",
    "a|b",
    "crit.*",
    "crit",
    "(critical|page)",
    "[ab]+",
    "5..",
    "x?a",
    "",
    "(a|)",
    "A",
    "(?i)a",
    "a.b",
    "\\d+",
    "[^a]*",
    "a*b*",
    "ü.ï",
];

fn random_matcher(rng: &mut ChaCha8Rng) -> String {
    let name = *NAMES.choose(rng).unwrap();
    let op = *["=", "!=", "=~", "!~"].choose(rng).unwrap();
    let value = if op.ends_with('~') {
        *REGEXES.choose(rng).unwrap()
    } else {
        *VALUES.choose(rng).unwrap()
    };
    let simple = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '|' || c == '*');
    let sp = |rng: &mut ChaCha8Rng| if rng.random_bool(0.2) { " " } else { "" };
    let value_text = if simple && !value.is_empty() && rng.random_bool(0.3) {
        value.to_string() // unquoted
    } else {
        quote(value)
    };
    format!(
        "{}{name}{}{op}{}{value_text}{}",
        sp(rng),
        sp(rng),
        sp(rng),
        sp(rng)
    )
}

fn random_labels(rng: &mut ChaCha8Rng) -> LabelSet {
    let mut l = LabelSet::new();
    for name in NAMES {
        if rng.random_bool(0.6) {
            let v = *VALUES[1..].choose(rng).unwrap(); // amtool drops nothing; "" == missing anyway
            l.insert((*name).to_string(), v.to_string());
        }
    }
    l
}

#[test]
#[ignore = "needs amtool (scripts/suites/30-alertmanager.sh installs it)"]
fn matchers_agree_with_amtool() {
    let seed: u64 = std::env::var("AMTOOL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20240501);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();

    // 1. Parsing: hand-picked edge cases plus random texts, accepted/rejected alike.
    let mut texts: Vec<String> = [
        r#"a="b""#,
        r#"a=b"#,
        r#"a="""#,
        r#"a="#,
        r#"  a  !=  "b"  "#,
        r#"a=~"(""#,
        r#"a="b"c""#,
        r#"a=b"c"#,
        r#"a="unterminated"#,
        r#"a=~unquoted.*"#,
        r#"9a="b""#,
        r#"a-b="c""#,
        r#"a==b"#,
        r#"a=~"b"c"#,
        r#"a="\"quoted\"""#,
        r#"a="back\\slash""#,
        r#"a="new\nline""#,
        r#"a="odd\escape""#,
        r#"a=b\"#,
        r#"a="b\""#,
        r#"{a="b"}"#,
        r#"{a="b", c!~"d|e",}"#,
        r#"a="1",,b="2""#,
        r#"a="x,y", b=c"#,
        r#"a!~"""#,
        r#":colon="v""#,
        r#"_u=~".*""#,
        r#"a=~"[[:alpha:]]+""#,
        r#"a=~"\d+""#,
        r#"a=~"(?P<n>x)""#,
        r#"a=~"x{2,}""#,
        r#"a = "with spaces inside" "#,
        r#"a=ünï"#,
        r#"a=~"a++""#,
        r#"a=~"\p{Greek}""#,
        "",
        "   ",
        "{}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..25 {
        texts.push(random_matcher(&mut rng));
    }
    let mut disagreements = Vec::new();
    for text in &texts {
        // An empty list is no matcher at all; Alertmanager accepts it (it matches everything).
        let ours = parse_matchers(text).is_ok();
        let theirs = amtool_accepts(dir.path(), text);
        if ours != theirs {
            disagreements.push(format!("{text:?}: ours {ours}, amtool {theirs}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "parse verdicts differ: {disagreements:#?}"
    );
    println!("parsing: {} matcher texts, all verdicts agree", texts.len());

    // 2. Routing verdicts: many valid routes, many label sets.
    let mut routes: Vec<Vec<String>> = Vec::new();
    let mut compiled: Vec<Vec<Matcher>> = Vec::new();
    while routes.len() < 120 {
        let n = rng.random_range(1..=3);
        let texts: Vec<String> = (0..n).map(|_| random_matcher(&mut rng)).collect();
        let parsed: Result<Vec<Vec<Matcher>>, _> =
            texts.iter().map(|t| parse_matchers(t)).collect();
        if let Ok(p) = parsed {
            routes.push(texts);
            compiled.push(p.into_iter().flatten().collect());
        }
    }
    let cfg = write(dir.path(), "routes.yml", &config(&routes));
    let check = Command::new(amtool())
        .args(["check-config", &cfg])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // 2a. Canonical form: amtool prints each route's matchers sorted by name, value, type.
    let show = Command::new(amtool())
        .args(["config", "routes", "show", "--config.file", &cfg])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&show.stdout);
    for (i, ms) in compiled.iter().enumerate() {
        let mut sorted: Vec<&Matcher> = ms.iter().collect();
        sorted.sort_by(|a, b| {
            (a.name(), a.value(), a.op() as u8).cmp(&(b.name(), b.value(), b.op() as u8))
        });
        let ours = format!(
            "{{{}}}",
            sorted
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let needle = format!("{ours}  continue: true  receiver: r{i}\n");
        assert!(
            shown.contains(&needle),
            "route r{i}: we print {ours}, amtool shows:\n{shown}"
        );
    }

    let mut checked = 0;
    for _ in 0..150 {
        let labels = random_labels(&mut rng);
        let args: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        let out = Command::new(amtool())
            .args(["config", "routes", "test", "--config.file", &cfg])
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(',')
            .filter(|r| *r != "default" && !r.is_empty())
            .map(str::to_string)
            .collect();
        let ours: BTreeSet<String> = compiled
            .iter()
            .enumerate()
            .filter(|(_, ms)| ms.iter().all(|m| m.matches(&labels)))
            .map(|(i, _)| format!("r{i}"))
            .collect();
        assert_eq!(ours, theirs, "labels {labels:?}");
        checked += routes.len();
    }
    println!(
        "routing: 150 label sets x {} routes = {checked} verdicts, all agree (seed {seed})",
        routes.len()
    );
}
