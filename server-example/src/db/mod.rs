//! Storage: SQLite or PostgreSQL through sqlx's `Any` driver, one SQL for both where possible.
//!
//! Every write goes through one **writer task** per process ([`Db`] hands it jobs over a
//! channel): it takes up to `write_batch` queued jobs, applies them in **one transaction**,
//! commits, and only then answers each request. A client is told "201" only after its row is
//! committed, so a crash loses nothing acknowledged; and one commit (one WAL sync) carries many
//! requests, which is how `/builds/step` keeps up on SQLite with `synchronous=FULL`. Consecutive
//! steps in a batch are written together (one counter update per run, one INSERT per 32
//! steps): each statement is a round trip to the database (a thread hand-off for SQLite, TCP
//! for PostgreSQL), and two per step were most of the server's time under load. If a job
//! fails in the database (not a 404/409, which writes nothing), the batch is rolled back and its
//! jobs are retried one transaction each, so one bad job never fails its neighbours.
//!
//! SQLite runs in WAL mode (readers never block the writer) with `synchronous=FULL` by default
//! (`--sqlite-synchronous normal` trades the last commits on power loss for speed). One process
//! per SQLite file: for several replicas use PostgreSQL, where row locks (`FOR UPDATE`, the
//! `pipelines` counter) order concurrent writers and a deadlock between two replicas' batches
//! is retried job by job.

mod migrations;
mod policy_set;
mod reads;
mod rows;
mod writer;
mod writes;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tokio::sync::mpsc;

use crate::config::{Config, SqliteSync};
use crate::error::{AppError, Result};
use writer::{writer_loop, Job};

pub use rows::{PipelineState, StoredRun, TrainingRow};
pub use writes::{CompleteResult, Completion, DecisionRow, NewRun, PutMode, StartResult};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Seconds since the Unix epoch, now.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The database: a read pool and the writer task's queue.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: mpsc::Sender<Job>,
    policy_cache: std::sync::Arc<policy_set::PolicyCache>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Connects, applies the embedded migrations and starts the writer task.
    pub async fn connect(config: &Config) -> Result<Db> {
        let url = config.db_url.as_str();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(AppError::invalid(
                "db",
                format!(
                    "unsupported database URL {:?}: use sqlite://FILE or postgres://...",
                    redact(url)
                ),
            ));
        };
        if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
            return Err(AppError::invalid(
                "db",
                "in-memory SQLite is not supported (each pooled connection would see its own \
                 database): give a file, e.g. --db /tmp/inframind.db",
            ));
        }
        sqlx::any::install_default_drivers();
        let sync = match config.sqlite_sync {
            SqliteSync::Full => "PRAGMA synchronous=FULL",
            SqliteSync::Normal => "PRAGMA synchronous=NORMAL",
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute(sync).await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                        conn.execute("PRAGMA busy_timeout=5000").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| {
                AppError::Unavailable(format!("cannot connect to {}: {e}", redact(url)))
            })?;
        migrations::run(&pool, backend).await?;
        let (tx, rx) = mpsc::channel(config.write_batch.max(1) * 8);
        tokio::spawn(writer_loop(
            pool.clone(),
            backend,
            rx,
            config.write_batch.max(1),
        ));
        let db = Db {
            pool,
            backend,
            writer: tx,
            policy_cache: std::sync::Arc::default(),
        };
        // Compiled at start, so the first alert does not wait for it; a stored policy that no
        // longer compiles is reported by `/alerts`, and must not keep the server from starting.
        if let Err(e) = db.policy_set().await {
            tracing::warn!("the stored policies are not usable: {e}");
        }
        Ok(db)
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The read pool (the trainer takes its advisory-lock connection from it).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        let fut = sqlx::query("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(Duration::from_secs(2), fut).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(AppError::Unavailable(format!("database unreachable: {e}"))),
            Err(_) => Err(AppError::Unavailable(
                "database did not answer within 2 s".into(),
            )),
        }
    }

    /// Closes the pool (the writer finishes its queue first when the last `Db` is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://im:secret@127.0.0.1:5432/db"),
            "postgres://im:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
