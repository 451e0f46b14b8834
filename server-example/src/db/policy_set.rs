//! The stored policies, compiled once and kept while the policies' generation stays the same.
//!
//! `/alerts` reads one number (`policy_generation`) per call instead of reloading and
//! recompiling every policy: compiling is CPU work of up to the core's limits
//! (`inframind_core::healing::MAX_SET_REGEX_BYTES`), done on a blocking thread, once per change.
//! Every create, replace and delete moves the generation in its own transaction, so a change
//! made through another replica is picked up at this replica's next call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use inframind_core::healing::{PolicySet, PolicySpec};
use sqlx::Row;

use super::Db;
use crate::error::{AppError, Result};

/// The compiled set and what guards its use.
#[derive(Default)]
pub(super) struct PolicyCache {
    /// (generation, set) last compiled.
    current: RwLock<Option<(i64, Arc<PolicySet>)>>,
    /// One compilation at a time: callers arriving meanwhile wait and take its result.
    compiling: tokio::sync::Mutex<()>,
    compilations: AtomicU64,
    /// Held from a decision to its audit row, see [`Db::decide_lock`].
    deciding: tokio::sync::Mutex<()>,
}

impl PolicyCache {
    fn at(&self, generation: i64) -> Option<Arc<PolicySet>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        match &*current {
            Some((g, set)) if *g >= generation => Some(Arc::clone(set)),
            _ => None,
        }
    }

    fn store(&self, generation: i64, set: Arc<PolicySet>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_none_or(|(g, _)| *g <= generation) {
            *current = Some((generation, set));
        }
    }
}

impl Db {
    /// The policies' generation: it moves with every create, replace and delete.
    pub async fn policy_generation(&self) -> Result<i64> {
        let row = sqlx::query("SELECT generation FROM policy_generation WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }

    /// The stored policies, compiled: the kept set while the generation is unchanged, else
    /// compiled again (on a blocking thread) and kept.
    pub async fn policy_set(&self) -> Result<Arc<PolicySet>> {
        let generation = self.policy_generation().await?;
        if let Some(set) = self.policy_cache.at(generation) {
            return Ok(set);
        }
        let _one_at_a_time = self.policy_cache.compiling.lock().await;
        if let Some(set) = self.policy_cache.at(generation) {
            return Ok(set);
        }
        // Read after the generation: at worst newer policies are kept under an older number,
        // and the next call compiles once more.
        let stored = self.policies().await?;
        let set = tokio::task::spawn_blocking(move || compile(stored))
            .await
            .map_err(|e| AppError::Internal(format!("compiling the policies failed: {e}")))??;
        let set = Arc::new(set);
        self.policy_cache
            .compilations
            .fetch_add(1, Ordering::Relaxed);
        self.policy_cache.store(generation, Arc::clone(&set));
        Ok(set)
    }

    /// How many times this process compiled the stored policy set.
    pub fn policy_compilations(&self) -> u64 {
        self.policy_cache.compilations.load(Ordering::Relaxed)
    }

    /// Serializes the alert decisions of this process from the decision to its audit row, so
    /// the safety state (cooldowns, deduplication) changes only after the row is committed and
    /// a duplicate delivery arriving meanwhile is still decided against it.
    pub async fn decide_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.policy_cache.deciding.lock().await
    }
}

/// Decodes and compiles stored policies; a stored policy that no longer loads is named.
pub(crate) fn compile(stored: Vec<(String, String)>) -> Result<PolicySet> {
    let specs = stored
        .into_iter()
        .map(|(name, spec)| {
            serde_json::from_str::<PolicySpec>(&spec).map_err(|e| {
                AppError::Internal(format!("stored policy {name:?} cannot be read: {e}"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    PolicySet::new(specs).map_err(|e| {
        AppError::Internal(format!(
            "the stored policies no longer compile ({e}); fix or delete the policy named"
        ))
    })
}
