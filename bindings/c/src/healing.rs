//! Self-healing: classify a failed build's log, and evaluate Alertmanager webhooks against
//! remediation policies.

use std::ffi::c_char;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use inframind_core::healing::{
    Classifier, EvalOptions, PolicySet, SafetyState, SystemClock, Webhook,
};

use crate::error::{Error, Result};
use crate::ffi::{bytes_arg, free_handle, handle, handle_out, out_value, str_arg, OutBuf};
use crate::panic::{boundary, boundary_void};
use crate::status::im_status;

/// Classifies a failed CI log with the built-in pattern library: the JSON of inframind-core's
/// `Classification` (`category`, `confidence`, `evidence[] {line, text, pattern, category,
/// weight}`, `remediation`: see bindings/c/README.md). `log` is `log_len` bytes of text; invalid
/// UTF-8 is replaced and overlong lines are cut, never an error. A log that does not show its
/// cause is `"category": "unknown"`. Deterministic, so a too-small buffer can simply be retried.
///
/// Thread-safe (no handle).
///
/// # Safety
/// `log` is valid for reads of `log_len` bytes (NULL only when `log_len` is 0); `buf` is NULL
/// (with `buf_len` 0) or valid for `buf_len` bytes; `out_len` is valid for a write; `err` is
/// NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_classify_log(
    log: *const u8,
    log_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = OutBuf::new(buf, buf_len, out_len)?;
            let log = bytes_arg(log, log_len, "log")?;
            let classification = builtin_classifier()?
                .classify_reader(log)
                .map_err(|e| Error::Internal(format!("reading the log from memory: {e}")))?;
            out.write_json(&classification)
        })
    }
}

fn builtin_classifier() -> Result<&'static Classifier> {
    static BUILTIN: OnceLock<std::result::Result<Classifier, String>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| Classifier::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Internal(format!("the built-in log patterns do not load: {e}")))
}

/// A set of remediation policies with the safety state of its evaluations (cooldowns, rate
/// limits, deduplication of repeated webhook deliveries).
///
/// Thread safety: safe to share between threads; evaluations of one set are serialised by an
/// internal lock, so the safety state stays consistent.
#[allow(non_camel_case_types)]
pub struct im_policy_set {
    policies: PolicySet,
    state: Mutex<EvalState>,
}

#[derive(Default)]
struct EvalState {
    safety: SafetyState,
    /// Evaluations whose JSON did not fit the caller's buffer, one per calling thread. The
    /// retry returns the kept JSON instead of evaluating again: a real evaluation's safety
    /// effects are already applied (a second one would see the delivery as a duplicate), and
    /// any evaluation is stamped with the time, so a second one may differ in length.
    pending: Vec<Pending>,
}

struct Pending {
    thread: ThreadId,
    webhook: String,
    dry_run: bool,
    json: String,
}

impl im_policy_set {
    fn new(policies: PolicySet) -> Self {
        im_policy_set {
            policies,
            state: Mutex::new(EvalState::default()),
        }
    }
}

/// Loads policies from JSON text (a list of policies, or `{"policies": [...]}`; schema in
/// bindings/c/README.md). All or nothing: on any invalid policy `*out` is NULL, the status is
/// `IM_STATUS_INVALID_INPUT` and the message names the policy and field. Free with
/// `im_policy_set_free`.
///
/// # Safety
/// `json` is a NUL-terminated string; `out` is valid for a write; `err` is NULL or valid for
/// `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_from_json(
    json: *const c_char,
    out: *mut *mut im_policy_set,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            let text = str_arg(json, "json")?;
            out.set(im_policy_set::new(PolicySet::from_json(text)?));
            Ok(())
        })
    }
}

/// Loads policies from YAML text (same shape as the JSON form). As `im_policy_set_from_json`.
///
/// # Safety
/// `yaml` is a NUL-terminated string; `out` is valid for a write; `err` is NULL or valid for
/// `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_from_yaml(
    yaml: *const c_char,
    out: *mut *mut im_policy_set,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            let text = str_arg(yaml, "yaml")?;
            out.set(im_policy_set::new(PolicySet::from_yaml(text)?));
            Ok(())
        })
    }
}

