//! Helpers of the edge tests: an app served over real TCP on 127.0.0.1 with given connection
//! limits, and raw-socket clients with deadlines (every wait here is bounded).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use server_example::config::ConnLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

use crate::support::{sqlite_app, TestApp};

/// A server running in this process.
pub struct Served {
    pub addr: SocketAddr,
    pub app: TestApp,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Asks the server to stop and waits (at most `within`) for it to return.
    pub async fn stop(mut self, within: Duration) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        matches!(timeout(within, &mut self.task).await, Ok(Ok(Ok(()))))
    }
}

pub async fn serve(limits: ConnLimits) -> Served {
    let app = sqlite_app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = oneshot::channel::<()>();
    let router = app.router.clone();
    let task = tokio::spawn(server_example::serve::serve(
        listener,
        router,
        limits,
        async {
            let _ = rx.await;
        },
    ));
    Served {
        addr,
        app,
        stop: Some(stop),
        task,
    }
}

/// How a connection ended up when we stopped waiting.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server closed it (EOF or reset), with whatever it sent first.
    Closed(String),
    /// Still open at the deadline.
    Open,
}

/// Reads until the server closes the connection or `deadline` passes.
pub async fn wait_closed(stream: &mut TcpStream, deadline: Instant) -> Outcome {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Outcome::Open,
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Outcome::Closed(String::from_utf8_lossy(&got).into_owned())
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET path` on a new connection; the response text (status line first), or why not.
pub async fn get(addr: SocketAddr, path: &str, within: Duration) -> Result<String, String> {
    let deadline = Instant::now() + within;
    let mut s = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    if let Err(e) = s.write_all(req.as_bytes()).await {
        return Err(format!("closed before the request was sent: {e}"));
    }
    match wait_closed(&mut s, deadline).await {
        Outcome::Open => Err("no answer before the deadline".into()),
        Outcome::Closed(text) if text.is_empty() => Err("closed without an answer".into()),
        Outcome::Closed(text) => Ok(text),
    }
}
