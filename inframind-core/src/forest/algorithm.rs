//! The fitted random forest and its training.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use linfa::dataset::{AsSingleTargets, DatasetBase, Records};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::hyperparams::{LeafSize, RandomForestValidParams};
use super::tree::{
    self, GrowParams, Presorted, RowSets, Tree, Trees, WalkScratch, MAX_FEATURES, MAX_NODES,
};
use crate::error::{Error, Result};

/// Fewest rows per thread for which a batch prediction is shared between threads.
const PAR_MIN_ROWS: usize = 32;
/// Fewest row-steps down the trees (rows x sum of tree depths; ~1 ns each on one core when
/// the model does not fit in the core's cache) for which a batch prediction is shared between
/// threads.
const PAR_MIN_STEPS: usize = 150_000;
/// Fewest nodes (8 bytes each) of a forest whose batches are shared between threads: a smaller
/// model stays in the core's cache and walks too fast for a thread's wake-up (tens of
/// microseconds here) to pay.
const PAR_MIN_NODES: usize = 8192;
/// Trees a thread takes at a time when a batch prediction is shared: few, because the caller
/// ends by waiting for the group a helper is walking (two trees of the 50k demo model take
/// ~10 µs for 150 rows).
const SHARE_TREES: usize = 2;
/// Pruning levels tried by [`LeafSize::Auto`]: fewest distinct rows a node needs to split.
const AUTO_MIN_SPLIT: [u32; 8] = [2, 4, 8, 16, 32, 64, 128, 256];
/// Trees grown to full depth to choose the pruning level of [`LeafSize::Auto`].
const AUTO_PROBE_TREES: usize = 16;
/// Out-of-bag R² differences below this are noise when choosing a pruning level.
const OOB_TIE_TOLERANCE: f64 = 1e-4;

/// A prediction: the mean over trees, and how much the trees disagree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Mean of the trees' predictions.
    pub mean: f64,
    /// Standard deviation of the trees' predictions: an uncertainty, in the target's unit.
    pub spread: f64,
}

/// A random forest of regression trees (Breiman 2001): bootstrap rows per tree, exact
/// variance-reduction splits, mean of the trees as prediction.
///
/// ```
/// use inframind_core::forest::{RandomForestParams, RandomForestRegressor};
/// use linfa::prelude::*;
/// use ndarray::{Array1, Array2};
///
/// // y = 3 x0 + noise-free step on x1
/// let x = Array2::from_shape_fn((200, 2), |(i, j)| if j == 0 { i as f64 } else { (i % 7) as f64 });
/// let y: Array1<f64> = x.rows().into_iter().map(|r| 3.0 * r[0] + if r[1] > 3.0 { 50.0 } else { 0.0 }).collect();
/// let forest = RandomForestParams::new().n_trees(20).seed(1).fit(&Dataset::new(x.clone(), y))?;
/// let p = forest.predict_row(&[100.0, 5.0])?;
/// assert!((p.mean - 350.0).abs() < 25.0, "{p:?}");
/// let all: Array1<f64> = forest.predict(&x);
/// assert_eq!(all.len(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestRegressor {
    pub(crate) trees: Trees,
    pub(crate) n_features: usize,
    pub(crate) importances: Vec<f64>,
    pub(crate) oob_r2: Option<f64>,
    pub(crate) min_split: u32,
}

