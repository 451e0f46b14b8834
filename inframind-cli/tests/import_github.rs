//! `inframind import github`: GitHub's published job listing, and jobs derived from it.

mod support;

use std::collections::BTreeMap;

use inframind_core::{BuildConfig, RunStatus};
use support::{derived_job, fixture, inframind, job_list, read_jsonl};

const NO_ENTRY: &str =
    "skipped 1 job: no catalogue entry for runs-on labels [self-hosted, foo, bar] \
                        (add one with --catalogue)\n";

#[test]
fn the_published_example_without_a_catalogue_entry_is_counted_not_imported() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "github-list-jobs-2026-03-10.json",
        "github-list-jobs-2022-11-28.json",
    ] {
        let path = fixture(name);
        let r = inframind(dir.path(), &["import", "github", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            format!("imported 0 runs (0 pipelines) from 1 job in 1 file\n{NO_ENTRY}")
        );
    }
}

#[test]
fn the_published_example_becomes_one_run_with_its_catalogue_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("runners.toml"),
        "[runners.foo]\ncpu_cores = 8\nmemory = \"32GiB\"\nconcurrency = 6\n",
    )
    .unwrap();
    let mut outputs = Vec::new();
    // Both API versions (`labels`, `label_filters`) give the same run.
    for name in [
        "github-list-jobs-2026-03-10.json",
        "github-list-jobs-2022-11-28.json",
    ] {
        let path = fixture(name);
        let r = inframind(
            dir.path(),
            &[
                "import",
                "github",
                path.to_str().unwrap(),
                "--catalogue",
                "runners.toml",
                "--tool",
                "bundler",
                "-o",
                "runs.jsonl",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            r.stderr,
            "imported 1 run (1 pipeline) from 1 job in 1 file\n"
        );
        outputs.push(std::fs::read_to_string(dir.path().join("runs.jsonl")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let runs = read_jsonl(&dir.path().join("runs.jsonl"));
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.run_id, "github-29679449-399444496");
    assert_eq!(run.pipeline, "CI/build");
    assert_eq!(run.tool, "bundler");
    assert_eq!(run.status, RunStatus::Success);
    // 17:42:40Z to 17:44:39Z; the steps' -08:00 times are the same instants.
    assert_eq!(run.duration_s, 119.0);
    assert_eq!(run.started_at, Some(1_579_542_160.0));
    assert_eq!(
        run.config,
        BuildConfig {
            concurrency: 6,
            cpu_cores: 8.0,
            memory_bytes: 32 << 30
        }
    );
    let steps: Vec<(&str, f64)> = run
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.duration_s))
        .collect();
    assert_eq!(
        steps,
        [
            ("Set up job", 1.0),
            ("Run actions/checkout@v2", 4.0),
            ("Set up Ruby", 0.0),
            ("Run actions/cache@v3", 3.0),
            ("Install Bundler", 4.0),
            ("Install Gems", 1.0),
            ("Run Tests", 6.0),
            ("Deploy to Heroku", 100.0),
            ("Post actions/cache@v3", 0.0),
            ("Complete job", 0.0),
        ]
    );
    let labels: BTreeMap<&str, &str> = run
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        BTreeMap::from([
            ("branch", "main"),
            ("github_run_id", "29679449"),
            ("runner", "my runner")
        ])
    );
    assert!(run.validate().is_ok());
}

