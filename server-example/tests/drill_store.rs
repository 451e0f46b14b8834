//! Fault drill: the model store stops accepting writes after the first model. Training must
//! fail loudly (the `failed` training counter and a log line), completions are still stored,
//! `/optimize` keeps answering from the last good model, and training works again once the
//! store is writable.
//!
//! As root (where `chmod 0555` does not stop writes) the store is bind-mounted read-only over
//! itself (EROFS); where mounting is not allowed, the store folder is replaced by a file
//! (ENOTDIR). The test prints which one it used.

#[path = "support/drill.rs"]
mod drill;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use drill::{config, eventually, Launch, Server};
use serde_json::json;

const PIPELINE: &str = "drill/store";

/// Makes the store unwritable until dropped.
enum Blocked {
    ReadOnlyBind(PathBuf),
    FileInPlace { store: PathBuf, away: PathBuf },
}

impl Blocked {
    fn new(store: &Path) -> Self {
        let mount = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(store)
                .arg(store)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if mount(&["--bind"]) {
            if mount(&["-o", "remount,bind,ro"]) {
                eprintln!("drill: model store made read-only with a read-only bind mount");
                return Blocked::ReadOnlyBind(store.to_path_buf());
            }
            umount(store);
        }
        let away = store.with_extension("away");
        std::fs::rename(store, &away).unwrap();
        std::fs::write(store, b"not a folder").unwrap();
        eprintln!("drill: model store replaced by a file (ENOTDIR): mounting is not allowed here");
        Blocked::FileInPlace {
            store: store.to_path_buf(),
            away,
        }
    }
}

fn umount(path: &Path) {
    let _ = Command::new("umount").arg(path).status();
}

impl Drop for Blocked {
    fn drop(&mut self) {
        match self {
            Blocked::ReadOnlyBind(p) => umount(p),
            Blocked::FileInPlace { store, away } => {
                let _ = std::fs::remove_file(&*store);
                let _ = std::fs::rename(&*away, &*store);
            }
        }
    }
}

fn complete_run(srv: &Server, run_id: &str, duration_s: f64) {
    let r = srv
        .api(
            "POST",
            "/builds/start",
            &json!({"pipeline": PIPELINE, "tool": "make", "run_id": run_id, "config": config()}),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv
        .api(
            "POST",
            "/builds/complete",
            &json!({"run_id": run_id, "status": "success", "duration_s": duration_s}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

fn optimize(srv: &Server) -> serde_json::Value {
    let r = srv
        .api(
            "POST",
            "/optimize",
            &json!({"pipeline": PIPELINE, "context": {"tool": "make"}, "seed": 7}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Waits until no training has ended for a second: a burst of completions queues a training
/// per completion here (`--retrain-every 1`), and one must not land after the store is blocked.
fn settle(srv: &Server) {
    let ended = || srv.metric(TRAINED) + srv.metric(FAILED) + srv.metric(SKIPPED);
    let mut last = ended();
    let mut quiet = 0;
    for _ in 0..300 {
        std::thread::sleep(Duration::from_millis(100));
        let now = ended();
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        if quiet >= 10 {
            return;
        }
    }
    panic!("trainings did not settle in 30 s:\n{}", srv.log_text());
}

const SKIPPED: &str = "inframind_trainings_total{result=\"skipped\"}";
const TRAINED: &str = "inframind_trainings_total{result=\"trained\"}";
const FAILED: &str = "inframind_trainings_total{result=\"failed\"}";

#[test]
fn an_unwritable_model_store_fails_training_loudly_and_optimize_keeps_the_last_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("im.db").display());
    let mut launch = Launch::new(db, dir.path(), "server.log");
    launch.args = vec!["--retrain-every", "1"];
    let srv = launch.start();
    // The optimizer uses a model from 10 successful runs on.
    for i in 0..10 {
        complete_run(&srv, &format!("good-{i}"), 60.0 + f64::from(i));
    }
    assert!(
        eventually(Duration::from_secs(30), || {
            srv.get("/metrics").is_ok() && optimize(&srv)["cold_start"] == false
        }),
        "no model trained:\n{}",
        srv.log_text()
    );
    settle(&srv);
    let before = optimize(&srv);
    assert_eq!(before["cold_start"], false, "{before}");
    let version = before["model_version"].clone();
    assert!(version.is_string(), "{before}");

    let blocked = Blocked::new(&launch.model_dir);
    let trained = srv.metric(TRAINED);
    for i in 0..2 {
        complete_run(&srv, &format!("blocked-{i}"), 61.0);
    }
    assert!(
        eventually(Duration::from_secs(30), || srv.metric(FAILED) >= 1.0),
        "no failed training counted:\n{}",
        srv.log_text()
    );
    assert_eq!(
        srv.metric(TRAINED),
        trained,
        "a model was stored in an unwritable store"
    );
    let log = srv.log_text();
    assert!(log.contains("training failed"), "no log line:\n{log}");
    // Still answered from the last good model, which stays in memory.
    let during = optimize(&srv);
    assert_eq!(during["cold_start"], false, "{during}");
    assert_eq!(during["model_version"], version, "{during}");
    // The completions made while the store was blocked are stored.
    for i in 0..2 {
        let r = srv.get(&format!("/builds/blocked-{i}")).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }

    drop(blocked);
    complete_run(&srv, "after", 62.0);
    assert!(
        eventually(Duration::from_secs(30), || srv.metric(TRAINED) > trained),
        "no training after the store came back:\n{}",
        srv.log_text()
    );
    let after = optimize(&srv);
    assert_ne!(after["model_version"], version, "{after}");
}
