//! A random forest regressor on `ndarray`, with linfa's `Fit` / `Predict` traits.
//!
//! linfa-trees 0.8 only classifies; this forest regresses. It trains its trees in parallel
//! (rayon, with the `parallel` feature) and is deterministic for a seed whatever the thread
//! count, predicts a mean and a spread across trees, scores itself out of bag, reports feature
//! importances, and serializes to a compact versioned form.

mod algorithm;
#[cfg(feature = "parallel")]
mod batch;
mod codec;
#[cfg(test)]
mod fixtures;
mod grow;
mod hyperparams;
mod oob;
mod tree;

pub use algorithm::{Prediction, RandomForestRegressor};
pub(crate) use codec::Reader;
pub use codec::FOREST_FORMAT_VERSION;
pub use hyperparams::{LeafSize, RandomForestParams, RandomForestValidParams};

pub(crate) use crate::hash::fnv1a64;
