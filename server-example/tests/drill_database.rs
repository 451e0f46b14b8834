//! Fault drill: the PostgreSQL database goes away under load and comes back. While it is gone
//! writes are answered 503 `unavailable` with a `Retry-After` header, `/healthz` still answers
//! and `/readyz` says not ready; once it is back the same process serves again, without a
//! restart.
//!
//! The outage is of this test's own database only (`ALLOW_CONNECTIONS false` and
//! `pg_terminate_backend` of its sessions), so the other tests on the suite's cluster go on.
//! Run by scripts/suites/60-server.sh, which starts PostgreSQL and sets INFRAMIND_TEST_PG_URL.

#[path = "support/drill.rs"]
mod drill;
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drill::{eventually, Launch, Reply, Server};
use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};

const LOAD_THREADS: usize = 4;

fn admin(rt: &tokio::runtime::Runtime, sql: String) {
    rt.block_on(async {
        let mut c = AnyConnection::connect(&support::pg_admin_url())
            .await
            .unwrap();
        c.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        c.close().await.unwrap();
    });
}

fn start_run(srv: &Server, run_id: &str) -> Reply {
    srv.api(
        "POST",
        "/builds/start",
        &json!({"pipeline": "drill/db", "tool": "make", "run_id": run_id}),
    )
    .unwrap()
}

fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(r.status, 503, "{what}: {}", r.body);
    assert_eq!(
        r.json()["error"]["code"],
        "unavailable",
        "{what}: {}",
        r.body
    );
    let retry = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: 503 without Retry-After: {:?}", r.headers));
    assert!(retry.parse::<u64>().is_ok_and(|s| s > 0), "{what}: {retry}");
}

#[test]
#[ignore = "needs PostgreSQL: run by scripts/suites/60-server.sh"]
fn the_database_going_away_answers_503_and_the_server_recovers_without_a_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::fresh_pg_db());
    let name = url.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Launch::new(url, dir.path(), "server.log").start();
    let pid = srv.pid();
    assert_eq!(start_run(&srv, "before").status, 201);

    // Writers keep going through the outage; every answer is counted by status.
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let addr = srv.addr;
    let load: Vec<_> = (0..LOAD_THREADS)
        .map(|t| {
            let (stop, statuses) = (stop.clone(), statuses.clone());
            std::thread::spawn(move || {
                for i in 0..100_000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let body = json!({"pipeline": "drill/db", "tool": "make",
                        "run_id": format!("load-{t}-{i}")})
                    .to_string();
                    let key = match drill::request(
                        addr,
                        "POST",
                        "/builds/start",
                        Some(body.as_bytes()),
                        Duration::from_secs(15),
                    ) {
                        Ok(r) => r.status.to_string(),
                        Err(e) => format!("error: {e}"),
                    };
                    *statuses.lock().unwrap().entry(key).or_insert(0) += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    admin(
        &rt,
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
    );
    admin(
        &rt,
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    );
    let mut last = None;
    let down = eventually(Duration::from_secs(20), || {
        let r = start_run(&srv, &format!("during-{}", uuid::Uuid::new_v4().simple()));
        let is_503 = r.status == 503;
        last = Some(r);
        is_503
    });
    assert!(down, "no 503 while the database is gone: {last:?}");
    assert_unavailable(last.as_ref().unwrap(), "/builds/start");
    let health = srv.get("/healthz").unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    let ready = srv.get("/readyz").unwrap();
    assert_unavailable(&ready, "/readyz");
    std::thread::sleep(Duration::from_millis(500));

    admin(&rt, format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let back = eventually(Duration::from_secs(30), || {
        srv.get("/readyz").is_ok_and(|r| r.status == 200)
    });
    assert!(
        back,
        "/readyz not ready 30 s after the database came back:\n{}",
        srv.log_text()
    );
    let r = start_run(&srv, "after");
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv
        .api(
            "POST",
            "/builds/step",
            &json!({"run_id": "after", "name": "compile", "duration_s": 3.0}),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let before_stop = statuses.lock().unwrap().get("201").copied().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.join().unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    eprintln!("drill: /builds/start answers under load through the outage: {statuses:?}");
    assert!(
        statuses.keys().all(|k| k == "201" || k == "503"),
        "only 201 or 503 expected: {statuses:?}\n{}",
        srv.log_text()
    );
    assert!(statuses.get("503").is_some_and(|n| *n > 0), "{statuses:?}");
    assert!(
        statuses["201"] > before_stop,
        "the load did not resume: {statuses:?}"
    );
    assert!(srv.is_running(), "{}", srv.log_text());
    assert_eq!(srv.pid(), pid);
}
