//! What happens to a policy decision's action: a pluggable executor.
//!
//! The core decides (which policy, which action, with which parameters, whether safety holds it
//! back); the host only carries out. The default [`RecordOnly`] executor runs nothing: it
//! records the action it would run, so the server is a dry run until you plug in an executor
//! that talks to your orchestrator ([`AppState::with_executor`](crate::AppState::with_executor)).

use std::future::Future;
use std::pin::Pin;

use inframind_core::healing::Decision;
use serde::Serialize;

/// What an executor did with one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Execution {
    /// Executor name.
    pub executor: String,
    /// Whether an action actually ran.
    pub executed: bool,
    /// What happened, in words.
    pub detail: String,
}

/// A boxed future, for the object-safe trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries out the actions of matched, non-dry-run decisions.
pub trait ActionExecutor: Send + Sync + 'static {
    /// Runs (or records) the decision's action. Parameters are data: never pass them through a
    /// shell.
    fn execute<'a>(&'a self, decision: &'a Decision) -> BoxFuture<'a, Execution>;
}

/// The default: records the action, runs nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordOnly;

impl ActionExecutor for RecordOnly {
    fn execute<'a>(&'a self, decision: &'a Decision) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let what = decision
                .action
                .as_ref()
                .map(|a| format!("{} {}", a.tool, serde_json::Value::Object(a.params.clone())))
                .unwrap_or_else(|| "no action".into());
            Execution {
                executor: "record-only".into(),
                executed: false,
                detail: format!("dry run: would run {what} (no executor is configured)"),
            }
        })
    }
}
