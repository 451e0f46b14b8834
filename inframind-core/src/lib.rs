//! # inframind-core
//!
//! The pure library behind InfraMind: it learns from a pipeline's build history how long a build
//! takes under a given configuration, suggests the configuration that makes the next build
//! fastest without starving it of memory or CPU, and decides what to do when an alert fires or a
//! build fails. It does no network or database I/O; hosts (the C ABI, the Python wheel, the
//! server) translate their inputs into these types and call in.
//!
//! ## From history to suggestion
//!
//! A pipeline's history is a list of [`BuildRun`]s, oldest first. Train a [`DurationModel`] on
//! it, keep it in a [`ModelStore`], and ask an [`Optimizer`] for the next build's config:
//!
//! ```
//! use inframind_core::{demo, DurationModel, ModelStore, Optimizer, OptimizerParams, RandomForestParams};
//! use inframind_core::telemetry::{BuildRun, RunContext};
//!
//! let history: Vec<BuildRun> = demo::demo_history("cargo", 200, 1); // or your runs, oldest first
//! let model = DurationModel::train(&history, RandomForestParams::new())?;
//! let dir = tempfile::tempdir()?;
//! ModelStore::open(dir.path())?.save("team/app", &model)?;
//! let s = Optimizer::new(OptimizerParams::default())?
//!     .suggest(Some(&model), &history, &RunContext::for_tool("cargo"), None)?;
//! println!("{:?}: {}", s.config, s.rationale.join(" "));
//! assert!(s.config.cpu_cores >= f64::from(s.config.concurrency) / 4.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Bad input is an [`Error`] that names the field and the value:
//!
//! ```
//! let err = inframind_core::BuildRun::from_json(r#"{"run_id":"1","pipeline":"p","tool":"make",
//!     "status":"success","duration_s":-3,"config":{"concurrency":1,"cpu_cores":1,"memory_bytes":1}}"#)
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "invalid duration_s = -3: must be a finite number of seconds, 0 or more");
//! ```
//!
//! Modules: [`telemetry`] (runs, steps, configs, contexts), [`features`] (the model's inputs),
//! [`forest`] (the regressor), [`model`], [`optimizer`], [`store`], [`demo`] (simulated
//! pipelines), [`tool_env`] (variables that make a tool use a config), [`healing`] (alerts
//! and failure logs) and, on Linux, `collect` (`/proc`).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod atomic_file;
pub mod demo;
pub mod error;
pub mod features;
pub mod forest;
mod hash;
#[cfg(feature = "healing")]
pub mod healing;
pub mod model;
pub mod optimizer;
pub mod retrain;
pub mod rules;
pub mod store;
pub mod telemetry;
pub mod tool_env;

#[cfg(all(target_os = "linux", feature = "collect"))]
pub mod collect;

pub use error::{Error, ErrorKind, Result};
pub use forest::{Prediction, RandomForestParams, RandomForestRegressor};
pub use model::DurationModel;
pub use optimizer::{Optimizer, OptimizerParams, Suggestion};
pub use retrain::{RetrainPolicy, RetrainReason, TrainingProgress};
pub use store::ModelStore;
pub use telemetry::{BuildConfig, BuildRun, BuildStep, Capacity, RunContext, RunStatus};
