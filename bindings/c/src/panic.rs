//! The panic boundary: every entry point runs its body through [`boundary`] (or
//! [`boundary_void`]), so no panic unwinds into C (rustls-ffi `src/panic.rs`), and every failure
//! becomes a status code plus a message in the caller's buffer.

use std::any::Any;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, Result};
use crate::ffi::write_message;
use crate::status::im_status;

#[cfg(test)]
thread_local! {
    /// Set by unit tests to make the next entry points on this thread panic inside the
    /// boundary, proving that each one is guarded.
    pub(crate) static FORCE_PANIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `body`, turning its error or its panic into a status and a message written to
/// `err` (when `err` is not NULL and `err_len > 0`).
///
/// # Safety
/// `err` is NULL or valid for writes of `err_len` bytes.
pub(crate) unsafe fn boundary(
    err: *mut c_char,
    err_len: usize,
    body: impl FnOnce() -> Result<()>,
) -> im_status {
    // Unwind safety: a handle whose method panicked may hold half-updated (but memory-safe)
    // state; the caller is told with IM_STATUS_PANIC and should free it.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        if FORCE_PANIC.with(|f| f.get()) {
            panic!("forced by a test");
        }
        body()
    }));
    let error = match outcome {
        Ok(Ok(())) => return im_status::IM_STATUS_OK,
        Ok(Err(e)) => e,
        Err(payload) => Error::Panic(panic_message(payload.as_ref())),
    };
    let status = error.status();
    // Rendering the message runs Display impls: keep even that from unwinding.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let text = error.to_string();
        // SAFETY: forwarded from the caller.
        unsafe { write_message(err, err_len, &text) }
    }));
    status
}

