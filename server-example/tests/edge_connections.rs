//! Connections a client without a token can open: stalled headers are cut at the header
//! deadline, and the connection cap keeps silent sockets from exhausting the process's file
//! descriptors while health checks fail fast and recover.

#[path = "support/edge.rs"]
mod edge;
mod support;

use std::time::Duration;

use edge::{get, serve, wait_closed, Outcome};
use server_example::config::ConnLimits;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

fn limits(header_timeout: Duration, max_connections: usize) -> ConnLimits {
    let mut l = ConnLimits::default();
    l.header_timeout = header_timeout;
    l.max_connections = max_connections;
    l.drain_timeout = Duration::from_secs(2);
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_request_lines_are_closed_at_the_header_deadline() {
    let header_timeout = Duration::from_secs(1);
    let srv = serve(limits(header_timeout, 200)).await;
    let mut socks = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(b"GET /heal").await.unwrap();
        socks.push(s);
    }
    let sent = Instant::now();
    // The deadline plus a margin for a loaded machine; without a deadline they stay open.
    let deadline = sent + header_timeout + Duration::from_secs(3);
    for (i, s) in socks.iter_mut().enumerate() {
        let outcome = wait_closed(s, deadline).await;
        assert!(
            matches!(outcome, Outcome::Closed(_)),
            "socket {i} still open {:?} after sending half a request line",
            sent.elapsed()
        );
    }
    let answer = get(srv.addr, "/healthz", Duration::from_secs(5)).await;
    assert!(
        answer
            .as_deref()
            .is_ok_and(|a| a.starts_with("HTTP/1.1 200")),
        "{answer:?}"
    );
    assert!(srv.stop(Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_and_health_recovers() {
    let cap = 20;
    // A header deadline far beyond the test, so only the cap can close anything.
    let srv = serve(limits(Duration::from_secs(60), cap)).await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    // The connections the server keeps are the first `cap` it accepted; all others are closed
    // at once.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut open = 0;
    for s in idle.iter_mut() {
        if wait_closed(s, deadline).await == Outcome::Open {
            open += 1;
        }
    }
    assert_eq!(open, cap, "open connections with --max-connections {cap}");
    // Saturated: a health check is closed promptly instead of hanging.
    let asked = Instant::now();
    let answer = get(srv.addr, "/healthz", Duration::from_secs(5)).await;
    assert!(answer.is_err(), "{answer:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // Slots free up as soon as the idle clients leave.
    drop(idle);
    let until = Instant::now() + Duration::from_secs(10);
    let mut last = Err(String::new());
    while Instant::now() < until {
        last = get(srv.addr, "/healthz", Duration::from_secs(2)).await;
        if last.as_deref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        last.as_deref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")),
        "{last:?}"
    );
    assert!(srv.stop(Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_move_no_bytes_are_closed_after_the_idle_timeout() {
    let mut l = limits(Duration::from_secs(60), 100);
    l.idle_timeout = Duration::from_secs(1);
    let srv = serve(l).await;
    // Part of the headers, then silence: the header deadline (60 s here) would wait a minute,
    // the idle timeout does not.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let sent = Instant::now();
    let outcome = wait_closed(&mut s, sent + Duration::from_secs(4)).await;
    assert!(
        matches!(outcome, Outcome::Closed(_)),
        "open after {:?}",
        sent.elapsed()
    );
    assert!(srv.stop(Duration::from_secs(5)).await);
}
