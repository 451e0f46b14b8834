//! Consecutive builds of simulated pipelines ([`inframind_core::demo::SimPipeline`]) under a
//! policy, scored against the oracle: the node scenarios, the baseline policies, the cost of a
//! build, and a real `inframind-server` child process to drive over HTTP.

pub mod baseline;
pub mod cost;
pub mod scenario;
pub mod server;
