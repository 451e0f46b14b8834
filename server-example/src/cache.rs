//! The per-pipeline memory behind `/optimize`: the newest runs and the newest model.
//!
//! `/optimize` must answer in well under 2 ms, so it never reads the database on the hot path.
//! Each pipeline has a [`Snapshot`] (its newest `history_window` completed runs, oldest first,
//! and its newest model) behind an `ArcSwap`: a request loads it without a lock and without
//! copying, and a refresh swaps in a new one atomically.
//!
//! Freshness, and why this way:
//! - a completion on **this** replica marks the pipeline dirty, so the next `/optimize` here
//!   first reads what changed (read-your-writes for a client that completes then optimizes);
//! - other replicas' completions and models are found by a **cheap check** at most every
//!   `cache_ttl` (1 s by default): one primary-key read of the `pipelines` row (completed-run
//!   count and model version). It runs in the background while requests keep using the current
//!   snapshot; only when the count moved are the new runs read (`seq > last seen`, an index
//!   range), and only when the version moved is the new model loaded from the model store.
//!   A TTL alone would reload everything every second; a count check alone on every request
//!   would put a query on the hot path. Together a replica sees the others' data within about
//!   one TTL at the cost of one indexed read per pipeline per TTL.
//!
//! Only pipelines with completed runs (or a model) get an entry: a request naming a pipeline
//! the database does not know reads the database and is answered cold without adding one, so
//! made-up names cannot fill the cache and push real pipelines out.
//!
//! The window (1,000 runs by default) covers everything the core reads of a history: the
//! statistics look at the last 50 runs and the `history_runs` feature stops counting at 1,000.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use inframind_core::features::run_features;
use inframind_core::{BuildRun, DurationModel, ModelStore, Prediction};

use crate::db::Db;
use crate::error::{AppError, Result};

/// Most pipelines kept in memory; requests for more are answered from the database directly.
pub const MAX_PIPELINES: usize = 10_000;

/// What `/optimize` reads for one pipeline.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Newest completed runs with a declared config, oldest first.
    pub history: Arc<Vec<BuildRun>>,
    /// Completion count the history is current to.
    pub seq: i64,
    /// Newest model, if one was trained.
    pub model: Option<Arc<DurationModel>>,
    /// Its store version (0: none).
    pub model_version: i64,
}

struct Entry {
    snap: ArcSwap<Snapshot>,
    checked_ms: AtomicU64,
    dirty: AtomicBool,
    refreshing: AtomicBool,
    lock: tokio::sync::Mutex<()>,
}

/// The per-pipeline snapshots.
pub struct HistoryCache {
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    epoch: Instant,
    ttl_ms: u64,
    window: usize,
}

impl std::fmt::Debug for HistoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryCache")
            .field("ttl_ms", &self.ttl_ms)
            .field("window", &self.window)
            .finish()
    }
}