#[test]
fn conclusions_become_statuses_and_unfinished_jobs_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = vec![
        derived_job(1, "ubuntu-latest", 120, Some("success")),
        derived_job(2, "ubuntu-latest", 130, Some("failure")),
        derived_job(3, "ubuntu-latest", 40, Some("cancelled")),
        derived_job(4, "ubuntu-latest", 600, Some("timed_out")),
        derived_job(5, "ubuntu-latest", 19, Some("skipped")),
        derived_job(6, "ubuntu-latest", 19, None),
    ];
    std::fs::write(dir.path().join("jobs.json"), job_list(jobs)).unwrap();
    let r = inframind(
        dir.path(),
        &["import", "github", "jobs.json", "-o", "runs.jsonl"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "imported 4 runs (1 pipeline) from 6 jobs in 1 file\n\
         skipped 1 job: not completed\n\
         skipped 1 job: skipped by GitHub (never ran)\n"
    );
    let runs = read_jsonl(&dir.path().join("runs.jsonl"));
    let got: Vec<(RunStatus, f64)> = runs.iter().map(|r| (r.status, r.duration_s)).collect();
    assert_eq!(
        got,
        [
            (RunStatus::Success, 120.0),
            (RunStatus::Failure, 130.0),
            (RunStatus::Cancelled, 40.0),
            (RunStatus::Timeout, 600.0),
        ]
    );
    // ubuntu-latest is GitHub's standard public-repository runner: 4 vCPU, 16 GB.
    assert!(runs.iter().all(|r| r.config
        == BuildConfig {
            concurrency: 4,
            cpu_cores: 4.0,
            memory_bytes: 16 << 30
        }));
    assert!(runs.iter().all(|r| r.tool == "unknown"));
}

#[test]
fn runs_are_sorted_oldest_first_and_duplicates_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let newer = vec![derived_job(9, "ubuntu-22.04", 100, Some("success"))];
    let older = vec![
        derived_job(1, "ubuntu-22.04", 110, Some("success")),
        derived_job(9, "ubuntu-22.04", 100, Some("success")),
    ];
    std::fs::write(dir.path().join("a.json"), job_list(newer)).unwrap();
    std::fs::write(dir.path().join("b.json"), job_list(older)).unwrap();
    let r = inframind(dir.path(), &["import", "github", "a.json", "b.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "imported 2 runs (1 pipeline) from 3 jobs in 2 files\nskipped 1 job: duplicate job\n"
    );
    let ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| support::json(l)["run_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["github-29679450-399444497", "github-29679458-399444505"]
    );
}

#[test]
fn any_utc_offset_is_the_same_instant() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = derived_job(1, "ubuntu-latest", 120, Some("success"));
    job["started_at"] = "2020-01-20T23:12:40+05:30".into(); // 17:42:40Z
    job["completed_at"] = "2020-01-20T09:44:40-08:00".into(); // 17:44:40Z
    std::fs::write(dir.path().join("jobs.json"), job_list(vec![job])).unwrap();
    let r = inframind(dir.path(), &["import", "github", "jobs.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run = support::json(r.stdout.trim());
    assert_eq!(run["duration_s"], 120.0);
    assert_eq!(run["started_at"], 1_579_542_160.0);
}

#[test]
fn malformed_input_names_the_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = derived_job(1, "ubuntu-latest", 120, Some("success"));
    job["started_at"] = "yesterday".into();
    std::fs::write(dir.path().join("jobs.json"), job_list(vec![job])).unwrap();
    let r = inframind(dir.path(), &["import", "github", "jobs.json"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with(
            "inframind: jobs.json: jobs[0].started_at = \"yesterday\": not an RFC 3339 time with a UTC offset ("
        ),
        "{}",
        r.stderr
    );
    std::fs::write(dir.path().join("runs.json"), "{\"workflow_runs\": []}").unwrap();
    let r = inframind(dir.path(), &["import", "github", "runs.json"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: runs.json: invalid JSON for GitHub jobs list: missing field `jobs` at line 1 column 21\n"
    );
    std::fs::write(
        dir.path().join("runners.toml"),
        "[runners.big]\ncpu_cores = 0\nmemory = \"1G\"\n",
    )
    .unwrap();
    let r = inframind(
        dir.path(),
        &[
            "import",
            "github",
            "jobs.json",
            "--catalogue",
            "runners.toml",
        ],
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "inframind: runners.toml: invalid runners.big.cpu_cores = 0: must be a finite number of cores above 0\n"
    );
}
