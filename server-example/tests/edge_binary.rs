//! The `inframind-server` binary at its edge: `--demo` refuses a non-loopback address without a
//! token, the connection flags are documented, and SIGTERM with a trickling client connected
//! stops the process within the drain deadline. Each test signals only its own child.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_inframind-server");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits at most `within` for the child to exit; kills it (our own pid) when it does not.
fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("INFRAMIND_TOKEN")
        .env_remove("INFRAMIND_MAX_CONNECTIONS")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.is_some(), "{args:?} did not exit within 60 s");
    child.wait_with_output().unwrap()
}

#[test]
fn demo_without_a_token_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("im.db").display());
    let out = run(
        &[
            "--demo",
            "--listen",
            "0.0.0.0:0",
            "--db",
            &db,
            "--model-dir",
            "models",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--demo"), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
    assert!(stderr.contains("INFRAMIND_TOKEN"), "{stderr}");
    // Refused before touching the database.
    assert!(!dir.path().join("im.db").exists());
}

#[test]
fn help_documents_the_connection_limits() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--help"], dir.path());
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--header-timeout",
        "--idle-timeout",
        "--max-connections",
        "--drain-timeout",
        "INFRAMIND_MAX_CONNECTIONS",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut text);
    text.starts_with("HTTP/1.1 200")
}

#[test]
fn sigterm_with_a_trickling_client_exits_within_the_drain_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let db = format!("sqlite://{}", dir.path().join("im.db").display());
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            &addr.to_string(),
            "--db",
            &db,
            "--model-dir",
            "models",
        ])
        // A header deadline beyond the test: only the drain deadline can end the trickle.
        .args(["--header-timeout", "60", "--drain-timeout", "1"])
        .env("INFRAMIND_TOKEN", "edge-token")
        .current_dir(dir.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let log_text = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    let until = Instant::now() + Duration::from_secs(60);
    while !healthz(addr) {
        if Instant::now() > until || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not become healthy:\n{}", log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // One byte of headers every 200 ms, for at most 30 s.
    let stop = Arc::new(AtomicBool::new(false));
    let mut trickle = TcpStream::connect(addr).unwrap();
    trickle
        .write_all(b"POST /optimize HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    let trickler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for _ in 0..150 {
                if stop.load(Ordering::Relaxed) || trickle.write_all(b"a").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut child, Duration::from_secs(15));
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = trickler.join();
    let status = status.unwrap_or_else(|| panic!("no exit 15 s after SIGTERM:\n{}", log_text()));
    assert!(status.success(), "{status:?}:\n{}", log_text());
    // The 1 s drain deadline plus a margin for closing the database on a loaded machine.
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?}:\n{}",
        log_text()
    );
}
