//! The duration model: load (from a file or bytes), predict, and what it knows about itself.

use std::ffi::c_char;

use inframind_core::features::HistoryStats;
use inframind_core::DurationModel;

use crate::ffi::{
    bytes_arg, config_arg, context_arg, free_handle, handle, handle_out, history_arg, out_value,
    str_arg, OutBuf,
};
use crate::panic::{boundary, boundary_void};
use crate::status::im_status;

/// A trained build-duration model (an `.imdm` file of inframind-core).
///
/// Thread safety: immutable after load, so one handle may be shared by any number of threads
/// calling `im_model_predict`, `im_optimizer_suggest`, ... at once. Free it once, after every
/// user is done.
#[allow(non_camel_case_types)]
pub struct im_model {
    pub(crate) model: DurationModel,
}

/// Loads a model file (`.imdm`, as written by inframind-core's `DurationModel::save` or its
/// `ModelStore`). On success `*out` is a new handle (free it with `im_model_free`); on failure
/// `*out` is NULL.
///
/// Returns `IM_STATUS_NOT_FOUND` when the file does not exist, `IM_STATUS_IO` when it cannot be
/// read, `IM_STATUS_MODEL` when it is not a model of this format version or is corrupt.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` is valid for a write; `err` is NULL or valid for
/// `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_load(
    path: *const c_char,
    out: *mut *mut im_model,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            let path = str_arg(path, "path")?;
            out.set(im_model {
                model: DurationModel::load(path)?,
            });
            Ok(())
        })
    }
}

/// Decodes a model from the bytes of a model file (`len` bytes at `bytes`). On success `*out` is
/// a new handle (free it with `im_model_free`); on failure `*out` is NULL and the status is
/// `IM_STATUS_MODEL` (truncated, bad checksum, unknown format version...).
///
/// # Safety
/// `bytes` is valid for reads of `len` bytes (it may be NULL only when `len` is 0); `out` is
/// valid for a write; `err` is NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut im_model,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            let bytes = bytes_arg(bytes, len, "bytes")?;
            out.set(im_model {
                model: DurationModel::from_bytes(bytes)?,
            });
            Ok(())
        })
    }
}

/// Frees a model. NULL is a no-op.
///
/// # Safety
/// `model` is NULL or a handle from `im_model_load`/`im_model_from_bytes` that no thread uses
/// any more; it must not be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_free(model: *mut im_model) {
    // SAFETY: caller's contract.
    boundary_void(|| unsafe { free_handle(model) });
}

/// Predicts the duration in seconds of a build run with `config_json` in the context
/// `context_json`, given the pipeline's `history_json` (a JSON array of build runs, oldest
/// first; `"[]"` for none). `*out_mean` is the mean over the trees, `*out_spread` their standard
/// deviation (an uncertainty in seconds). JSON schemas: bindings/c/README.md.
///
/// Returns `IM_STATUS_INVALID_INPUT` naming the bad argument and field, or `IM_STATUS_MODEL` when
/// the model was trained on another feature schema. The outputs are written only on success.
///
/// # Safety
/// `model` is a live handle; the three JSON arguments are NUL-terminated strings; `out_mean` and
/// `out_spread` are valid for a write; `err` is NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_predict(
    model: *const im_model,
    context_json: *const c_char,
    config_json: *const c_char,
    history_json: *const c_char,
    out_mean: *mut f64,
    out_spread: *mut f64,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let model = &handle(model, "model")?.model;
            let mean = out_value(out_mean, "out_mean")?;
            let spread = out_value(out_spread, "out_spread")?;
            let context = context_arg(context_json, "context_json")?;
            let config = config_arg(config_json, "config_json")?;
            let history = history_arg(history_json, "history_json")?;
            let stats = HistoryStats::from_history(&history);
            let p = model.predict_with_stats(&context, &config, &stats)?;
            mean.set(p.mean);
            spread.set(p.spread);
            Ok(())
        })
    }
}

/// The names of the model's input features, in order, as a JSON array of strings, e.g.
/// `["concurrency","cpu_cores",...]`. Output convention: see `im_collector_metrics`.
///
/// # Safety
/// `model` is a live handle; `buf` is NULL (with `buf_len` 0) or valid for `buf_len` bytes;
/// `out_len` is valid for a write; `err` is NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_feature_names(
    model: *const im_model,
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
            let model = &handle(model, "model")?.model;
            out.write_json(model.feature_names())
        })
    }
}

/// What the model records about itself, as one JSON object: `pipeline`, `trained_at`,
/// `n_samples`, `oob_score`, `schema {names, fingerprint}`, `params`, `model_id`, `version`
/// (see bindings/c/README.md), plus `feature_importances` (one number per feature name, summing
/// to 1). Output convention: see `im_collector_metrics`.
///
/// # Safety
/// As `im_model_feature_names`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_model_metadata(
    model: *const im_model,
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
            let model = &handle(model, "model")?.model;
            out.write_json(&metadata_json(model)?)
        })
    }
}

fn metadata_json(model: &DurationModel) -> crate::error::Result<serde_json::Value> {
    let mut value = serde_json::to_value(model.metadata())
        .map_err(|e| crate::error::Error::Internal(format!("cannot render metadata: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "feature_importances".into(),
            serde_json::Value::from(model.feature_importances().to_vec()),
        );
    }
    Ok(value)
}