/// Runs a body that cannot report failure (the `_free` functions), swallowing a panic.
pub(crate) fn boundary_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn run(body: impl FnOnce() -> Result<()>, err_len: usize) -> (im_status, String) {
        let mut err = vec![0x55 as c_char; err_len.max(1)];
        // SAFETY: err is valid for err_len bytes.
        let status = unsafe { boundary(err.as_mut_ptr(), err_len, body) };
        let msg = if err_len == 0 {
            String::new()
        } else {
            // SAFETY: boundary NUL-terminates within err_len.
            unsafe { CStr::from_ptr(err.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        (status, msg)
    }

    #[test]
    fn a_panic_becomes_im_status_panic_with_its_message() {
        let (status, msg) = run(|| panic!("boom {}", 42), 256);
        assert_eq!(status, im_status::IM_STATUS_PANIC);
        assert_eq!(
            msg,
            "internal error (a bug in libinframind, please report it): panic: boom 42"
        );
        let (status, msg) = run(|| std::panic::panic_any(7u8), 256);
        assert_eq!(status, im_status::IM_STATUS_PANIC);
        assert!(msg.ends_with("panic: (no message)"), "{msg}");
    }

    #[test]
    fn an_error_becomes_its_status_and_message() {
        let (status, msg) = run(|| Err(Error::NullArgument("out")), 256);
        assert_eq!(status, im_status::IM_STATUS_NULL_ARGUMENT);
        assert_eq!(msg, "argument `out` is NULL: pass a valid pointer");
    }

    #[test]
    fn success_leaves_err_untouched() {
        let mut err = [0x55 as c_char; 8];
        // SAFETY: err is valid for 8 bytes.
        let status = unsafe { boundary(err.as_mut_ptr(), err.len(), || Ok(())) };
        assert_eq!(status, im_status::IM_STATUS_OK);
        assert!(err.iter().all(|&b| b == 0x55 as c_char));
    }

    #[test]
    fn messages_are_truncated_to_the_buffer_and_null_err_is_fine() {
        let (status, msg) = run(|| Err(Error::NullArgument("out")), 9);
        assert_eq!(status, im_status::IM_STATUS_NULL_ARGUMENT);
        assert_eq!(msg, "argument");
        let (status, _) = run(|| Err(Error::NullArgument("out")), 0);
        assert_eq!(status, im_status::IM_STATUS_NULL_ARGUMENT);
        // SAFETY: a NULL err is allowed.
        let status = unsafe {
            boundary(std::ptr::null_mut(), 100, || {
                Err(Error::NullArgument("out"))
            })
        };
        assert_eq!(status, im_status::IM_STATUS_NULL_ARGUMENT);
    }

    #[test]
    fn void_boundary_swallows_a_panic() {
        boundary_void(|| panic!("in a free function"));
    }

    /// Every fallible entry point runs inside the boundary: with a panic forced at its start,
    /// each returns IM_STATUS_PANIC with the message, instead of unwinding into C.
    #[test]
    fn every_entry_point_returns_panic_when_its_body_panics() {
        use crate::*;
        use std::ptr::{null, null_mut};
        let mut err = [0 as c_char; 256];
        let (e, el) = (err.as_mut_ptr(), err.len());
        let mut len = 0usize;
        let mut n = 0usize;
        let mut x = 0.0f64;
        let mut model = null_mut();
        let mut set = null_mut();
        let mut collector = null_mut();
        FORCE_PANIC.with(|f| f.set(true));
        // SAFETY: the bodies panic before any argument is used.
        let statuses: Vec<(&str, im_status)> = unsafe {
            vec![
                (
                    "im_collector_new",
                    im_collector_new(0, false, &mut collector, e, el),
                ),
                (
                    "im_collector_sample",
                    im_collector_sample(null_mut(), e, el),
                ),
                (
                    "im_collector_metrics",
                    im_collector_metrics(null(), null_mut(), 0, &mut len, e, el),
                ),
                (
                    "im_collector_json",
                    im_collector_json(null(), null_mut(), 0, &mut len, e, el),
                ),
                ("im_model_load", im_model_load(null(), &mut model, e, el)),
                (
                    "im_model_from_bytes",
                    im_model_from_bytes(null(), 0, &mut model, e, el),
                ),
                (
                    "im_model_predict",
                    im_model_predict(null(), null(), null(), null(), &mut x, &mut x, e, el),
                ),
                (
                    "im_model_feature_names",
                    im_model_feature_names(null(), null_mut(), 0, &mut len, e, el),
                ),
                (
                    "im_model_metadata",
                    im_model_metadata(null(), null_mut(), 0, &mut len, e, el),
                ),
                (
                    "im_optimizer_suggest",
                    im_optimizer_suggest(
                        null(),
                        null(),
                        null(),
                        0,
                        false,
                        null_mut(),
                        0,
                        &mut len,
                        e,
                        el,
                    ),
                ),
                (
                    "im_classify_log",
                    im_classify_log(null(), 0, null_mut(), 0, &mut len, e, el),
                ),
                (
                    "im_policy_set_from_json",
                    im_policy_set_from_json(null(), &mut set, e, el),
                ),
                (
                    "im_policy_set_from_yaml",
                    im_policy_set_from_yaml(null(), &mut set, e, el),
                ),
                (
                    "im_policy_set_from_file",
                    im_policy_set_from_file(null(), &mut set, e, el),
                ),
                (
                    "im_policy_set_len",
                    im_policy_set_len(null(), &mut n, e, el),
                ),
                (
                    "im_policy_set_evaluate",
                    im_policy_set_evaluate(null(), null(), true, null_mut(), 0, &mut len, e, el),
                ),
            ]
        };
        FORCE_PANIC.with(|f| f.set(false));
        for (name, status) in statuses {
            assert_eq!(status, im_status::IM_STATUS_PANIC, "{name}");
        }
        // SAFETY: NUL-terminated by the last call.
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_str().unwrap();
        assert!(msg.ends_with("panic: forced by a test"), "{msg}");
        assert!(model.is_null() && set.is_null() && collector.is_null());
    }
}
