//! Every `inframind` command in the README runs, in order, on an exported history.

mod support;

use support::{core_data, derived_job, inframind, job_list, read_jsonl};

/// The `inframind ...` lines of the README's `sh` blocks.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = include_str!("../README.md");
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if in_sh && line.starts_with("inframind ") {
            commands.push(line.split_whitespace().skip(1).map(str::to_owned).collect());
        }
    }
    commands
}

#[test]
fn the_readme_walkthrough_runs() {
    let dir = tempfile::tempdir().unwrap();
    // What step 1 exports: two workflow runs' job listings, twelve builds each.
    for file in 1..=2u64 {
        let jobs = (0..12)
            .map(|i| {
                let n = file * 100 + i;
                derived_job(
                    n,
                    "ubuntu-latest",
                    100 + (n % 7) as i64 * 5,
                    Some("success"),
                )
            })
            .collect();
        std::fs::write(dir.path().join(format!("jobs-{file}.json")), job_list(jobs)).unwrap();
    }
    std::fs::copy(
        core_data("healing/logs/oom/gcc_cc1plus_killed.log"),
        dir.path().join("build.log"),
    )
    .unwrap();
    std::fs::copy(
        core_data("healing/policies/k8s.yaml"),
        dir.path().join("policies.yaml"),
    )
    .unwrap();
    std::fs::copy(
        core_data("healing/webhooks/crashloop.json"),
        dir.path().join("alerts.json"),
    )
    .unwrap();

    let commands = readme_commands();
    assert_eq!(commands.len(), 9, "{commands:?}");
    let mut outputs = Vec::new();
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = inframind(dir.path(), &args);
        assert_eq!(r.code, 0, "inframind {args:?}: {}", r.stderr);
        outputs.push(r.stdout);
    }
    assert_eq!(read_jsonl(&dir.path().join("runs.jsonl")).len(), 24);
    assert!(
        outputs[1].lines().nth(1).unwrap().ends_with("  v1"),
        "{}",
        outputs[1]
    );
    assert!(outputs[2].contains("\nmodel      v1\n"), "{}", outputs[2]);
    assert!(
        outputs[3]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("CI/build  unknown  4 jobs, 4 cores, 16GiB"),
        "{}",
        outputs[3]
    );
    assert!(
        outputs[4].lines().nth(1).unwrap().contains("cpu_capacity"),
        "{}",
        outputs[4]
    );
    assert!(
        outputs[5].contains("export INFRAMIND_CONCURRENCY="),
        "{}",
        outputs[5]
    );
    assert!(
        outputs[6].starts_with("category     oom\n"),
        "{}",
        outputs[6]
    );
    assert_eq!(support::json(&outputs[7])["category"], "oom");
    assert!(outputs[8].starts_with("POLICY "), "{}", outputs[8]);
}
