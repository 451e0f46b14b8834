//! The optimizer: the next build's configuration, with its guards and rationale.

use std::ffi::c_char;

use inframind_core::{Optimizer, OptimizerParams};

use crate::ffi::{context_arg, history_arg, OutBuf};
use crate::model::im_model;
use crate::panic::boundary;
use crate::status::im_status;

/// Suggests the configuration of the next build of a pipeline, as the JSON of inframind-core's
/// `Suggestion` (`config`, `predicted_duration_s`, `spread_s`, `baseline_config`,
/// `baseline_duration_s`, `expected_change_s`, `explored`, `cold_start`, `guards[]`,
/// `candidates_considered`, `candidates_rejected`, `model_version`, `seed`, `rationale[]`: see
/// bindings/c/README.md).
///
/// - `model`: a loaded model, or NULL for a cold start (the last successful config, or the
///   defaults, lifted to the safety guards).
/// - `history_json`: JSON array of the pipeline's build runs, oldest first (`"[]"` for none).
/// - `context_json`: JSON run context of the coming build (at least `{"tool": "..."}`).
/// - `seed`, `has_seed`: when `has_seed` is true, `seed` makes exploration reproducible; when
///   false the seed is derived from the history, so the same inputs give the same answer.
///
/// The answer is deterministic for the same inputs, so a call that returned
/// `IM_STATUS_BUFFER_TOO_SMALL` may simply be repeated with a bigger buffer (4 KiB is usually
/// plenty). Returns `IM_STATUS_NO_SAFE_CONFIG` when no configuration satisfies the guards within
/// the declared capacity (the message says which floor exceeds which limit),
/// `IM_STATUS_INVALID_INPUT` for bad JSON, `IM_STATUS_MODEL` for a model of another feature
/// schema.
///
/// Thread safety: reads `model` only; any number of threads may call this at once, also with
/// the same model.
///
/// # Safety
/// `model` is NULL or a live handle; `history_json` and `context_json` are NUL-terminated
/// strings; `buf` is NULL (with `buf_len` 0) or valid for `buf_len` bytes; `out_len` is valid
/// for a write; `err` is NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_optimizer_suggest(
    model: *const im_model,
    history_json: *const c_char,
    context_json: *const c_char,
    seed: u64,
    has_seed: bool,
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
            // NULL is meaningful here (cold start), so no NULL check.
            let model = model.as_ref().map(|m| &m.model);
            let history = history_arg(history_json, "history_json")?;
            let context = context_arg(context_json, "context_json")?;
            let optimizer = Optimizer::new(OptimizerParams::default())?;
            let suggestion =
                optimizer.suggest(model, &history, &context, has_seed.then_some(seed))?;
            out.write_json(&suggestion)
        })
    }
}
