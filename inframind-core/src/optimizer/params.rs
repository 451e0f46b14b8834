//! The optimizer's settings and their check.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::telemetry::BuildConfig;

/// Settings of the optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptimizerParams {
    /// Probability of exploring instead of exploiting, in [0, 1). Default 0.15.
    pub exploration: f64,
    /// Largest relative change of each resource from the last successful config, in (0, 1).
    /// Default 0.25. The safety floors may lift memory and cores past it.
    pub bound: f64,
    /// Successful runs needed before the model is trusted. Default 10.
    pub min_successful_runs: usize,
    /// Memory is suggested in multiples of this, bytes. Default 64 MiB.
    pub memory_step_bytes: u64,
    /// Cores are suggested in multiples of this. Default 0.25.
    pub cpu_step: f64,
    /// Config used when the pipeline has no history at all.
    pub defaults: BuildConfig,
}

impl Default for OptimizerParams {
    fn default() -> Self {
        OptimizerParams {
            exploration: 0.15,
            bound: 0.25,
            min_successful_runs: 10,
            memory_step_bytes: 64 << 20,
            cpu_step: 0.25,
            defaults: BuildConfig {
                concurrency: 4,
                cpu_cores: 2.0,
                memory_bytes: 4 << 30,
            },
        }
    }
}

impl OptimizerParams {
    /// Sets the exploration rate.
    pub fn exploration(mut self, rate: f64) -> Self {
        self.exploration = rate;
        self
    }
    /// Sets the exploration bound around the last successful config.
    pub fn bound(mut self, bound: f64) -> Self {
        self.bound = bound;
        self
    }
    /// Sets the successful runs needed before the model is trusted.
    pub fn min_successful_runs(mut self, n: usize) -> Self {
        self.min_successful_runs = n;
        self
    }
    /// Sets the config used when a pipeline has no history.
    pub fn defaults(mut self, config: BuildConfig) -> Self {
        self.defaults = config;
        self
    }
    /// Sets the memory granularity, bytes.
    pub fn memory_step_bytes(mut self, bytes: u64) -> Self {
        self.memory_step_bytes = bytes;
        self
    }
    /// Sets the core granularity.
    pub fn cpu_step(mut self, cores: f64) -> Self {
        self.cpu_step = cores;
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<()> {
        let bad = |param: &'static str, value: String, reason: &str| {
            Err(Error::InvalidParams {
                param,
                value,
                reason: reason.into(),
            })
        };
        if !(0.0..1.0).contains(&self.exploration) {
            return bad(
                "exploration",
                self.exploration.to_string(),
                "must be in [0, 1)",
            );
        }
        if !(self.bound > 0.0 && self.bound < 1.0) {
            return bad("bound", self.bound.to_string(), "must be in (0, 1)");
        }
        if self.memory_step_bytes == 0 {
            return bad("memory_step_bytes", "0".into(), "must be at least 1 byte");
        }
        if !(self.cpu_step.is_finite() && self.cpu_step > 0.0) {
            return bad("cpu_step", self.cpu_step.to_string(), "must be above 0");
        }
        self.defaults.validate("defaults")
    }
}
