//! `inframind train`: per-pipeline models from runs.jsonl, bad lines named by file and line.

mod support;

use inframind_core::ModelStore;
use support::{history, inframind, json, write_jsonl};

#[test]
fn trains_every_pipeline_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = history("team/app", "cargo", 40, 1);
    runs.extend(history("team/lib", "cmake", 30, 2));
    write_jsonl(&dir.path().join("runs.jsonl"), &runs);
    let r = inframind(
        dir.path(),
        &[
            "train",
            "--history",
            "runs.jsonl",
            "--trees",
            "20",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r.stdout);
    assert_eq!(doc["store"], "inframind-models");
    let pipelines = doc["pipelines"].as_array().unwrap();
    let names: Vec<&str> = pipelines
        .iter()
        .map(|p| p["pipeline"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team/app", "team/lib"]);
    let store = ModelStore::open(dir.path().join("inframind-models")).unwrap();
    for (p, n) in pipelines.iter().zip([40, 30]) {
        let name = p["pipeline"].as_str().unwrap();
        assert_eq!(p["runs"], n);
        assert_eq!(p["runs_skipped"], 0);
        assert_eq!(p["version"], 1);
        assert!(p["error"].is_null());
        let r2 = p["oob_r2"].as_f64().unwrap();
        assert!(r2.is_finite() && r2 <= 1.0, "{r2}");
        assert_eq!(p["top_features"].as_array().unwrap().len(), 3);
        assert!(p["seconds"].as_f64().unwrap() >= 0.0);
        // What it says it stored is in the store.
        let latest = store.load_latest(name).unwrap().model;
        assert_eq!(latest.metadata().version, Some(1));
        assert_eq!(p["runs_used"], latest.metadata().n_samples);
        assert_eq!(
            p["top_features"][0]["name"].as_str().unwrap(),
            top_feature(&latest)
        );
    }
}

fn top_feature(m: &inframind_core::DurationModel) -> String {
    let (i, _) = m
        .feature_importances()
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    m.feature_names()[i].clone()
}

#[test]
fn text_output_is_a_table_with_one_row_per_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    write_jsonl(
        &dir.path().join("runs.jsonl"),
        &history("team/app", "npm", 30, 3),
    );
    let r = inframind(
        dir.path(),
        &[
            "train",
            "--history",
            "runs.jsonl",
            "--pipeline",
            "team/app",
            "--trees",
            "10",
            "--store",
            "models",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    let header: Vec<&str> = lines[0]
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "PIPELINE",
            "RUNS",
            "USED",
            "SKIPPED",
            "OOB R2",
            "TOP FEATURES",
            "TIME",
            "MODEL"
        ]
    );
    assert!(lines[1].starts_with("team/app  30 "), "{}", lines[1]);
    assert!(lines[1].ends_with("  v1"), "{}", lines[1]);
    // Training again adds a version.
    let r = inframind(
        dir.path(),
        &[
            "train",
            "--history",
            "runs.jsonl",
            "--trees",
            "10",
            "--store",
            "models",
            "--format",
            "csv",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.lines().nth(1).unwrap().ends_with(",v2"),
        "{}",
        r.stdout
    );
}

/// Line 3 of the file holds a step with a negative duration.
fn history_with_a_bad_line(dir: &std::path::Path) {
    let mut runs = history("team/app", "cargo", 30, 4);
    runs[2].steps[2].duration_s = -3.0;
    write_jsonl(&dir.join("runs.jsonl"), &runs);
}

#[test]
fn a_bad_line_is_named_by_file_line_field_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    history_with_a_bad_line(dir.path());
    let r = inframind(dir.path(), &["train", "--history", "runs.jsonl"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: runs.jsonl:3: steps[2].duration_s = -3: must be a finite number of seconds, 0 or more\n"
    );
    assert_eq!(r.stdout, "");
    assert!(!dir
        .path()
        .join("inframind-models")
        .join("team%2Fapp")
        .exists());
}

#[test]
fn a_line_that_is_not_json_is_named_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    text.push_str("{\"run_id\": \"1\"\n");
    std::fs::write(dir.path().join("runs.jsonl"), text).unwrap();
    let r = inframind(dir.path(), &["train", "--history", "runs.jsonl"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("inframind: runs.jsonl:1: invalid JSON for build run: "),
        "{}",
        r.stderr
    );
}

#[test]
fn skip_bad_warns_skips_and_reports_why() {
    let dir = tempfile::tempdir().unwrap();
    history_with_a_bad_line(dir.path());
    let r = inframind(
        dir.path(),
        &[
            "train",
            "--history",
            "runs.jsonl",
            "--skip-bad",
            "--trees",
            "10",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "warning: runs.jsonl:3: steps[2].duration_s = -3: must be a finite number of seconds, 0 or more (skipped)\n"
    );
    let doc = json(&r.stdout);
    let p = &doc["pipelines"][0];
    assert_eq!(p["runs"], 29);
    assert_eq!(p["runs_skipped"], 1);
    assert_eq!(
        p["skipped"][0],
        "3: steps[2].duration_s = -3: must be a finite number of seconds, 0 or more"
    );
    assert_eq!(p["version"], 1);
}

#[test]
fn too_little_history_fails_with_the_cores_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_jsonl(
        &dir.path().join("runs.jsonl"),
        &history("team/app", "cargo", 1, 5),
    );
    let r = inframind(
        dir.path(),
        &["train", "--history", "runs.jsonl", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = json(&r.stdout);
    assert!(doc["pipelines"][0]["version"].is_null());
    let error = doc["pipelines"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("not enough data: training needs at least 2 successful runs"),
        "{error}"
    );
    assert_eq!(r.stderr, format!("inframind: no model trained: {error}\n"));
}

#[test]
fn an_unknown_pipeline_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    write_jsonl(
        &dir.path().join("runs.jsonl"),
        &history("team/app", "cargo", 5, 6),
    );
    let r = inframind(
        dir.path(),
        &["train", "--history", "runs.jsonl", "--pipeline", "other"],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: pipeline \"other\" has no valid run in runs.jsonl\n"
    );
}