impl RandomForestRegressor {
    /// Fits a forest on `x` (rows x features) and `y`.
    pub fn fit_arrays(
        params: &RandomForestValidParams,
        x: ArrayView2<'_, f64>,
        y: &[f64],
    ) -> Result<Self> {
        let (n_rows, n_features) = x.dim();
        if n_rows < 2 {
            return Err(Error::NotEnoughData(format!(
                "a forest needs at least 2 rows, got {n_rows}"
            )));
        }
        if y.len() != n_rows {
            return Err(Error::invalid_field(
                "y",
                y.len(),
                format!("needs one target per row ({n_rows} rows)"),
            ));
        }
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(Error::FeatureCount {
                expected: MAX_FEATURES.min(n_features.max(1)),
                found: n_features,
            });
        }
        if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid_field(
                format!("y[{i}]"),
                v,
                "targets must be finite",
            ));
        }
        let mut columns = vec![Vec::with_capacity(n_rows); n_features];
        for (i, row) in x.rows().into_iter().enumerate() {
            for (f, &v) in row.iter().enumerate() {
                let v32 = v as f32;
                if !v32.is_finite() {
                    return Err(Error::invalid_field(
                        format!("x[{i}][{f}]"),
                        v,
                        "features must be finite (and within f32 range)",
                    ));
                }
                columns[f].push(v32);
            }
        }
        let data = Presorted::new(columns, y.to_vec());
        Self::fit_presorted(params, &data)
    }

    fn fit_presorted(params: &RandomForestValidParams, data: &Presorted) -> Result<Self> {
        let n = data.n_rows;
        let nf = data.n_features;
        let min_leaf = match params.leaf {
            LeafSize::Fixed(k) => k,
            LeafSize::Auto => 1,
        };
        let mut grow = GrowParams {
            max_depth: params.max_depth.unwrap_or(usize::MAX),
            min_leaf,
            min_split: 2,
            features_per_split: ((nf as f64 * params.max_features).round() as usize).clamp(1, nf),
        };
        let recip: Vec<f64> = (0..=n)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
            .collect();
        // Trees are independent; each has its own RNG derived from (seed, index), so the forest
        // is the same whatever the number of threads.
        let grow_trees = |range: std::ops::Range<usize>,
                          grow: &GrowParams|
         -> Vec<(Vec<tree::GrowNode>, Vec<u32>)> {
            range
                .into_par_iter()
                .map(|t| {
                    let mut rng = ChaCha8Rng::seed_from_u64(
                        params.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    );
                    let weights = if params.bootstrap {
                        let mut w = vec![0u32; n];
                        for _ in 0..n {
                            w[rng.random_range(0..n)] += 1;
                        }
                        w
                    } else {
                        vec![1u32; n]
                    };
                    let nodes = tree::grow(data, &weights, &recip, grow, &mut rng);
                    (nodes, weights)
                })
                .collect()
        };

        // Automatic leaf size: grow a few probe trees to full depth, choose the pruning level by
        // their out-of-bag R², then grow the other trees only that deep. Not splitting a node
        // with fewer than m rows gives exactly the tree that pruning at m would, for a fraction
        // of the work.
        let auto = params.leaf == LeafSize::Auto && params.bootstrap;
        let n_probe = if auto {
            params.n_trees.min(AUTO_PROBE_TREES)
        } else {
            params.n_trees
        };
        let mut grown = grow_trees(0..n_probe, &grow);
        let min_split = if auto {
            oob_r2_per_level(data, &grown, &AUTO_MIN_SPLIT).map_or(AUTO_MIN_SPLIT[0], |scores| {
                // The best level; among levels within noise of it, the most pruned (smaller
                // model, faster walk).
                let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let l = scores
                    .iter()
                    .rposition(|&r2| r2 >= best - OOB_TIE_TOLERANCE)
                    .unwrap_or(0);
                AUTO_MIN_SPLIT[l]
            })
        } else {
            AUTO_MIN_SPLIT[0]
        };
        if n_probe < params.n_trees {
            grow.min_split = min_split;
            grown.extend(grow_trees(n_probe..params.n_trees, &grow));
        }
        let compacted: Vec<(Tree, Vec<f64>)> = grown
            .par_iter()
            .map(|(nodes, _)| tree::compact(nodes, min_split, nf))
            .collect::<std::result::Result<_, usize>>()
            .map_err(|n_nodes| Error::InvalidParams {
                param: "min_samples_leaf",
                value: min_leaf.to_string(),
                reason: format!(
                    "a tree grew {n_nodes} nodes, more than the {MAX_NODES} a tree can hold: \
                     raise min_samples_leaf or set max_depth"
                ),
            })?;
        let oob_r2 = if params.bootstrap {
            let trees: Vec<(&Tree, &[u32])> = compacted
                .iter()
                .zip(&grown)
                .map(|((t, _), (_, w))| (t, &w[..]))
                .collect();
            oob_r2_compact(data, &trees).filter(|r2| r2.is_finite())
        } else {
            None
        };
        let mut importances = vec![0.0; nf];
        let mut trees = Vec::with_capacity(compacted.len());
        for (t, imp) in compacted {
            let total: f64 = imp.iter().sum();
            if total > 0.0 {
                for (acc, v) in importances.iter_mut().zip(&imp) {
                    *acc += v / total;
                }
            }
            trees.push(t);
        }
        let total: f64 = importances.iter().sum();
        if total > 0.0 {
            importances.iter_mut().for_each(|v| *v /= total);
        }
        Ok(RandomForestRegressor {
            trees: trees.into(),
            n_features: nf,
            importances,
            oob_r2,
            min_split,
        })
    }

    /// Number of features a row must have.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Total nodes over all trees.
    pub fn n_nodes(&self) -> usize {
        self.trees.iter().map(Tree::n_nodes).sum()
    }

    /// Mean over trees of the longest root-to-leaf path.
    pub fn mean_depth(&self) -> f64 {
        self.trees.iter().map(|t| f64::from(t.depth)).sum::<f64>() / self.trees.len().max(1) as f64
    }

    /// Out-of-bag R² (each row predicted only by the trees that did not see it), when the
    /// forest was trained with bootstrap.
    pub fn oob_score(&self) -> Option<f64> {
        self.oob_r2
    }

    /// Mean decrease in squared error per feature, normalised to sum to 1.
    pub fn feature_importances(&self) -> &[f64] {
        &self.importances
    }

    /// Fewest distinct training rows a node needed to keep its split (chosen by out-of-bag
    /// validation with [`LeafSize::Auto`]).
    pub fn min_samples_split(&self) -> u32 {
        self.min_split
    }

    /// Predicts one row: mean and spread over the trees.
    pub fn predict_row(&self, row: &[f64]) -> Result<Prediction> {
        self.check_row(row)?;
        let mut buf = [0f32; 64];
        let mut heap;
        let padded: &mut [f32] = if row.len() < buf.len() {
            &mut buf[..row.len() + 1]
        } else {
            heap = vec![0f32; row.len() + 1];
            &mut heap
        };
        for (d, &s) in padded.iter_mut().zip(row) {
            *d = s as f32;
        }
        padded[row.len()] = f32::NAN;
        Ok(self.predict_padded_row(padded))
    }

    /// Predicts one row of `n_features` values followed by NaN, [`LANES`](tree::LANES) trees
    /// at a time.
    pub(crate) fn predict_padded_row(&self, row: &[f32]) -> Prediction {
        let mut leaf = vec![0f32; self.trees.len()];
        tree::walk_trees_to_leaves(
            &self.trees,
            self.trees.row_first_look,
            row,
            &mut leaf,
            &mut WalkScratch::default(),
        );
        let (mut sum, mut sum2) = (0.0, 0.0);
        for v in leaf.into_iter().map(f64::from) {
            sum += v;
            sum2 += v * v;
        }
        self.finish(&[sum], &[sum2])[0]
    }

    /// Predicts many rows (rows x features), [`LANES`](tree::LANES) rows at a time through
    /// each tree.
    pub fn predict_batch(&self, x: ArrayView2<'_, f64>) -> Result<Vec<Prediction>> {
        let (n_rows, n_cols) = x.dim();
        if n_cols != self.n_features {
            return Err(Error::FeatureCount {
                expected: self.n_features,
                found: n_cols,
            });
        }
        let mut rows32 = Vec::with_capacity(n_rows * (n_cols + 1));
        for (i, row) in x.rows().into_iter().enumerate() {
            for (f, &v) in row.iter().enumerate() {
                if v.is_nan() {
                    return Err(Error::invalid_field(
                        format!("x[{i}][{f}]"),
                        v,
                        "features must not be NaN",
                    ));
                }
                rows32.push(v as f32);
            }
            rows32.push(f32::NAN);
        }
        Ok(self.predict_rows_f32(&rows32))
    }

    /// Values per row in the packed `f32` rows of [`predict_rows_f32`](Self::predict_rows_f32):
    /// the features and a trailing NaN.
    pub(crate) fn row_stride(&self) -> usize {
        self.n_features + 1
    }

    /// Predicts rows packed in one `f32` slice, [`row_stride`](Self::row_stride) values a row
    /// (the features, then NaN).
    ///
    /// Each tree walks [`LANES`](tree::LANES) rows in lockstep with no data-dependent branch
    /// (see [`tree::walk_to_leaves`]): the walks are independent, so the CPU overlaps their
    /// memory loads instead of mispredicting each turn.
    ///
    /// A batch worth sharing (at least `2 x` [`PAR_MIN_ROWS`] rows, [`PAR_MIN_STEPS`] walk
    /// steps and a model of [`PAR_MIN_NODES`] nodes) is shared with the other threads of
    /// rayon's pool, see [`predict_rows_shared_by`](Self::predict_rows_shared_by); each row
    /// still sums its trees in the same order, so the result does not depend on the number of
    /// threads.
    pub(crate) fn predict_rows_f32(&self, rows: &[f32]) -> Vec<Prediction> {
        let stride = self.row_stride();
        let n_rows = rows.len() / stride;
        let steps: usize = n_rows * self.trees.iter().map(|t| t.depth as usize).sum::<usize>();
        let threads = rayon::current_num_threads().min(n_rows / PAR_MIN_ROWS);
        let worth_it = steps >= PAR_MIN_STEPS && self.n_nodes() >= PAR_MIN_NODES;
        let helpers = if worth_it {
            threads.saturating_sub(1)
        } else {
            0
        };
        self.predict_rows_shared_by(rows, helpers)
    }

    /// [`predict_rows_f32`](Self::predict_rows_f32) with up to `helpers` threads of rayon's
    /// pool helping the calling thread, see [`SharedBatch`]. The leaf values are summed in
    /// tree order, exactly as on one thread.
    fn predict_rows_shared_by(&self, rows: &[f32], helpers: usize) -> Vec<Prediction> {
        let stride = self.row_stride();
        let n_rows = rows.len() / stride;
        let n_groups = self.trees.len().div_ceil(SHARE_TREES);
        if helpers == 0 || n_groups < 2 {
            return self.predict_rows_one_thread(rows);
        }
        let batch = Arc::new(SharedBatch {
            trees: self.trees.shared(),
            rows: rows.to_vec(),
            starts: row_starts(n_rows, stride),
            untaken: Mutex::new(0..n_groups),
            walked: Mutex::new(Vec::with_capacity(n_groups)),
            settled: AtomicUsize::new(0),
        });
        for _ in 0..helpers.min(n_groups - 1) {
            let batch = Arc::clone(&batch);
            rayon::spawn(move || batch.work(true));
        }
        batch.work(false);
        batch.wait_until_settled(n_groups);
        let mut walked = std::mem::take(&mut *lock(&batch.walked));
        walked.sort_unstable_by_key(|&(g, _)| g);
        let mut sum = vec![0.0f64; n_rows];
        let mut sum2 = vec![0.0f64; n_rows];
        let mut scratch = WalkScratch::default();
        let mut walked = walked.into_iter().peekable();
        for g in 0..n_groups {
            // A group is missing only if the helper walking it panicked: walk it here.
            let leaves = match walked.next_if(|&(h, _)| h == g) {
                Some((_, leaves)) => leaves,
                None => batch.walk_group(g, &mut scratch),
            };
            for leaf in leaves.chunks(n_rows.max(1)) {
                add_leaves(leaf, &mut sum, &mut sum2);
            }
        }
        self.finish(&sum, &sum2)
    }

    fn predict_rows_one_thread(&self, rows: &[f32]) -> Vec<Prediction> {
        let stride = self.row_stride();
        let n_rows = rows.len() / stride;
        let starts = row_starts(n_rows, stride);
        let mut sum = vec![0.0f64; n_rows];
        let mut sum2 = vec![0.0f64; n_rows];
        let mut leaf = vec![0f32; n_rows];
        let mut scratch = WalkScratch::default();
        for t in self.trees.iter() {
            tree::walk_to_leaves(t.walkable(), rows, &starts, &mut leaf, &mut scratch);
            add_leaves(&leaf, &mut sum, &mut sum2);
        }
        self.finish(&sum, &sum2)
    }

    /// Predicts rows that all equal `template` except on the features whose `varies` is true
    /// (the optimizer's candidates: one request's context, many configs), with the same
    /// result as [`predict_rows_f32`](Self::predict_rows_f32). Rows go down each tree as sets
    /// ([`tree::RowSets`], up to [`SET_ROWS`](tree::SET_ROWS) at a time): a split on a fixed
    /// feature is decided once for the whole set, a split on a varying feature divides the set
    /// with a few word operations, so each reachable node costs once per set, not per row.
    ///
    /// `template` and every row hold [`row_stride`](Self::row_stride) values (NaN last).
    pub(crate) fn predict_shared_f32(
        &self,
        template: &[f32],
        varies: &[bool],
        rows: &[f32],
    ) -> Vec<Prediction> {
        let stride = self.row_stride();
        debug_assert_eq!(template.len(), stride);
        debug_assert!(rows.chunks(stride).all(|r| r
            .iter()
            .zip(template)
            .enumerate()
            .all(|(f, (a, b))| f == self.n_features || varies[f] || a.to_bits() == b.to_bits())));
        let n_rows = rows.len() / stride;
        let mut sum = vec![0.0f64; n_rows];
        let mut sum2 = vec![0.0f64; n_rows];
        let mut leaf = vec![0f32; tree::SET_ROWS.min(n_rows)];
        let mut sets = RowSets::default();
        let mut stack = Vec::new();
        for (part, first) in rows
            .chunks(tree::SET_ROWS * stride)
            .zip((0..).step_by(tree::SET_ROWS))
        {
            sets.fill(part, stride, varies);
            let n = part.len() / stride;
            let (leaf, sum, sum2) = (
                &mut leaf[..n],
                &mut sum[first..first + n],
                &mut sum2[first..first + n],
            );
            for t in self.trees.iter() {
                t.leaves_of_row_sets(template, &sets, leaf, &mut stack);
                add_leaves(leaf, sum, sum2);
            }
        }
        self.finish(&sum, &sum2)
    }

    /// Mean and spread per row from the sums of the trees' leaf values and of their squares.
    fn finish(&self, sum: &[f64], sum2: &[f64]) -> Vec<Prediction> {
        let n = self.trees.len() as f64;
        sum.iter()
            .zip(sum2)
            .map(|(&s, &s2)| {
                let mean = s / n;
                Prediction {
                    mean,
                    spread: (s2 / n - mean * mean).max(0.0).sqrt(),
                }
            })
            .collect()
    }

    fn check_row(&self, row: &[f64]) -> Result<()> {
        if row.len() != self.n_features {
            return Err(Error::FeatureCount {
                expected: self.n_features,
                found: row.len(),
            });
        }
        if let Some((f, v)) = row.iter().enumerate().find(|(_, v)| v.is_nan()) {
            return Err(Error::invalid_field(
                format!("x[{f}]"),
                v,
                "features must not be NaN",
            ));
        }
        Ok(())
    }
}

