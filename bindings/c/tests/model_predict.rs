//! im_model_*: loading, prediction against the core's own answer, metadata, and bad input.

mod support;

use std::ptr::{null, null_mut};

use inframind::*;
use inframind_core::telemetry::RunContext;
use support::*;

fn from_bytes(bytes: &[u8]) -> Result<*mut im_model, (im_status, String)> {
    let mut out = std::ptr::dangling_mut::<im_model>(); // must be reset to NULL on failure
    let mut err = ErrBuf::new();
    let s =
        unsafe { im_model_from_bytes(bytes.as_ptr(), bytes.len(), &mut out, err.ptr(), err.len()) };
    if s == im_status::IM_STATUS_OK {
        assert!(!out.is_null());
        Ok(out)
    } else {
        assert!(out.is_null(), "*out is NULL on failure");
        Err((s, err.message()))
    }
}

#[test]
fn prediction_is_the_cores_prediction() {
    let (model, history) = trained("cmake", 80);
    let handle = from_bytes(&model.to_bytes()).unwrap();
    let ctx = RunContext::for_tool("cmake");
    let config = history.last().unwrap().config;
    let expected = model.predict(&ctx, &config, &history).unwrap();

    let ctx_json = cstring(&serde_json::to_string(&ctx).unwrap());
    let config_json = cstring(&serde_json::to_string(&config).unwrap());
    let hist = history_json(&history);
    let (mut mean, mut spread) = (f64::NAN, f64::NAN);
    let mut err = ErrBuf::new();
    let s = unsafe {
        im_model_predict(
            handle,
            ctx_json.as_ptr(),
            config_json.as_ptr(),
            hist.as_ptr(),
            &mut mean,
            &mut spread,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_OK);
    assert_eq!((mean, spread), (expected.mean, expected.spread));
    assert!(mean > 0.0 && spread >= 0.0);

    // Both out-parameters may point to the same double: the spread is written last.
    let mut both = 0.0;
    let s = unsafe {
        im_model_predict(
            handle,
            ctx_json.as_ptr(),
            config_json.as_ptr(),
            hist.as_ptr(),
            &mut both,
            &mut both,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_OK);
    assert_eq!(both, expected.spread);
    unsafe { im_model_free(handle) };
}

#[test]
fn load_from_file_and_its_errors() {
    let (model, _) = trained("cargo", 40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.imdm");
    model.save(&path).unwrap();
    let p = cstring(path.to_str().unwrap());
    let mut out = null_mut();
    let mut err = ErrBuf::new();
    assert_eq!(
        unsafe { im_model_load(p.as_ptr(), &mut out, err.ptr(), err.len()) },
        im_status::IM_STATUS_OK
    );
    let names =
        read_text(|b, l, o, e, el| unsafe { im_model_feature_names(out, b, l, o, e, el) }).unwrap();
    let names: Vec<String> = serde_json::from_str(&names).unwrap();
    assert_eq!(names, model.feature_names());
    unsafe { im_model_free(out) };

    let missing = cstring(dir.path().join("nope.imdm").to_str().unwrap());
    let mut out = null_mut();
    let s = unsafe { im_model_load(missing.as_ptr(), &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NOT_FOUND);
    assert!(out.is_null());
    assert!(
        err.message().starts_with("read ") && err.message().contains("nope.imdm"),
        "{}",
        err.message()
    );

    std::fs::write(&path, b"not a model at all").unwrap();
    let s = unsafe { im_model_load(p.as_ptr(), &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_MODEL);
    assert!(err.message().contains("bad magic"), "{}", err.message());

    let s = unsafe { im_model_load(null(), &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `path` is NULL: pass a valid pointer"
    );
    let s = unsafe { im_model_load(p.as_ptr(), null_mut(), err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `out` is NULL: pass a valid pointer"
    );
}

#[test]
fn corrupt_and_truncated_bytes_are_model_errors() {
    let (model, _) = trained("npm", 40);
    let bytes = model.to_bytes();
    let (s, msg) = from_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_MODEL);
    assert!(
        msg.contains("checksum") || msg.contains("truncated"),
        "{msg}"
    );
    let mut flipped = bytes.clone();
    flipped[40] ^= 0x5a;
    assert_eq!(
        from_bytes(&flipped).unwrap_err().0,
        im_status::IM_STATUS_MODEL
    );
    let (s, _) = from_bytes(&[]).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_MODEL);
    // NULL with a length is a NULL argument; NULL with 0 is the empty (invalid) model.
    let mut out = null_mut();
    let mut err = ErrBuf::new();
    let s = unsafe { im_model_from_bytes(null(), 10, &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    let s = unsafe { im_model_from_bytes(null(), 0, &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_MODEL);
}

#[test]
fn predict_names_bad_arguments() {
    let (model, history) = trained("cmake", 40);
    let handle = from_bytes(&model.to_bytes()).unwrap();
    let ctx = cstring(r#"{"tool":"cmake"}"#);
    let config = cstring(r#"{"concurrency":4,"cpu_cores":4,"memory_bytes":8000000000}"#);
    let hist = history_json(&history);
    let (mut mean, mut spread) = (0.0, 0.0);
    let mut call = |m: *const im_model,
                    c: &std::ffi::CStr,
                    g: &std::ffi::CStr,
                    h: &std::ffi::CStr,
                    mean: *mut f64,
                    err: &mut ErrBuf| unsafe {
        im_model_predict(
            m,
            c.as_ptr(),
            g.as_ptr(),
            h.as_ptr(),
            mean,
            &mut spread,
            err.ptr(),
            err.len(),
        )
    };
    let mut err = ErrBuf::new();
    assert_eq!(
        call(handle, &ctx, &config, &hist, &mut mean, &mut err),
        im_status::IM_STATUS_OK
    );

    let cases: Vec<(
        std::ffi::CString,
        std::ffi::CString,
        std::ffi::CString,
        &str,
    )> = vec![
        (
            cstring("{\"tool\":"),
            config.clone(),
            hist.clone(),
            "argument `context_json`: invalid JSON for a run context",
        ),
        (
            ctx.clone(),
            cstring(r#"{"concurrency":0,"cpu_cores":4,"memory_bytes":1}"#),
            hist.clone(),
            "invalid config.concurrency = 0",
        ),
        (
            ctx.clone(),
            cstring(r#"{"concurrency":2,"cpu_cores":"four","memory_bytes":1}"#),
            hist.clone(),
            "argument `config_json`: invalid JSON for a build config at cpu_cores",
        ),
        (
            ctx.clone(),
            config.clone(),
            cstring("{}"),
            "argument `history_json`: invalid JSON for a list of build runs",
        ),
        (
            cstring(r#"{"tool":"cmake","num_steps":0}"#),
            config.clone(),
            hist.clone(),
            "invalid context.num_steps = 0",
        ),
    ];
    for (c, g, h, want) in cases {
        let mut err = ErrBuf::new();
        mean = -1.0;
        let s = call(handle, &c, &g, &h, &mut mean, &mut err);
        assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT, "{want}");
        assert!(
            err.message().contains(want),
            "want `{want}` in `{}`",
            err.message()
        );
        assert_eq!(mean, -1.0, "outputs untouched on failure");
    }
    let mut err = ErrBuf::new();
    assert_eq!(
        call(null(), &ctx, &config, &hist, &mut mean, &mut err),
        im_status::IM_STATUS_NULL_ARGUMENT
    );
    assert_eq!(
        err.message(),
        "argument `model` is NULL: pass a valid pointer"
    );
    assert_eq!(
        call(handle, &ctx, &config, &hist, null_mut(), &mut err),
        im_status::IM_STATUS_NULL_ARGUMENT
    );
    assert_eq!(
        err.message(),
        "argument `out_mean` is NULL: pass a valid pointer"
    );
    let s = unsafe {
        im_model_predict(
            handle,
            ctx.as_ptr(),
            null(),
            hist.as_ptr(),
            &mut mean,
            &mut spread,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `config_json` is NULL: pass a valid pointer"
    );
    unsafe { im_model_free(handle) };
}

#[test]
fn metadata_is_the_cores_with_importances() {
    let (model, _) = trained("gradle", 40);
    let handle = from_bytes(&model.to_bytes()).unwrap();
    let text =
        read_text(|b, l, o, e, el| unsafe { im_model_metadata(handle, b, l, o, e, el) }).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let core = serde_json::to_value(model.metadata()).unwrap();
    for (k, want) in core.as_object().unwrap() {
        assert_eq!(&v[k], want, "metadata field {k}");
    }
    let imp: Vec<f64> = serde_json::from_value(v["feature_importances"].clone()).unwrap();
    assert_eq!(imp, model.feature_importances());
    assert_eq!(imp.len(), model.feature_names().len());

    let mut len = 0;
    let mut err = ErrBuf::new();
    let s = unsafe { im_model_metadata(handle, null_mut(), 0, null_mut(), err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `out_len` is NULL: pass a valid pointer"
    );
    let s = unsafe { im_model_metadata(handle, null_mut(), 8, &mut len, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `buf` is NULL: pass a valid pointer"
    );
    let s = unsafe { im_model_metadata(null(), null_mut(), 0, &mut len, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    unsafe { im_model_free(handle) };
    unsafe { im_model_free(null_mut()) };
}
