//! The Jenkins library exports only the variables `tool_env` emits, each matched against the
//! shape of its value (`SERVER_VARIABLES` in `jenkins/src/io/inframind/Render.groovy`). This
//! test reads that list and checks every tool's variables against it, so a variable added here
//! without its pattern there fails before a Jenkins build silently drops it.

use std::collections::BTreeMap;

use inframind_core::telemetry::BuildConfig;
use inframind_core::tool_env::env_for;

const TOOLS: [&str; 14] = [
    "make",
    "cmake",
    "ninja",
    "cargo",
    "npm",
    "yarn",
    "pnpm",
    "gradle",
    "maven",
    "mvn",
    "bazel",
    "go",
    "Cargo",
    "something-else",
];

/// `'NAME': /pattern/,` lines of the Groovy map.
fn jenkins_patterns() -> BTreeMap<String, regex::Regex> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../jenkins/src/io/inframind/Render.groovy"
    );
    let text = std::fs::read_to_string(path).expect("read Render.groovy");
    let start = text
        .find("SERVER_VARIABLES = [")
        .expect("SERVER_VARIABLES in Render.groovy");
    let block = &text[start..];
    let block = &block[..block.find("\n    ]").expect("end of SERVER_VARIABLES")];
    let mut out = BTreeMap::new();
    for line in block.lines().skip(1) {
        let line = line.trim().trim_end_matches(',');
        let (name, pattern) = line.split_once(':').expect("'NAME': /pattern/");
        let name = name.trim().trim_matches('\'');
        let pattern = pattern
            .trim()
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix('/'));
        let pattern = pattern.expect("a /slashy/ pattern");
        // Groovy's `==~` matches the whole value.
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).expect("pattern compiles");
        out.insert(name.to_string(), re);
    }
    out
}

#[test]
fn every_variable_of_every_tool_is_exported_by_jenkins() {
    let patterns = jenkins_patterns();
    assert!(patterns.len() >= 12, "{:?}", patterns.keys());
    let configs = [
        BuildConfig {
            concurrency: 1,
            cpu_cores: 0.25,
            memory_bytes: 256 << 20,
        },
        BuildConfig {
            concurrency: 8,
            cpu_cores: 4.5,
            memory_bytes: 16 << 30,
        },
        BuildConfig {
            concurrency: 65_536,
            cpu_cores: 65_536.0,
            memory_bytes: 1 << 53,
        },
        BuildConfig {
            concurrency: 3,
            cpu_cores: 1.0 / 3.0,
            memory_bytes: 1,
        },
    ];
    let mut seen = std::collections::BTreeSet::new();
    for tool in TOOLS {
        for config in &configs {
            for (name, value) in env_for(tool, config) {
                let re = patterns
                    .get(&name)
                    .unwrap_or_else(|| panic!("{name} (from {tool}) is not in SERVER_VARIABLES"));
                assert!(
                    re.is_match(&value),
                    "{name}={value:?} (from {tool}, {config:?})"
                );
                seen.insert(name);
            }
        }
    }
    let unused: Vec<_> = patterns.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(
        unused.is_empty(),
        "allowed in Jenkins but never emitted: {unused:?}"
    );
}