/// Where each of `n_rows` packed rows of `stride` values starts.
fn row_starts(n_rows: usize, stride: usize) -> Vec<usize> {
    (0..n_rows).map(|i| i * stride).collect()
}

/// One batch prediction shared between the calling thread and helpers from rayon's pool.
///
/// The trees are shared out in groups of [`SHARE_TREES`]: the caller takes groups from the
/// front at once, helpers take them from the back when they wake (here from 1 µs to longer
/// than the whole batch). The caller then waits only for the groups a helper is walking (at
/// most a group's walk, spinning: a thread put to sleep here takes tens of microseconds to
/// wake), never for a helper that has not started: the batch is owned by all of them, so a
/// helper that wakes after the caller returned finds nothing left and drops its share. When
/// all are on time, each thread walks the same part of the model, its own cache's worth,
/// call after call.
struct SharedBatch {
    trees: Arc<[Tree]>,
    rows: Vec<f32>,
    starts: Vec<usize>,
    /// Groups not taken yet: `front..back`.
    untaken: Mutex<std::ops::Range<usize>>,
    /// (group, its trees' leaf values, tree by tree) of the groups walked so far.
    walked: Mutex<Vec<(usize, Vec<f32>)>>,
    /// Groups taken and then walked, or given up by a helper that panicked.
    settled: AtomicUsize,
}

