//! The binary's body: settings, logging, `--demo`, listening, graceful shutdown.
//!
//! Connections are served by [`serve`], not `axum::serve`, because the edge needs limits that
//! `axum::serve` does not offer: a deadline for request headers, an idle timeout, a cap on
//! connections held at once, and a deadline for draining at shutdown. Without them a client
//! with no token could hold sockets open until the process runs out of file descriptors, or keep
//! it from stopping.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

use crate::config::{open_file_limit, Cli, Config, ConnLimits, Secret, NO_TOKEN};
use crate::{demo, router, AppState};

/// The token `--demo` accepts when none is configured (printed, so it is no secret).
pub const DEMO_TOKEN: &str = "demo";

/// Runs the server until SIGTERM or SIGINT, then finishes the requests in flight.
pub async fn main(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let mut config = match Config::from_cli(&cli) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if config.tokens.is_empty() {
        if !cli.demo {
            return fail(NO_TOKEN);
        }
        if !cli.listen.ip().is_loopback() {
            return fail(&demo_off_loopback(&cli));
        }
        config.tokens.push(Secret::new(DEMO_TOKEN));
        eprintln!(
            "--demo without INFRAMIND_TOKEN: accepting the demo token (X-IM-Token: {DEMO_TOKEN})"
        );
    }
    let (limits, warnings) = ConnLimits::from_cli(&cli, open_file_limit());
    for w in warnings {
        tracing::warn!("{w}");
    }
    let state = match AppState::new(config).await {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    if cli.demo {
        match demo::seed(&state).await {
            Ok(done) => {
                for (pipeline, runs, outcome) in done {
                    tracing::info!(%pipeline, runs, ?outcome, "demo pipeline ready");
                }
            }
            Err(e) => return fail(&format!("demo seeding failed: {e}")),
        }
    }
    let listener = match TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", cli.listen)),
    };
    tracing::info!(
        listen = %cli.listen,
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        "inframind-server ready"
    );
    let db = state.db.clone();
    let served = serve(listener, router(state), limits, shutdown_signal()).await;
    db.close().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server error: {e}")),
    }
}

fn demo_off_loopback(cli: &Cli) -> String {
    format!(
        "--demo without a token accepts the public token `{DEMO_TOKEN}`, which is allowed only on \
         a loopback address, not on {}: set INFRAMIND_TOKEN (or \"tokens\" in --config) or use \
         --listen 127.0.0.1:{}",
        cli.listen,
        cli.listen.port()
    )
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("inframind-server: {msg}");
    ExitCode::from(2)
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the
/// connections finish their requests for at most `limits.drain_timeout` and cuts the rest.
///
/// Beyond `limits.max_connections` a new connection is accepted and closed at once (the client
/// sees the connection close, not a hang), so sockets never pile up in the kernel's backlog or
/// past the open-file limit; a health check in that state fails fast, and answers again as
/// soon as a slot is free (slow or silent clients are cut after `limits.header_timeout`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let http = Arc::new(http);
    let mut conns = JoinSet::new();
    let mut refused: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // The peer gave up between SYN and accept: nothing to wait for.
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                Err(e) => {
                    // EMFILE and the like: the condition passes as connections close, and
                    // retrying at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    refused,
                    "connection limit reached: closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let conn = serve_connection(stream, app.clone(), http.clone(), &limits, stop_rx.clone());
        conns.spawn(async move {
            conn.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = conns.len();
    tracing::info!(open, "shutdown: finishing the requests in flight");
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("stopped after finishing the requests in flight"),
        Err(_) => {
            tracing::warn!(
                cut = conns.len(),
                drain_timeout_s = limits.drain_timeout.as_secs_f64(),
                "stopped at the drain deadline, cutting the connections still open"
            );
            conns.shutdown().await;
        }
    }
    Ok(())
}

/// One connection: HTTP/1 with the header deadline, closed after `idle_timeout` without a byte
/// moved, and shut down gracefully (the request in flight finishes) once `stop` turns true.
fn serve_connection(
    stream: TcpStream,
    app: Router,
    http: Arc<http1::Builder>,
    limits: &ConnLimits,
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let idle_timeout = limits.idle_timeout;
    async move {
        let clock = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Watched {
            inner: stream,
            clock,
            last: last.clone(),
        });
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                tower::ServiceExt::oneshot(app.clone(), req)
            });
        let conn = http.serve_connection(io, service);
        tokio::pin!(conn);
        let mut stopping = *stop.borrow();
        if stopping {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            let quiet_since = clock + Duration::from_millis(last.load(Ordering::Relaxed));
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                    return;
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(quiet_since + idle_timeout) => {
                    let quiet = clock + Duration::from_millis(last.load(Ordering::Relaxed));
                    if quiet + idle_timeout <= Instant::now() {
                        tracing::debug!("closing a connection idle for the idle timeout");
                        return;
                    }
                }
            }
        }
    }
}

/// A stream that notes when it last moved a byte (milliseconds since `clock`), for the idle
/// timeout. hyper's own header deadline does not cover a client that stops reading the response
/// or stops sending a body.
struct Watched {
    inner: TcpStream,
    clock: Instant,
    last: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let ms = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal: finishing the requests in flight");
}
