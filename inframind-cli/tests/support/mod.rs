//! Helpers shared by the end-to-end tests: run the built binary, write histories, find fixtures.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use inframind_core::{demo, BuildRun};

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `inframind ARGS` in `dir` with no CI variables set and stdin empty.
pub fn inframind(dir: &Path, args: &[&str]) -> Run {
    inframind_with(dir, args, &[], None)
}

/// Runs `inframind ARGS` in `dir` with extra environment variables and optional stdin.
pub fn inframind_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    stdin: Option<&[u8]>,
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inframind"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ENV")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("INFRAMIND_HISTORY")
        .env_remove("INFRAMIND_STORE")
        .env_remove("INFRAMIND_CATALOGUE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn inframind");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for inframind");
    Run {
        code: status.code().expect("exit code"),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// A simulated history of `n` runs of `tool`, renamed to `pipeline`.
pub fn history(pipeline: &str, tool: &str, n: usize, seed: u64) -> Vec<BuildRun> {
    let mut runs = demo::demo_history(tool, n, seed);
    for r in &mut runs {
        r.pipeline = pipeline.to_owned();
        r.run_id = format!("{pipeline}#{}", r.run_id);
    }
    runs
}

/// Writes runs as JSON lines.
pub fn write_jsonl(path: &Path, runs: &[BuildRun]) {
    let text: String = runs
        .iter()
        .map(|r| serde_json::to_string(r).expect("serialize run") + "\n")
        .collect();
    std::fs::write(path, text).expect("write runs.jsonl");
}

/// Reads JSON lines back into runs.
pub fn read_jsonl(path: &Path) -> Vec<BuildRun> {
    std::fs::read_to_string(path)
        .expect("read runs.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a BuildRun per line"))
        .collect()
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A data file of the core's tests (logs, policies, webhooks).
pub fn core_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inframind-core/tests/data")
        .join(rel)
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The published GitHub example job (API version 2022-11-28).
pub fn published_job() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("github-list-jobs-2022-11-28.json")).unwrap();
    json(&text)["jobs"][0].clone()
}

/// A job derived from the published example: another id, runner label, start, length and
/// conclusion. Its "Deploy to Heroku" step takes all but 19 s of it, as in the example.
pub fn derived_job(
    n: u64,
    label: &str,
    seconds: i64,
    conclusion: Option<&str>,
) -> serde_json::Value {
    let mut job = published_job();
    job["id"] = (399_444_496 + n).into();
    job["run_id"] = (29_679_449 + n).into();
    job["labels"] = serde_json::json!([label]);
    let start: jiff::Timestamp = "2020-01-20T17:42:40Z".parse().unwrap();
    let start = start + jiff::SignedDuration::from_hours(n as i64);
    let end = start + jiff::SignedDuration::from_secs(seconds);
    job["started_at"] = start.to_string().into();
    job["completed_at"] = end.to_string().into();
    job["conclusion"] = conclusion.map_or(serde_json::Value::Null, Into::into);
    if conclusion.is_none() {
        job["status"] = "in_progress".into();
    }
    let steps = job["steps"].as_array_mut().unwrap();
    let mut t = start;
    for (i, step) in steps.iter_mut().enumerate() {
        let len = match i {
            0 => 1,
            1 => 4,
            3 => 3,
            4 => 4,
            5 => 1,
            6 => 6,
            7 => seconds - 19,
            _ => 0,
        };
        step["started_at"] = t.to_string().into();
        t += jiff::SignedDuration::from_secs(len.max(0));
        step["completed_at"] = t.to_string().into();
    }
    job
}

/// A "list jobs for a workflow run" response holding `jobs`.
pub fn job_list(jobs: Vec<serde_json::Value>) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "total_count": jobs.len(), "jobs": jobs }))
        .unwrap()
}