impl SharedBatch {
    /// Takes groups, from the front or the back, until none is left.
    fn work(&self, from_back: bool) {
        let mut scratch = WalkScratch::default();
        loop {
            let group = {
                let mut untaken = lock(&self.untaken);
                if from_back {
                    untaken.next_back()
                } else {
                    untaken.next()
                }
            };
            let Some(g) = group else { break };
            // A panic must not leave the caller waiting for this group: it walks it itself.
            let leaves = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.walk_group(g, &mut scratch)
            }));
            if let Ok(leaves) = leaves {
                lock(&self.walked).push((g, leaves));
            }
            self.settled.fetch_add(1, Ordering::Release);
        }
    }

    /// The leaf values of group `g`'s trees, tree by tree.
    fn walk_group(&self, g: usize, scratch: &mut WalkScratch) -> Vec<f32> {
        let n_rows = self.starts.len();
        let trees = &self.trees[g * SHARE_TREES..((g + 1) * SHARE_TREES).min(self.trees.len())];
        let mut leaves = vec![0f32; trees.len() * n_rows];
        for (t, out) in trees.iter().zip(leaves.chunks_mut(n_rows.max(1))) {
            tree::walk_to_leaves(t.walkable(), &self.rows, &self.starts, out, scratch);
        }
        leaves
    }

    /// Returns once all `n_groups` groups are settled. Called after the caller's own
    /// [`work`](Self::work): every group is taken by then, so this waits at most for the
    /// walks helpers are in the middle of.
    fn wait_until_settled(&self, n_groups: usize) {
        let mut spins = 0u32;
        while self.settled.load(Ordering::Acquire) < n_groups {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                // The helper may have lost its core: give it ours.
                std::thread::yield_now();
            }
        }
    }
}

