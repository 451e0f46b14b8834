//! # server-example: InfraMind as a REST service
//!
//! An axum service embedding `inframind-core`: build telemetry in (`/builds/start`, `/step`,
//! `/complete`), suggestions out (`/optimize`), Alertmanager alerts evaluated against stored
//! policies (`/alerts`, `/policies`), GitHub and GitLab job webhooks, on SQLite or PostgreSQL.
//! Every decision (the suggestion, the features, the log classification and the status a run is
//! recorded with, when to retrain, the policy verdict, the environment of a config, which input
//! is valid) is the core's; this crate translates HTTP and SQL, and answers the core's errors by
//! their kind.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use server_example::{config::{Config, ConnLimits, Secret}, serve, AppState};
//!
//! let mut config = Config::new("sqlite:///tmp/inframind.db?mode=rwc", "/tmp/inframind-models");
//! config.tokens = vec![Secret::new("change-me")];
//! let state = AppState::new(config).await?;
//! let app = server_example::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // Header and idle deadlines, a connection cap and a drain deadline at shutdown.
//! serve::serve(listener, app, ConnLimits::default(), serve::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`], [`auth`], [`error`], [`db`], [`cache`] (the `/optimize` snapshots),
//! [`trainer`], [`executor`], [`metrics`], [`routes`], [`demo`], [`serve`] (the connection
//! loop and its limits).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod executor;
pub mod metrics;
pub mod routes;
pub mod serve;
pub mod trainer;

use std::sync::{Arc, Mutex};

use inframind_core::healing::{SafetyConfig, SafetyState};
use inframind_core::{ModelStore, Optimizer, OptimizerParams};

pub use error::{AppError, Result};
pub use routes::router;

use crate::auth::Auth;
use crate::cache::HistoryCache;
use crate::config::Config;
use crate::db::Db;
use crate::executor::{ActionExecutor, RecordOnly};
use crate::metrics::Metrics;
use crate::trainer::Trainer;

/// Everything a request handler reads: cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    /// Settings.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// Per-pipeline history and model snapshots.
    pub cache: Arc<HistoryCache>,
    /// Model files.
    pub store: Arc<ModelStore>,
    /// The core's optimizer.
    pub optimizer: Arc<Optimizer>,
    /// The server's own metrics.
    pub metrics: Arc<Metrics>,
    /// Cooldowns, rate limits and delivery dedup of the alert policies, per process.
    pub safety: Arc<Mutex<SafetyState>>,
    /// Carries out matched actions.
    pub executor: Arc<dyn ActionExecutor>,
    /// Background retraining queue.
    pub trainer: Trainer,
    /// API tokens.
    pub auth: Auth,
    /// This process's name in the training log.
    pub replica: Arc<str>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("replica", &self.replica)
            .finish()
    }
}

impl AppState {
    /// Connects the database (applying migrations), opens the model store and starts the
    /// writer and trainer tasks.
    pub async fn new(config: Config) -> Result<Self> {
        let db = Db::connect(&config).await?;
        let store = ModelStore::open(&config.model_dir)?;
        let (trainer, rx) = Trainer::new();
        let state = AppState {
            cache: Arc::new(HistoryCache::new(
                config.cache_ttl,
                usize::try_from(config.history_window).unwrap_or(usize::MAX),
            )),
            optimizer: Arc::new(Optimizer::new(OptimizerParams::default())?),
            auth: Auth::new(&config.tokens),
            config: Arc::new(config),
            db,
            store: Arc::new(store),
            metrics: Arc::new(Metrics::default()),
            safety: Arc::new(Mutex::new(SafetyState::new(SafetyConfig::default()))),
            executor: Arc::new(RecordOnly),
            trainer,
            replica: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()).into(),
        };
        tokio::spawn(trainer::run(state.clone(), rx));
        Ok(state)
    }

    /// The same state with another action executor.
    pub fn with_executor(mut self, executor: Arc<dyn ActionExecutor>) -> Self {
        self.executor = executor;
        self
    }
}
