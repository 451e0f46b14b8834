//! The fitted random forest and its training.

use linfa::dataset::{AsSingleTargets, DatasetBase, Records};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
#[cfg(feature = "parallel")]
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::grow::{self, GrowParams, Presorted};
use super::hyperparams::{LeafSize, RandomForestValidParams};
use super::oob::{oob_r2_compact, oob_r2_per_level};
use super::tree::{self, RowSets, Tree, Trees, WalkScratch, MAX_FEATURES, MAX_NODES};
use crate::error::{Error, Result};

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
         -> Vec<(Vec<grow::GrowNode>, Vec<u32>)> {
            #[cfg(feature = "parallel")]
            let range = range.into_par_iter();
            range
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
                    let nodes = grow::grow(data, &weights, &recip, grow, &mut rng);
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
        #[cfg(feature = "parallel")]
        let grown_trees = grown.par_iter();
        #[cfg(not(feature = "parallel"))]
        let grown_trees = grown.iter();
        let compacted: Vec<(Tree, Vec<f64>)> = grown_trees
            .map(|(nodes, _)| grow::compact(nodes, min_split, nf))
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
    /// With the `parallel` feature, a batch worth sharing is shared with the other threads of
    /// rayon's pool (see the `batch` module); each row still sums its trees in the same order,
    /// so the result does not depend on the number of threads, nor on the feature.
    pub(crate) fn predict_rows_f32(&self, rows: &[f32]) -> Vec<Prediction> {
        #[cfg(feature = "parallel")]
        {
            let helpers = self.batch_helpers(rows.len() / self.row_stride());
            if helpers > 0 {
                return self.predict_rows_shared_by(rows, helpers);
            }
        }
        self.predict_rows_one_thread(rows)
    }

    pub(super) fn predict_rows_one_thread(&self, rows: &[f32]) -> Vec<Prediction> {
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
    pub(super) fn finish(&self, sum: &[f64], sum2: &[f64]) -> Vec<Prediction> {
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
pub(super) fn row_starts(n_rows: usize, stride: usize) -> Vec<usize> {
    (0..n_rows).map(|i| i * stride).collect()
}

/// Adds one tree's leaf value per row to the rows' sums of values and of squares.
pub(super) fn add_leaves(leaf: &[f32], sum: &mut [f64], sum2: &mut [f64]) {
    for ((&v, s), s2) in leaf.iter().zip(sum.iter_mut()).zip(sum2.iter_mut()) {
        let v = f64::from(v);
        *s += v;
        *s2 += v * v;
    }
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
    use crate::forest::fixtures::forest_and_rows;

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
}
