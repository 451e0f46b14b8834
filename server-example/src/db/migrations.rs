//! The schema: the embedded migrations of each backend (`server-example/migrations/`).

use sqlx::AnyPool;

use super::Backend;
use crate::error::{AppError, Result};

/// Brings the database to the newest schema; already applied migrations are skipped.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let migrated = match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(pool).await,
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(pool).await,
    };
    migrated.map_err(|e| AppError::Unavailable(format!("database migration failed: {e}")))
}