/// Spins of [`SharedBatch::wait_until_settled`] before it yields its core (~ tens of µs).
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// Locks a mutex of [`SharedBatch`]; a poisoned one still holds consistent data (each
/// critical section is one `Range` step or one `push`).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds one tree's leaf value per row to the rows' sums of values and of squares.
fn add_leaves(leaf: &[f32], sum: &mut [f64], sum2: &mut [f64]) {
    for ((&v, s), s2) in leaf.iter().zip(sum.iter_mut()).zip(sum2.iter_mut()) {
        let v = f64::from(v);
        *s += v;
        *s2 += v * v;
    }
}

/// Rows per task of [`oob_r2_compact`]: enough to fill the lanes of every tree.
const OOB_CHUNK_ROWS: usize = 512;

/// Out-of-bag R² of the final forest: each row predicted by the compact trees whose bootstrap
/// left it out, [`LANES`](tree::LANES) rows at a time through each tree. Chunks of rows are
/// independent and each row sums its trees in tree order, so the score does not depend on the
/// thread count.
/// `None` when fewer than two rows were left out of some tree.
fn oob_r2_compact(data: &Presorted, trees: &[(&Tree, &[u32])]) -> Option<f64> {
    let n = data.n_rows;
    let nf = data.n_features;
    let stride = nf + 1;
    let mut rows = vec![f32::NAN; n * stride];
    for f in 0..nf {
        for (i, &v) in data.values[f * n..(f + 1) * n].iter().enumerate() {
            rows[i * stride + f] = v;
        }
    }
    let per_chunk: Vec<Vec<(f64, u32)>> = (0..n.div_ceil(OOB_CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let lo = c * OOB_CHUNK_ROWS;
            let hi = (lo + OOB_CHUNK_ROWS).min(n);
            let mut acc = vec![(0.0f64, 0u32); hi - lo];
            let mut starts = Vec::with_capacity(hi - lo);
            let mut which = Vec::with_capacity(hi - lo);
            let mut leaf = Vec::with_capacity(hi - lo);
            let mut scratch = WalkScratch::default();
            for (tree, weights) in trees {
                which.clear();
                which.extend((lo..hi).filter(|&i| weights[i] == 0));
                starts.clear();
                starts.extend(which.iter().map(|&i| i * stride));
                leaf.resize(which.len(), 0.0);
                tree::walk_to_leaves(tree.walkable(), &rows, &starts, &mut leaf, &mut scratch);
                for (&i, &v) in which.iter().zip(&leaf) {
                    let a = &mut acc[i - lo];
                    a.0 += f64::from(v);
                    a.1 += 1;
                }
            }
            acc
        })
        .collect();
    let covered: Vec<(f64, f64)> = per_chunk
        .iter()
        .flatten()
        .zip(&data.y)
        .filter(|((_, count), _)| *count > 0)
        .map(|(&(sum, count), &y)| (y, sum / f64::from(count)))
        .collect();
    r2(&covered)
}

