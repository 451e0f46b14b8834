//! Hyperparameters of the random forest, checked the way linfa checks its own
//! (`ParamGuard`: an unchecked builder, a checked value, `check()` in between).

use linfa::ParamGuard;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Leaf size of the trees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafSize {
    /// Grow each tree down to leaves of at least this many distinct samples (1 = full depth).
    Fixed(usize),
    /// Grow full-depth trees, then choose the pruning level (minimum samples to split a node,
    /// among 2, 4, 8, 16, 32, or none) that maximises the out-of-bag R². Smaller models and often
    /// better accuracy on noisy targets; needs `bootstrap`.
    Auto,
}

/// The checked hyperparameters. Build them with [`RandomForestParams`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForestValidParams {
    pub(crate) n_trees: usize,
    pub(crate) max_depth: Option<usize>,
    pub(crate) leaf: LeafSize,
    pub(crate) max_features: f64,
    pub(crate) bootstrap: bool,
    pub(crate) seed: u64,
}

impl RandomForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Maximum depth of a tree (`None`: unlimited).
    pub fn max_depth(&self) -> Option<usize> {
        self.max_depth
    }
    /// Leaf-size policy.
    pub fn leaf_size(&self) -> LeafSize {
        self.leaf
    }
    /// Fraction of the features considered at each split (1.0 = all, like scikit-learn's
    /// regression default).
    pub fn max_features(&self) -> f64 {
        self.max_features
    }
    /// Whether each tree sees a bootstrap sample of the rows.
    pub fn bootstrap(&self) -> bool {
        self.bootstrap
    }
    /// Seed: the same seed and data give the same forest, however many threads train it.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Hyperparameters of [`RandomForestRegressor`](super::RandomForestRegressor), unchecked.
///
/// ```
/// use inframind_core::forest::{LeafSize, RandomForestParams};
/// use linfa::ParamGuard;
///
/// let params = RandomForestParams::new().n_trees(50).leaf_size(LeafSize::Fixed(3)).seed(7);
/// assert!(params.check_ref().is_ok());
/// assert!(RandomForestParams::new().n_trees(0).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestParams(RandomForestValidParams);

impl Default for RandomForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomForestParams {
    /// Defaults: 100 trees, unlimited depth, leaf size chosen by out-of-bag validation, all
    /// features at each split, bootstrap on, seed 0.
    pub fn new() -> Self {
        RandomForestParams(RandomForestValidParams {
            n_trees: 100,
            max_depth: None,
            leaf: LeafSize::Auto,
            max_features: 1.0,
            bootstrap: true,
            seed: 0,
        })
    }
    /// Number of trees (1 to 10,000).
    pub fn n_trees(mut self, n: usize) -> Self {
        self.0.n_trees = n;
        self
    }
    /// Maximum depth (`None` for unlimited; otherwise 1 to 64).
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.0.max_depth = d;
        self
    }
    /// Leaf-size policy.
    pub fn leaf_size(mut self, leaf: LeafSize) -> Self {
        self.0.leaf = leaf;
        self
    }
    /// Fraction of features tried at each split, in (0, 1].
    pub fn max_features(mut self, f: f64) -> Self {
        self.0.max_features = f;
        self
    }
    /// Bootstrap sampling of rows per tree.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.0.bootstrap = b;
        self
    }
    /// Random seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = s;
        self
    }
}

impl ParamGuard for RandomForestParams {
    type Checked = RandomForestValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&Self::Checked> {
        let p = &self.0;
        if p.n_trees == 0 || p.n_trees > 10_000 {
            return Err(Error::InvalidParams {
                param: "n_trees",
                value: p.n_trees.to_string(),
                reason: "must be between 1 and 10000".into(),
            });
        }
        if let Some(d) = p.max_depth {
            if d == 0 || d > 64 {
                return Err(Error::InvalidParams {
                    param: "max_depth",
                    value: d.to_string(),
                    reason: "must be between 1 and 64, or unlimited".into(),
                });
            }
        }
        match p.leaf {
            LeafSize::Fixed(0) => {
                return Err(Error::InvalidParams {
                    param: "min_samples_leaf",
                    value: "0".into(),
                    reason: "must be at least 1".into(),
                })
            }
            LeafSize::Auto if !p.bootstrap => {
                return Err(Error::InvalidParams {
                    param: "min_samples_leaf",
                    value: "auto".into(),
                    reason: "automatic leaf size needs out-of-bag samples: enable bootstrap or \
                             give a fixed leaf size"
                        .into(),
                })
            }
            _ => {}
        }
        if !(p.max_features > 0.0 && p.max_features <= 1.0) {
            return Err(Error::InvalidParams {
                param: "max_features",
                value: p.max_features.to_string(),
                reason: "must be a fraction in (0, 1]".into(),
            });
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked> {
        self.check_ref()?;
        Ok(self.0)
    }
}
