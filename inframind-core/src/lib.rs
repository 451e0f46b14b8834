//! # inframind-core
//!
//! The pure library behind InfraMind: it learns from a pipeline's build history how long a build
//! takes under a given configuration, suggests the configuration that makes the next build
//! fastest without starving it of memory or CPU, and decides what to do when an alert fires or a
//! build fails. It does no network or database I/O; hosts (the C ABI, the Python wheel, the
//! server) translate their inputs into these types and call in.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod demo;
pub mod error;
pub mod features;
pub mod forest;
pub mod healing;
pub mod model;
pub mod optimizer;
pub mod store;
pub mod telemetry;

#[cfg(target_os = "linux")]
pub mod collect;

pub use error::{Error, Result};
pub use forest::{Prediction, RandomForestParams, RandomForestRegressor};
pub use model::DurationModel;
pub use optimizer::{Optimizer, OptimizerParams, Suggestion};
pub use store::ModelStore;
pub use telemetry::{BuildConfig, BuildRun, BuildStep, Capacity, RunContext, RunStatus};
