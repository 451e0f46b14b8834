//! Fault drill: the server is killed with SIGKILL in the middle of a burst of `/builds/step`
//! calls from several clients, then started again on the same database. Every step that was
//! acknowledged (200/201) before the kill must be stored, once. On SQLite here; on PostgreSQL
//! when scripts/suites/60-server.sh provides one.

#[path = "support/drill.rs"]
mod drill;
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drill::{config, eventually, Launch};
use serde_json::json;

const CLIENTS: usize = 8;
const STEPS_PER_CLIENT: usize = 250;
/// The kill comes once this many steps were acknowledged: well inside the burst.
const KILL_AFTER_ACKS: usize = 600;

fn crash_mid_burst(db: &str, dir: &std::path::Path) {
    let launch = Launch::new(db, dir, "before.log");
    let mut srv = launch.start();
    for c in 0..CLIENTS {
        let r = srv
            .api(
                "POST",
                "/builds/start",
                &json!({"pipeline": "drill/crash", "tool": "make", "run_id": format!("crash-{c}"),
                        "config": config()}),
            )
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let acked = Arc::new(Mutex::new(Vec::<(usize, usize)>::new()));
    let n_acked = Arc::new(AtomicUsize::new(0));
    let addr = srv.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acked, n_acked) = (acked.clone(), n_acked.clone());
            std::thread::spawn(move || {
                let mut failures = 0;
                for i in 0..STEPS_PER_CLIENT {
                    let body = json!({"run_id": format!("crash-{c}"), "name": format!("s{c}-{i}"),
                        "duration_s": 1.5, "step_id": format!("{c}-{i}")})
                    .to_string();
                    match drill::request(
                        addr,
                        "POST",
                        "/builds/step",
                        Some(body.as_bytes()),
                        Duration::from_secs(10),
                    ) {
                        Ok(r) if r.status == 200 || r.status == 201 => {
                            acked.lock().unwrap().push((c, i));
                            n_acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("step {c}-{i} answered {}: {}", r.status, r.body),
                        // The server is gone: the answer (if any) was lost, which is allowed.
                        Err(_) => {
                            failures += 1;
                            if failures >= 3 {
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let reached = eventually(Duration::from_secs(60), || {
        n_acked.load(Ordering::Relaxed) >= KILL_AFTER_ACKS
    });
    assert!(
        reached,
        "only {} steps acknowledged in 60 s",
        n_acked.load(Ordering::Relaxed)
    );
    // SIGKILL to the server's own pid: no shutdown path runs.
    srv.kill();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let total = CLIENTS * STEPS_PER_CLIENT;
    assert!(
        acked.len() < total,
        "the kill came after the burst ended ({} of {total} acknowledged)",
        acked.len()
    );
    eprintln!(
        "drill: SIGKILL after {} of {total} steps acknowledged",
        acked.len()
    );

    let srv = Launch::new(db, dir, "after.log").start();
    for c in 0..CLIENTS {
        let r = srv.get(&format!("/builds/crash-{c}")).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let run = r.json();
        let names: Vec<&str> = run["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("no steps in {run}"))
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let stored: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(stored.len(), names.len(), "a step stored twice: {names:?}");
        for (_, i) in acked.iter().filter(|(ac, _)| *ac == c) {
            let name = format!("s{c}-{i}");
            assert!(
                stored.contains(name.as_str()),
                "acknowledged step {name} lost after SIGKILL ({} stored for crash-{c})",
                stored.len()
            );
        }
    }
}

#[test]
fn acknowledged_steps_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("im.db").display());
    crash_mid_burst(&db, dir.path());
}

#[test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
fn acknowledged_steps_survive_sigkill_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(support::fresh_pg_db());
    let dir = tempfile::tempdir().unwrap();
    crash_mid_burst(&db, dir.path());
}