/// Loads a policy file: YAML when its name ends in `.yaml`/`.yml`, JSON otherwise.
/// `IM_STATUS_NOT_FOUND` when it does not exist; otherwise as `im_policy_set_from_json`.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` is valid for a write; `err` is NULL or valid for
/// `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_from_file(
    path: *const c_char,
    out: *mut *mut im_policy_set,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            let path = str_arg(path, "path")?;
            out.set(im_policy_set::new(PolicySet::from_path(path)?));
            Ok(())
        })
    }
}

/// The number of policies in the set, into `*out_count`.
///
/// # Safety
/// `set` is a live handle; `out_count` is valid for a write; `err` is NULL or valid for
/// `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_len(
    set: *const im_policy_set,
    out_count: *mut usize,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let count = out_value(out_count, "out_count")?;
            count.set(handle(set, "set")?.policies.len());
            Ok(())
        })
    }
}

/// Evaluates an Alertmanager webhook (the JSON body Alertmanager POSTs, version 4) against the
/// policies, at the current time: the JSON of inframind-core's `Evaluation`,
/// `{"decisions": [...], "audit": [...]}` (schema in bindings/c/README.md). A decision per
/// (policy, alert) whose condition holds, in priority-then-name order; each says whether the
/// action runs (`"outcome": "matched"`) or why not.
///
/// - `dry_run` true: decide without acting: every decision is marked `dry_run`, the set's safety
///   state is read but not changed (what would happen now).
/// - `dry_run` false: matched actions are recorded in the set's safety state (cooldowns, rate
///   limits) and the delivery is remembered, so an identical redelivery is `suppressed`.
///
/// When the buffer is too small, the evaluation still happened (a real one's effects on the
/// safety state are kept) and its JSON is kept: calling again from the same thread with the
/// same webhook and `dry_run` returns that JSON (same length, same timestamps) rather than
/// evaluating a second time. That thread's next other call on the set drops it.
///
/// Returns `IM_STATUS_INVALID_INPUT` naming the field when the payload is malformed.
///
/// # Safety
/// `set` is a live handle; `webhook_json` is a NUL-terminated string; `buf` is NULL (with
/// `buf_len` 0) or valid for `buf_len` bytes; `out_len` is valid for a write; `err` is NULL or
/// valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_evaluate(
    set: *const im_policy_set,
    webhook_json: *const c_char,
    dry_run: bool,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = OutBuf::new(buf, buf_len, out_len)?;
            let set = handle(set, "set")?;
            let text = str_arg(webhook_json, "webhook_json")?;
            // A panic while the lock was held leaves memory-safe state; keep serving.
            let mut state = set.state.lock().unwrap_or_else(PoisonError::into_inner);
            let thread = std::thread::current().id();
            let pending = state
                .pending
                .iter()
                .position(|p| p.thread == thread)
                .map(|i| state.pending.swap_remove(i));
            if let Some(p) = pending.filter(|p| p.webhook == text && p.dry_run == dry_run) {
                return retry_pending(&out, &mut state, p);
            }
            let hook = Webhook::from_json(text)?;
            let options = if dry_run {
                EvalOptions::dry_run()
            } else {
                EvalOptions::default()
            };
            let evaluation = set
                .policies
                .evaluate(&hook, &mut state.safety, &SystemClock, options);
            let json = serde_json::to_string(&evaluation)
                .map_err(|e| Error::Internal(format!("cannot render the evaluation: {e}")))?;
            if !out.fits(&json) {
                let result = out.write(&json);
                state.pending.push(Pending {
                    thread,
                    webhook: text.to_string(),
                    dry_run,
                    json,
                });
                return result;
            }
            out.write(&json)
        })
    }
}

fn retry_pending(out: &OutBuf, state: &mut EvalState, p: Pending) -> Result<()> {
    let result = out.write(&p.json);
    if result.is_err() {
        state.pending.push(p);
    }
    result
}

/// Frees a policy set and its safety state. NULL is a no-op.
///
/// # Safety
/// `set` is NULL or a handle from `im_policy_set_from_*` that no thread uses any more; it must
/// not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_policy_set_free(set: *mut im_policy_set) {
    // SAFETY: caller's contract.
    boundary_void(|| unsafe { free_handle(set) });
}
