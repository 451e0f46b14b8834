//! The command line's frame: version, help with examples, exit codes, plain output in pipes.

mod support;

use support::inframind;

#[test]
fn version_prints_the_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let r = inframind(dir.path(), &["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        format!("inframind {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_subcommand_has_an_example_in_its_help() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &["--help"][..],
        &["train", "--help"],
        &["suggest", "--help"],
        &["classify", "--help"],
        &["policy", "test", "--help"],
        &["import", "github", "--help"],
    ] {
        let r = inframind(dir.path(), cmd);
        assert_eq!(r.code, 0, "{cmd:?}");
        assert!(
            r.stdout.contains("\nExample:\n  inframind ") || r.stdout.contains("\nExample:\n  gh "),
            "{cmd:?}: {}",
            r.stdout
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let r = inframind(dir.path(), &["train"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--history <FILE>"), "{}", r.stderr);
    let r = inframind(dir.path(), &["suggest", "--history", "x", "--frobnicate"]);
    assert_eq!(r.code, 2);
    let r = inframind(dir.path(), &["train", "--history", "x", "--format", "yaml"]);
    assert_eq!(r.code, 2);
}

#[test]
fn a_missing_input_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let r = inframind(dir.path(), &["train", "--history", "nope.jsonl"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("inframind: open nope.jsonl: "),
        "{}",
        r.stderr
    );
}

#[test]
fn piped_output_carries_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let log = support::core_data("healing/logs/oom/gcc_cc1plus_killed.log");
    let r = inframind(dir.path(), &["classify", log.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    let policies = support::core_data("healing/policies/k8s.yaml");
    let hook = support::core_data("healing/webhooks/crashloop.json");
    let r = inframind(
        dir.path(),
        &[
            "policy",
            "test",
            policies.to_str().unwrap(),
            hook.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("POLICY "), "{:?}", r.stdout);
    assert!(!r.stdout.contains('\x1b'));
}

/// On a real terminal (util-linux `script` allocates one) the table header is bold, unless
/// `NO_COLOR` is set. Skipped where `script` is not installed.
#[test]
fn a_terminal_gets_a_bold_header_unless_no_color() {
    let policies = support::core_data("healing/policies/k8s.yaml");
    let hook = support::core_data("healing/webhooks/crashloop.json");
    let cmd = format!(
        "{} policy test {} {}",
        env!("CARGO_BIN_EXE_inframind"),
        policies.display(),
        hook.display()
    );
    let run = |no_color: bool| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        c.output()
    };
    let Ok(styled) = run(false) else {
        eprintln!("no `script` command: skipped");
        return;
    };
    assert!(styled.status.success());
    assert!(
        styled.stdout.starts_with(b"\x1b[1mPOLICY"),
        "{:?}",
        String::from_utf8_lossy(&styled.stdout)
    );
    let plain = run(true).unwrap();
    assert!(
        plain.stdout.starts_with(b"POLICY"),
        "{:?}",
        String::from_utf8_lossy(&plain.stdout)
    );
}
