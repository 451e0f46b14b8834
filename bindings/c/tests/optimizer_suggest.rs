//! im_optimizer_suggest: the core's suggestion as JSON, cold start, seeds, and refusals.

mod support;

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use inframind::*;
use inframind_core::telemetry::RunContext;
use inframind_core::{Optimizer, OptimizerParams, Suggestion};
use support::*;

fn suggest(
    model: *const im_model,
    history: &CStr,
    context: &CStr,
    seed: Option<u64>,
) -> Result<String, (im_status, String)> {
    read_text(|b, l, o, e, el| unsafe {
        im_optimizer_suggest(
            model,
            history.as_ptr(),
            context.as_ptr(),
            seed.unwrap_or(0),
            seed.is_some(),
            b,
            l,
            o,
            e,
            el,
        )
    })
}

fn load(model: &inframind_core::DurationModel) -> *mut im_model {
    let bytes = model.to_bytes();
    let mut out = null_mut();
    let mut err = ErrBuf::new();
    let s =
        unsafe { im_model_from_bytes(bytes.as_ptr(), bytes.len(), &mut out, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_OK, "{}", err.message());
    out
}

#[test]
fn suggestion_is_the_cores_serde_form() {
    let (model, history) = trained("cmake", 120);
    let handle = load(&model);
    let ctx = RunContext::for_tool("cmake");
    let optimizer = Optimizer::new(OptimizerParams::default()).unwrap();
    for seed in [None, Some(1), Some(99)] {
        let expected = optimizer
            .suggest(Some(&model), &history, &ctx, seed)
            .unwrap();
        let text = suggest(
            handle,
            &history_json(&history),
            &cstring(r#"{"tool":"cmake"}"#),
            seed,
        )
        .unwrap();
        let got: Suggestion = serde_json::from_str(&text).unwrap();
        assert_eq!(got, expected, "seed {seed:?}");
        assert_eq!(text, serde_json::to_string(&expected).unwrap());
        assert!(!got.cold_start);
        assert!(got.predicted_duration_s.is_some());
    }
    unsafe { im_model_free(handle) };
}

#[test]
fn null_model_is_a_cold_start() {
    let (_, history) = trained("cargo", 30);
    let text = suggest(
        null(),
        &history_json(&history),
        &cstring(r#"{"tool":"cargo"}"#),
        Some(5),
    )
    .unwrap();
    let s: Suggestion = serde_json::from_str(&text).unwrap();
    assert!(s.cold_start);
    let core = Optimizer::new(OptimizerParams::default())
        .unwrap()
        .suggest(None, &history, &RunContext::for_tool("cargo"), Some(5))
        .unwrap();
    assert_eq!(s, core);
    assert_eq!(s.seed, 5);
    assert!(!s.rationale.is_empty());
    // No history at all: the defaults, lifted to the guards.
    let text = suggest(null(), &cstring("[]"), &cstring(r#"{"tool":"make"}"#), None).unwrap();
    let s: Suggestion = serde_json::from_str(&text).unwrap();
    assert!(s.cold_start);
    assert_eq!(s.config, OptimizerParams::default().defaults);
}

#[test]
fn capacity_below_the_memory_floor_is_no_safe_config() {
    let (model, history) = trained("cmake", 60);
    let handle = load(&model);
    // 64 MiB cannot hold any demo build.
    let ctx = cstring(r#"{"tool":"cmake","capacity":{"cpu_cores":64,"memory_bytes":67108864}}"#);
    let (s, msg) = suggest(handle, &history_json(&history), &ctx, Some(1)).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_NO_SAFE_CONFIG);
    assert!(msg.starts_with("no safe configuration: "), "{msg}");
    unsafe { im_model_free(handle) };
}

#[test]
fn bad_input_is_named() {
    let ctx = cstring(r#"{"tool":"make"}"#);
    let (s, msg) = suggest(null(), &cstring("[1,2]"), &ctx, None).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert!(
        msg.starts_with("argument `history_json`: invalid JSON for a list of build runs at [0]"),
        "{msg}"
    );
    let (s, msg) = suggest(
        null(),
        &cstring("[]"),
        &cstring(r#"{"tool":"make","max_rss_gb":-1}"#),
        None,
    )
    .unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert!(msg.starts_with("invalid context.max_rss_gb = -1"), "{msg}");

    let mut len = 0;
    let mut err = ErrBuf::new();
    let s = unsafe {
        im_optimizer_suggest(
            null(),
            null(),
            ctx.as_ptr(),
            0,
            false,
            null_mut(),
            0,
            &mut len,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `history_json` is NULL: pass a valid pointer"
    );
    let hist = cstring("[]");
    let s = unsafe {
        im_optimizer_suggest(
            null(),
            hist.as_ptr(),
            null(),
            0,
            false,
            null_mut(),
            0,
            &mut len,
            err.ptr(),
            err.len(),
        )
    };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `context_json` is NULL: pass a valid pointer"
    );
}