/// R² of (target, prediction) pairs; `None` for fewer than two pairs or constant targets.
fn r2(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let mean_y = pairs.iter().map(|(y, _)| y).sum::<f64>() / pairs.len() as f64;
    let ss_tot: f64 = pairs.iter().map(|(y, _)| (y - mean_y).powi(2)).sum();
    let ss_res: f64 = pairs.iter().map(|(y, p)| (y - p).powi(2)).sum();
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

/// Out-of-bag R² for each pruning level, computed row by row (deterministic whatever the
/// thread count). `None` when no row was left out of every tree's bootstrap.
fn oob_r2_per_level(
    data: &Presorted,
    grown: &[(Vec<tree::GrowNode>, Vec<u32>)],
    levels: &[u32],
) -> Option<Vec<f64>> {
    let n = data.n_rows;
    let nf = data.n_features;
    let l = levels.len();
    let per_row: Vec<Option<Vec<f64>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let row: Vec<f32> = (0..nf).map(|f| data.values[f * n + i]).collect();
            let mut acc = vec![0.0; l];
            let mut out = vec![0.0; l];
            let mut count = 0usize;
            for (nodes, weights) in grown {
                if weights[i] == 0 {
                    tree::walk_levels(nodes, &row, levels, &mut out);
                    acc.iter_mut().zip(&out).for_each(|(a, o)| *a += o);
                    count += 1;
                }
            }
            (count > 0).then(|| acc.into_iter().map(|a| a / count as f64).collect())
        })
        .collect();
    let covered: Vec<(f64, &Vec<f64>)> = per_row
        .iter()
        .zip(&data.y)
        .filter_map(|(p, &y)| p.as_ref().map(|p| (y, p)))
        .collect();
    if covered.len() < 2 {
        return None;
    }
    Some(
        (0..l)
            .map(|lv| {
                let pairs: Vec<(f64, f64)> = covered.iter().map(|(y, p)| (*y, p[lv])).collect();
                r2(&pairs).unwrap_or(f64::NEG_INFINITY)
            })
            .collect(),
    )
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, Error> for RandomForestValidParams
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = f64>,
{
    type Object = RandomForestRegressor;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Self::Object> {
        let y = dataset.as_single_targets();
        let y: Vec<f64> = y.iter().copied().collect();
        RandomForestRegressor::fit_arrays(self, dataset.records().view(), &y)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for RandomForestRegressor {
    /// Writes the mean prediction of each row. Rows of the wrong width or with NaN features
    /// predict NaN (linfa's trait cannot return an error: use
    /// [`RandomForestRegressor::predict_batch`] for a checked call).
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        match self.predict_batch(x.view()) {
            Ok(preds) => {
                for (o, p) in y.iter_mut().zip(preds) {
                    *o = p.mean;
                }
            }
            Err(_) => y.fill(f64::NAN),
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nsamples())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::RandomForestParams;
    use linfa::ParamGuard;
    use ndarray::Array2;

    /// A forest on 600 rows of 5 features, some discrete, and the rows as packed `f32`.
    fn forest_and_rows() -> (RandomForestRegressor, Vec<f32>) {
        let x = Array2::from_shape_fn((600, 5), |(i, j)| match j {
            0 => (i % 4) as f64,
            1 => ((i * 7) % 11) as f64 / 3.0,
            2 => (i as f64 * 0.37).sin(),
            3 => (i % 2) as f64,
            _ => ((i * 13) % 600) as f64,
        });
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| {
                5.0 * r[0] + r[1] * r[2] * 3.0 + if r[3] > 0.5 { 7.0 } else { 0.0 } + r[4] / 100.0
            })
            .collect();
        let params = RandomForestParams::new()
            .n_trees(30)
            .seed(5)
            .check()
            .unwrap();
        let forest = RandomForestRegressor::fit_arrays(&params, x.view(), &y).unwrap();
        let mut rows = Vec::new();
        for r in x.rows() {
            rows.extend(r.iter().map(|&v| v as f32));
            rows.push(f32::NAN);
        }
        (forest, rows)
    }

    #[test]
    fn shared_prediction_equals_the_plain_batch() {
        let (forest, rows) = forest_and_rows();
        let stride = forest.row_stride();
        for varies in [
            [true, false, false, false, false],
            [true, true, false, true, false],
            [false, false, true, false, true],
            [false; 5],
        ] {
            for (t, n) in [
                (0usize, 150),
                (17, 150),
                (333, 150),
                (5, 0),
                (9, 1),
                (21, 700),
            ] {
                let template = &rows[t * stride..(t + 1) * stride];
                // Candidates: the template with the varying features of `n` other rows (700:
                // more than one set of rows).
                let mut cands = Vec::new();
                for r in 0..n {
                    for f in 0..stride {
                        let from = if f < 5 && varies[f] { r * 3 % 600 } else { t };
                        cands.push(rows[from * stride + f]);
                    }
                }
                let shared = forest.predict_shared_f32(template, &varies, &cands);
                let plain = forest.predict_rows_one_thread(&cands);
                assert_eq!(shared.len(), n);
                assert_eq!(shared, plain, "template {t}, {n} rows, varies {varies:?}");
            }
        }
    }

    #[test]
    fn batch_prediction_is_the_same_on_one_thread_or_several() {
        let (forest, rows) = forest_and_rows();
        let stride = forest.row_stride();
        for n in [1, 7, 63, 64, 65, 150, 600] {
            let part = &rows[..n * stride];
            let one = forest.predict_rows_one_thread(part);
            assert_eq!(one.len(), n);
            assert_eq!(forest.predict_rows_f32(part), one, "{n} rows");
            for helpers in [1, 2, 7] {
                assert_eq!(
                    forest.predict_rows_shared_by(part, helpers),
                    one,
                    "{n} rows, {helpers} helpers"
                );
            }
        }
    }

    #[test]
    fn oob_score_of_the_compact_trees_equals_the_grown_trees_score() {
        // Grown trees and their bootstrap weights, grown here (a fitted forest keeps neither).
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| r[0] * 2.0 + r[1] - r[2])
            .collect();
        let columns: Vec<Vec<f32>> = (0..3)
            .map(|f| x.column(f).iter().map(|&v| v as f32).collect())
            .collect();
        let data = Presorted::new(columns, y);
        let recip: Vec<f64> = (0..=300)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
            .collect();
        let grow = GrowParams {
            max_depth: usize::MAX,
            min_leaf: 1,
            min_split: 2,
            features_per_split: 3,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let grown: Vec<(Vec<tree::GrowNode>, Vec<u32>)> = (0..20)
            .map(|_| {
                let mut w = vec![0u32; 300];
                for _ in 0..300 {
                    w[rng.random_range(0..300)] += 1;
                }
                (tree::grow(&data, &w, &recip, &grow, &mut rng), w)
            })
            .collect();
        for m in [2u32, 8] {
            let compact: Vec<Tree> = grown
                .iter()
                .map(|(g, _)| tree::compact(g, m, 3).unwrap().0)
                .collect();
            let pairs: Vec<(&Tree, &[u32])> = compact
                .iter()
                .zip(&grown)
                .map(|(t, (_, w))| (t, &w[..]))
                .collect();
            let fast = oob_r2_compact(&data, &pairs).unwrap();
            let slow = oob_r2_per_level(&data, &grown, &[m]).unwrap()[0];
            // Leaves are stored as f32 in compact trees.
            assert!(
                (fast - slow).abs() < 1e-6,
                "min_split {m}: {fast} vs {slow}"
            );
        }
    }
}