impl HistoryCache {
    /// An empty cache.
    pub fn new(ttl: std::time::Duration, window: usize) -> Self {
        HistoryCache {
            entries: RwLock::new(HashMap::new()),
            epoch: Instant::now(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            window: window.max(1),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn entry(&self, pipeline: &str) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(pipeline)
            .cloned()
    }

    /// The pipeline's snapshot, current to this replica's writes and at most about one TTL
    /// behind other replicas'.
    pub async fn get(
        self: &Arc<Self>,
        db: &Db,
        store: &Arc<ModelStore>,
        pipeline: &str,
    ) -> Result<Arc<Snapshot>> {
        if let Some(e) = self.entry(pipeline) {
            if e.dirty.load(Ordering::Acquire) {
                let _g = e.lock.lock().await;
                if e.dirty.load(Ordering::Acquire) {
                    // The database being down must not stop /optimize: answer from what we have.
                    if let Err(err) = self.refresh(&e, db, store, pipeline).await {
                        tracing::warn!(pipeline, "refresh failed, answering from memory: {err}");
                    }
                }
            } else if self
                .now_ms()
                .saturating_sub(e.checked_ms.load(Ordering::Relaxed))
                >= self.ttl_ms
                && !e.refreshing.swap(true, Ordering::AcqRel)
            {
                let (this, e2, db, store, p) = (
                    Arc::clone(self),
                    Arc::clone(&e),
                    db.clone(),
                    Arc::clone(store),
                    pipeline.to_string(),
                );
                tokio::spawn(async move {
                    let _g = e2.lock.lock().await;
                    if let Err(err) = this.refresh(&e2, &db, &store, &p).await {
                        tracing::warn!(pipeline = %p, "background refresh failed: {err}");
                    }
                    e2.refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(e.snap.load_full());
        }
        let e = Arc::new(Entry {
            snap: ArcSwap::from_pointee(Snapshot::default()),
            checked_ms: AtomicU64::new(0),
            dirty: AtomicBool::new(true),
            refreshing: AtomicBool::new(false),
            lock: tokio::sync::Mutex::new(()),
        });
        let known = {
            let _g = e.lock.lock().await;
            match self.refresh(&e, db, store, pipeline).await {
                Ok(known) => known,
                Err(err) => {
                    // Nothing in memory to answer from: a cold start, as for a new pipeline,
                    // rather than no answer while the database is down.
                    tracing::warn!(pipeline, "first read failed, answering cold: {err}");
                    false
                }
            }
        };
        if !known {
            return Ok(e.snap.load_full());
        }
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(pipeline) {
            return Ok(existing.snap.load_full());
        }
        if map.len() < MAX_PIPELINES {
            map.insert(pipeline.to_string(), Arc::clone(&e));
        }
        Ok(e.snap.load_full())
    }

    /// Pipelines held in memory.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no pipeline is held in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the pipeline's model in memory predicts for a run that just completed, from the
    /// runs before it in memory; `None` without a model here. Never reads the database.
    pub fn predict(&self, pipeline: &str, run: &BuildRun) -> Option<Prediction> {
        let snap = self.entry(pipeline)?.snap.load_full();
        let model = snap.model.as_ref()?;
        // Another replica's refresh may already hold this run: the features see what came
        // before it.
        let before = snap
            .history
            .iter()
            .rposition(|r| r.run_id == run.run_id)
            .unwrap_or(snap.history.len());
        let row = run_features(run, &snap.history[..before]);
        model.predict_features(&row).ok()
    }

    /// Marks a pipeline as changed by this replica: the next read refreshes first.
    pub fn invalidate(&self, pipeline: &str) {
        if let Some(e) = self.entry(pipeline) {
            e.dirty.store(true, Ordering::Release);
        }
    }

    /// Swaps in a model the trainer just stored.
    pub fn set_model(&self, pipeline: &str, version: i64, model: Arc<DurationModel>) {
        if let Some(e) = self.entry(pipeline) {
            let cur = e.snap.load_full();
            if version > cur.model_version {
                e.snap.store(Arc::new(Snapshot {
                    history: Arc::clone(&cur.history),
                    seq: cur.seq,
                    model: Some(model),
                    model_version: version,
                }));
            }
        }
    }

    /// Reads what changed; answers whether the pipeline has completed runs or a model.
    async fn refresh(
        &self,
        e: &Entry,
        db: &Db,
        store: &Arc<ModelStore>,
        pipeline: &str,
    ) -> Result<bool> {
        // Cleared before reading, so a completion landing during the read marks it again. On a
        // database error the old snapshot stays and the background check retries.
        e.dirty.store(false, Ordering::Release);
        let cur = e.snap.load_full();
        let state = match db.pipeline_state(pipeline).await {
            Ok(s) => s.unwrap_or_default(),
            Err(err) => {
                // Retried by the background check after one TTL, not by every request.
                e.checked_ms.store(self.now_ms(), Ordering::Relaxed);
                return Err(err);
            }
        };
        let mut history = Arc::clone(&cur.history);
        let mut seq = cur.seq;
        if state.completed > cur.seq {
            let limit = i64::try_from(self.window).unwrap_or(i64::MAX);
            let new = match db.history(pipeline, cur.seq, state.completed, limit).await {
                Ok(n) => n,
                Err(err) => {
                    e.checked_ms.store(self.now_ms(), Ordering::Relaxed);
                    return Err(err);
                }
            };
            let mut runs: Vec<BuildRun> =
                Vec::with_capacity((cur.history.len() + new.len()).min(self.window));
            let keep_old = self.window.saturating_sub(new.len()).min(cur.history.len());
            runs.extend_from_slice(&cur.history[cur.history.len() - keep_old..]);
            runs.extend(new.into_iter().map(|(_, r)| r));
            history = Arc::new(runs);
            seq = state.completed;
        }
        let mut model = cur.model.clone();
        let mut model_version = cur.model_version;
        if state.model_version > cur.model_version {
            let (store, p) = (Arc::clone(store), pipeline.to_string());
            let v = u32::try_from(state.model_version).unwrap_or(u32::MAX);
            let loaded = tokio::task::spawn_blocking(move || store.load(&p, v))
                .await
                .map_err(|e| AppError::Internal(format!("model load task failed: {e}")))?;
            match loaded {
                Ok(m) => model = Some(Arc::new(m)),
                Err(err) => tracing::warn!(
                    pipeline,
                    version = state.model_version,
                    "model version is recorded in the database but cannot be loaded from the \
                     model store (is --model-dir shared between replicas?): {err}"
                ),
            }
            model_version = state.model_version;
        }
        let known = seq > 0 || model_version > 0;
        e.snap.store(Arc::new(Snapshot {
            history,
            seq,
            model,
            model_version,
        }));
        e.checked_ms.store(self.now_ms(), Ordering::Relaxed);
        Ok(known)
    }
}
