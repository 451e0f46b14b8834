//! Helpers for calling the C ABI from Rust tests the way a C program would.
#![allow(dead_code, unreachable_pub)]

use std::ffi::{c_char, CStr, CString};

use inframind::im_status;
use inframind_core::{demo, BuildRun, DurationModel, RandomForestParams};

/// Size of the error buffers the tests pass.
pub const ERR_LEN: usize = 512;

/// A caller-owned error buffer, pre-filled so a test sees whether it was written.
pub struct ErrBuf(pub Vec<c_char>);

impl ErrBuf {
    pub fn new() -> Self {
        ErrBuf(vec![0x7f; ERR_LEN])
    }
    pub fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// The NUL-terminated message written by a failing call.
    pub fn message(&self) -> String {
        let end = self
            .0
            .iter()
            .position(|&c| c == 0)
            .expect("err is NUL-terminated after a failure");
        let bytes: Vec<u8> = self.0[..end].iter().map(|&c| c as u8).collect();
        String::from_utf8(bytes).expect("messages are UTF-8")
    }
    /// Whether the buffer is as it was made (nothing written).
    pub fn untouched(&self) -> bool {
        self.0.iter().all(|&c| c == 0x7f)
    }
}

/// Calls an output function the way the convention says a C caller does: a size query
/// (NULL, 0), then a buffer one byte too small (must fail and leave it untouched), then one of
/// exactly the needed size. Returns the text, or the status and message of a failure.
pub fn read_text(
    mut call: impl FnMut(*mut c_char, usize, *mut usize, *mut c_char, usize) -> im_status,
) -> Result<String, (im_status, String)> {
    let mut err = ErrBuf::new();
    let mut needed = usize::MAX;
    let s = call(std::ptr::null_mut(), 0, &mut needed, err.ptr(), err.len());
    if s != im_status::IM_STATUS_BUFFER_TOO_SMALL {
        assert_ne!(s, im_status::IM_STATUS_OK, "a size query cannot succeed");
        return Err((s, err.message()));
    }
    assert!(err.message().contains("too small"), "{}", err.message());
    assert_ne!(needed, usize::MAX, "*out_len was set");

    let mut small = vec![0x55 as c_char; needed];
    let mut len = 0;
    let s = call(small.as_mut_ptr(), needed, &mut len, err.ptr(), err.len());
    assert_eq!(
        s,
        im_status::IM_STATUS_BUFFER_TOO_SMALL,
        "buf_len == out_len has no room for the NUL"
    );
    assert_eq!(len, needed);
    assert!(
        small.iter().all(|&c| c == 0x55 as c_char),
        "nothing written on BUFFER_TOO_SMALL"
    );

    let mut buf = vec![0x55 as c_char; needed + 1];
    let mut err = ErrBuf::new();
    let s = call(buf.as_mut_ptr(), buf.len(), &mut len, err.ptr(), err.len());
    if s != im_status::IM_STATUS_OK {
        return Err((s, err.message()));
    }
    assert!(err.untouched(), "err is left alone on success");
    assert_eq!(len, needed);
    assert_eq!(buf[needed], 0, "NUL-terminated");
    // SAFETY: NUL-terminated just above.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(text.to_bytes().len(), needed, "no NUL inside the text");
    Ok(text.to_str().expect("output is UTF-8").to_owned())
}

/// Calls an output function with one big buffer.
pub fn read_text_once(
    mut call: impl FnMut(*mut c_char, usize, *mut usize, *mut c_char, usize) -> im_status,
) -> Result<String, (im_status, String)> {
    let mut buf = vec![0 as c_char; 1 << 20];
    let mut len = 0;
    let mut err = ErrBuf::new();
    let s = call(buf.as_mut_ptr(), buf.len(), &mut len, err.ptr(), err.len());
    if s != im_status::IM_STATUS_OK {
        return Err((s, err.message()));
    }
    // SAFETY: NUL-terminated on success.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned())
}

pub fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL in test text")
}

/// A demo pipeline's history (simulated by inframind-core) and a small model trained on it.
pub fn trained(tool: &str, runs: usize) -> (DurationModel, Vec<BuildRun>) {
    let history = demo::demo_history(tool, runs, 7);
    let model = DurationModel::train(&history, RandomForestParams::new().n_trees(16).seed(3))
        .expect("demo history trains");
    (model, history)
}

pub fn history_json(history: &[BuildRun]) -> CString {
    cstring(&serde_json::to_string(history).unwrap())
}
