//! `inframind suggest`: the core optimizer's answer as text, JSON, CSV, shell, GitHub and GitLab.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use inframind_core::tool_env::env_for;
use inframind_core::BuildConfig;
use support::{history, inframind, inframind_with, json, write_jsonl};

/// runs.jsonl with two pipelines, and a model trained for `team/app` only.
fn trained(dir: &Path) {
    let mut runs = history("team/app", "cargo", 40, 11);
    runs.extend(history("team/web", "gradle", 30, 12));
    write_jsonl(&dir.join("runs.jsonl"), &runs);
    let r = inframind(
        dir,
        &[
            "train",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--trees",
            "20",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn suggest_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["suggest", "--history", "runs.jsonl", "--format", "json"];
    args.extend_from_slice(extra);
    let r = inframind(dir, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    json(&r.stdout)
}

fn config_of(v: &serde_json::Value) -> BuildConfig {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn json_carries_the_suggestion_from_the_stored_model_and_its_env() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let doc = suggest_json(dir.path(), &["--pipeline", "team/app"]);
    assert_eq!(doc["pipeline"], "team/app");
    assert_eq!(doc["tool"], "cargo");
    let s = &doc["suggestion"];
    assert_eq!(s["model_version"], "v1");
    assert_eq!(s["cold_start"], false);
    assert!(!s["rationale"].as_array().unwrap().is_empty());
    let config = config_of(&s["config"]);
    let env: BTreeMap<String, String> = serde_json::from_value(doc["env"].clone()).unwrap();
    assert_eq!(env, env_for("cargo", &config));
    assert_eq!(env["CARGO_BUILD_JOBS"], config.concurrency.to_string());
}

#[test]
fn a_pipeline_without_a_model_gets_a_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/web",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "pipeline   team/web");
    assert_eq!(lines[1], "tool       gradle");
    let doc = suggest_json(dir.path(), &["--pipeline", "team/web"]);
    let base = config_of(&doc["suggestion"]["baseline_config"]);
    let suggested = config_of(&doc["suggestion"]["config"]);
    assert!(
        lines[2].starts_with(&format!("current    {} jobs, ", base.concurrency)),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with(&format!("suggested  {} jobs, ", suggested.concurrency)),
        "{}",
        lines[3]
    );
    assert_eq!(lines[7], "model      cold start");
    assert_eq!(lines[9], "why:");
    assert!(lines[10].starts_with("  - "), "{}", lines[10]);
}

#[test]
fn capacity_flags_bound_the_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let doc = suggest_json(
        dir.path(),
        &[
            "--pipeline",
            "team/app",
            "--capacity-cores",
            "2",
            "--capacity-memory",
            "6GiB",
        ],
    );
    let config = config_of(&doc["suggestion"]["config"]);
    assert!(config.cpu_cores <= 2.0, "{config:?}");
    assert!(config.memory_bytes <= 6 << 30, "{config:?}");
    let guards: Vec<&str> = doc["suggestion"]["guards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        guards.contains(&"cpu_capacity") && guards.contains(&"memory_capacity"),
        "{guards:?}"
    );
}

#[test]
fn bad_capacities_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let base = [
        "suggest",
        "--history",
        "runs.jsonl",
        "--pipeline",
        "team/app",
    ];
    let r = inframind(
        dir.path(),
        &[&base[..], &["--capacity-memory", "lots"]].concat(),
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: invalid memory size \"lots\": use a number with a unit such as 16GiB, 512MiB or 16G\n"
    );
    let r = inframind(dir.path(), &[&base[..], &["--capacity-cores=-1"]].concat());
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: invalid context.capacity.cpu_cores = -1: must be a finite number of cores above 0\n"
    );
}

#[test]
fn env_lines_evaluate_in_a_real_shell_to_the_core_variables() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let doc = suggest_json(dir.path(), &["--pipeline", "team/web"]);
    let env: BTreeMap<String, String> = serde_json::from_value(doc["env"].clone()).unwrap();
    assert!(env["GRADLE_OPTS"].contains(' '), "{env:?}");
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/web",
            "--format",
            "env",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), env.len());
    assert!(r.stdout.lines().all(|l| l.starts_with("export ")));
    // `eval` it in sh and read every variable back.
    let script = format!(
        "{}\nenv | grep -E '^({})='",
        r.stdout,
        env.keys().cloned().collect::<Vec<_>>().join("|")
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .output()
        .unwrap();
    let mut back: BTreeMap<String, String> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (k, v) = line.split_once('=').unwrap();
        back.insert(k.into(), v.into());
    }
    assert_eq!(back, env);
}

#[test]
fn github_appends_to_the_env_and_output_files() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let env_file = dir.path().join("github_env");
    let out_file = dir.path().join("github_output");
    std::fs::write(&env_file, "EARLIER=1\n").unwrap();
    let r = inframind_with(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--format",
            "github",
        ],
        &[("GITHUB_ENV", &env_file), ("GITHUB_OUTPUT", &out_file)],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = suggest_json(dir.path(), &["--pipeline", "team/app"]);
    let env: BTreeMap<String, String> = serde_json::from_value(doc["env"].clone()).unwrap();
    let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("EARLIER=1\n{lines}")
    );
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), lines);
    assert!(
        r.stdout.starts_with("team/app: ")
            && r.stdout.ends_with(&format!(
                " ({} variables written to $GITHUB_ENV and $GITHUB_OUTPUT)\n",
                env.len()
            )),
        "{}",
        r.stdout
    );
}

#[test]
fn github_without_its_variables_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--format",
            "github",
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: --format github needs $GITHUB_ENV, which GitHub Actions sets in a workflow step\n"
    );
}

#[test]
fn gitlab_writes_a_dotenv_file() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--format",
            "gitlab",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = suggest_json(dir.path(), &["--pipeline", "team/app"]);
    let env: BTreeMap<String, String> = serde_json::from_value(doc["env"].clone()).unwrap();
    let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inframind.env")).unwrap(),
        lines
    );
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--format",
            "gitlab",
            "--dotenv",
            "build.env",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("build.env")).unwrap(),
        lines
    );
}

#[test]
fn all_prints_one_row_per_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    trained(dir.path());
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--all",
            "--format",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "PIPELINE,TOOL,CURRENT,SUGGESTED,PREDICTED,CHANGE,BOUND BY,MODEL"
    );
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].starts_with("team/app,cargo,") && lines[1].ends_with(",v1"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("team/web,gradle,") && lines[2].ends_with(",cold start"),
        "{}",
        lines[2]
    );
    let doc = json(
        &inframind(
            dir.path(),
            &[
                "suggest",
                "--history",
                "runs.jsonl",
                "--all",
                "--format",
                "json",
            ],
        )
        .stdout,
    );
    assert_eq!(doc["pipelines"].as_array().unwrap().len(), 2);
    assert_eq!(doc["refused"].as_array().unwrap().len(), 0);
    let text = inframind(dir.path(), &["suggest", "--history", "runs.jsonl", "--all"]).stdout;
    assert!(text.starts_with("PIPELINE  TOOL    CURRENT"), "{text}");
    let r = inframind(
        dir.path(),
        &[
            "suggest",
            "--history",
            "runs.jsonl",
            "--all",
            "--format",
            "env",
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: --all prints text, json or csv; env, github and gitlab need one --pipeline\n"
    );
}
