//! The binary's body: settings, logging, `--demo`, listening, graceful shutdown.

use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Cli, Config, Secret, NO_TOKEN};
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
        config.tokens.push(Secret::new(DEMO_TOKEN));
        eprintln!(
            "--demo without INFRAMIND_TOKEN: accepting the demo token (X-IM-Token: {DEMO_TOKEN})"
        );
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
    tracing::info!(listen = %cli.listen, "inframind-server ready");
    let db = state.db.clone();
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    db.close().await;
    match served {
        Ok(()) => {
            tracing::info!("stopped after finishing the requests in flight");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("server error: {e}")),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("inframind-server: {msg}");
    ExitCode::from(2)
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
