//! Reading arguments from C and writing results back: NULL checks, UTF-8 checks, JSON parsing
//! into the core's types, the caller-owned output buffers, and handle boxing.

use std::ffi::{c_char, CStr};

use inframind_core::telemetry::validate_history;
use inframind_core::{BuildConfig, BuildRun, RunContext};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `msg`, truncated to fit (at a UTF-8 character boundary) and NUL-terminated, into
/// `err`; does nothing when `err` is NULL or `err_len` is 0.
///
/// # Safety
/// `err` is NULL or valid for writes of `err_len` bytes.
pub(crate) unsafe fn write_message(err: *mut c_char, err_len: usize, msg: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let mut n = msg.len().min(err_len - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: err is valid for err_len > n bytes (caller's contract); msg holds n bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), err.cast::<u8>(), n);
        *err.add(n) = 0;
    }
}

/// A caller-owned output buffer (`char *buf, size_t buf_len, size_t *out_len`), checked before
/// any work is done so that a NULL `out_len` costs nothing.
pub(crate) struct OutBuf {
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
}

impl OutBuf {
    /// Checks the pointers: `out_len` must not be NULL; `buf` may be NULL only with
    /// `buf_len == 0` (a size query).
    ///
    /// # Safety
    /// `buf` is NULL or valid for writes of `buf_len` bytes; `out_len` is NULL or valid for a
    /// write. Both stay valid until [`OutBuf::write`] returns.
    pub(crate) unsafe fn new(
        buf: *mut c_char,
        buf_len: usize,
        out_len: *mut usize,
    ) -> Result<Self> {
        if out_len.is_null() {
            return Err(Error::NullArgument("out_len"));
        }
        if buf.is_null() && buf_len > 0 {
            return Err(Error::NullArgument("buf"));
        }
        Ok(OutBuf {
            buf,
            buf_len,
            out_len,
        })
    }

    /// Sets `*out_len` to the text's length and, when it fits with its NUL, copies it.
    pub(crate) fn write(&self, text: &str) -> Result<()> {
        let needed = text.len();
        // SAFETY: out_len was checked non-NULL in `new`, and is valid (caller's contract).
        unsafe { *self.out_len = needed };
        if self.buf_len <= needed {
            return Err(Error::BufferTooSmall {
                given: self.buf_len,
                needed,
            });
        }
        // SAFETY: buf_len > needed >= 0, so buf is non-NULL (checked in `new`) and valid for
        // needed + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.buf.cast::<u8>(), needed);
            *self.buf.add(needed) = 0;
        }
        Ok(())
    }

    /// Writes the value's JSON.
    pub(crate) fn write_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::Internal(format!("cannot render JSON: {e}")))?;
        self.write(&text)
    }

    /// Whether `text` fits (the caller may then write it; used to avoid a side effect).
    pub(crate) fn fits(&self, text: &str) -> bool {
        self.buf_len > text.len()
    }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, arg: &'static str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::NullArgument(arg));
    }
    // SAFETY: non-NULL and NUL-terminated (caller's contract).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        arg,
        offset: e.valid_up_to(),
    })
}

/// A required byte-slice argument (`const uint8_t *p, size_t len`); `p` may be NULL when `len`
/// is 0.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    p: *const u8,
    len: usize,
    arg: &'static str,
) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::NullArgument(arg));
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidArgument {
            arg: "length",
            value: len.to_string(),
            reason: "larger than any object can be".into(),
        });
    }
    // SAFETY: non-NULL, valid for len bytes (caller's contract), len <= isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A required shared handle.
///
/// # Safety
/// `p` is NULL or points to a live `T` made by this library, not mutated during `'a`.
pub(crate) unsafe fn handle<'a, T>(p: *const T, arg: &'static str) -> Result<&'a T> {
    // SAFETY: caller's contract.
    unsafe { p.as_ref() }.ok_or(Error::NullArgument(arg))
}

/// A required exclusive handle.
///
/// # Safety
/// `p` is NULL or points to a live `T` made by this library, used by no one else during `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, arg: &'static str) -> Result<&'a mut T> {
    // SAFETY: caller's contract.
    unsafe { p.as_mut() }.ok_or(Error::NullArgument(arg))
}

/// Checks an out-pointer for a new handle and sets it to NULL, so that `*out` is NULL on
/// every failure.
///
/// # Safety
/// `out` is NULL or valid for a write.
pub(crate) unsafe fn handle_out<T>(out: *mut *mut T) -> Result<OutHandle<T>> {
    if out.is_null() {
        return Err(Error::NullArgument("out"));
    }
    // SAFETY: non-NULL and valid (caller's contract).
    unsafe { *out = std::ptr::null_mut() };
    Ok(OutHandle(out))
}

/// A checked `T **out`.
pub(crate) struct OutHandle<T>(*mut *mut T);

impl<T> OutHandle<T> {
    /// Hands a new handle to the caller, who frees it with the type's `_free`.
    pub(crate) fn set(self, value: T) {
        // SAFETY: checked non-NULL and valid in `handle_out`.
        unsafe { *self.0 = Box::into_raw(Box::new(value)) };
    }
}

/// Frees a handle made by [`OutHandle::set`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` from this library, not used again.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: made by Box::into_raw in OutHandle::set (caller's contract).
        drop(unsafe { Box::from_raw(p) });
    }
}

/// A required out-parameter for a plain value, checked for NULL before any work is done.
///
/// # Safety
/// `p` is NULL or valid for a write until [`OutValue::set`] returns.
pub(crate) unsafe fn out_value<T>(p: *mut T, arg: &'static str) -> Result<OutValue<T>> {
    if p.is_null() {
        return Err(Error::NullArgument(arg));
    }
    Ok(OutValue(p))
}

/// A checked `T *out` (kept raw: two out-parameters may alias without undefined behaviour).
pub(crate) struct OutValue<T>(*mut T);

impl<T> OutValue<T> {
    /// Writes the value.
    pub(crate) fn set(&self, value: T) {
        // SAFETY: checked non-NULL in `out_value`, valid (caller's contract).
        unsafe { self.0.write(value) };
    }
}

/// Parses JSON text into `T`, naming the path of the first bad element.
pub(crate) fn parse_json<T: DeserializeOwned>(
    text: &str,
    arg: &'static str,
    what: &'static str,
) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::Json {
            arg,
            what,
            at: if path == "." {
                String::new()
            } else {
                format!(" at {path}")
            },
            reason: e.into_inner().to_string(),
        }
    })
}

/// A JSON array of build runs (oldest first), validated by the core, whose errors name the run
/// as `history[3]`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn history_arg(p: *const c_char, arg: &'static str) -> Result<Vec<BuildRun>> {
    // SAFETY: forwarded.
    let text = unsafe { str_arg(p, arg) }?;
    let runs: Vec<BuildRun> = parse_json(text, arg, "a list of build runs")?;
    validate_history(&runs, 0)?;
    Ok(runs)
}

/// A run context as JSON, validated by the core.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn context_arg(p: *const c_char, arg: &'static str) -> Result<RunContext> {
    // SAFETY: forwarded.
    let text = unsafe { str_arg(p, arg) }?;
    let ctx: RunContext = parse_json(text, arg, "a run context")?;
    ctx.validate()?;
    Ok(ctx)
}

/// A build config as JSON, validated by the core.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn config_arg(p: *const c_char, arg: &'static str) -> Result<BuildConfig> {
    // SAFETY: forwarded.
    let text = unsafe { str_arg(p, arg) }?;
    let config: BuildConfig = parse_json(text, arg, "a build config")?;
    config.validate("config")?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_truncation_keeps_utf8_whole() {
        let mut err = [0x55 as c_char; 4];
        // "aé…" is 1 + 2 + 3 bytes; 3 bytes of room keep "aé".
        // SAFETY: err is valid for 4 bytes.
        unsafe { write_message(err.as_mut_ptr(), 4, "aé…") };
        // SAFETY: NUL-terminated by write_message.
        let s = unsafe { CStr::from_ptr(err.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "aé");
        let mut err = [0x55 as c_char; 3];
        // SAFETY: err is valid for 3 bytes.
        unsafe { write_message(err.as_mut_ptr(), 3, "é…") };
        // SAFETY: NUL-terminated by write_message.
        let s = unsafe { CStr::from_ptr(err.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "é");
    }

    #[test]
    fn out_buf_writes_only_when_text_and_nul_fit() {
        let mut len = 0usize;
        let mut buf = [0x55 as c_char; 5];
        // SAFETY: buf valid for 5 bytes, len valid.
        let out = unsafe { OutBuf::new(buf.as_mut_ptr(), 5, &mut len) }.unwrap();
        let e = out.write("hello").unwrap_err();
        assert!(matches!(
            e,
            Error::BufferTooSmall {
                given: 5,
                needed: 5
            }
        ));
        assert_eq!(len, 5);
        assert!(buf.iter().all(|&b| b == 0x55 as c_char), "nothing written");
        out.write("hell").unwrap();
        assert_eq!(len, 4);
        assert_eq!(buf[4], 0);
    }

    #[test]
    fn size_query_with_null_buffer() {
        let mut len = 0usize;
        // SAFETY: NULL buf with 0 length is a size query.
        let out = unsafe { OutBuf::new(std::ptr::null_mut(), 0, &mut len) }.unwrap();
        assert!(matches!(out.write(""), Err(Error::BufferTooSmall { .. })));
        assert_eq!(len, 0);
        // SAFETY: as above.
        let e = unsafe { OutBuf::new(std::ptr::null_mut(), 3, &mut len) }.err();
        assert!(matches!(e, Some(Error::NullArgument("buf"))));
        // SAFETY: NULL out_len is rejected.
        let e = unsafe { OutBuf::new(std::ptr::null_mut(), 0, std::ptr::null_mut()) }.err();
        assert!(matches!(e, Some(Error::NullArgument("out_len"))));
    }

    #[test]
    fn history_errors_name_the_run_and_field() {
        let text = c"[{\"run_id\":\"1\",\"pipeline\":\"p\",\"tool\":\"make\",\"status\":\"success\",\
            \"duration_s\":10,\"config\":{\"concurrency\":1,\"cpu_cores\":1,\"memory_bytes\":1}},\
            {\"run_id\":\"2\",\"pipeline\":\"p\",\"tool\":\"make\",\"status\":\"success\",\
            \"duration_s\":10,\"config\":{\"concurrency\":1,\"cpu_cores\":\"x\",\"memory_bytes\":1}}]";
        // SAFETY: a C string literal.
        let e = unsafe { history_arg(text.as_ptr(), "history_json") }.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("argument `history_json`: invalid JSON for a list of build runs at [1].config.cpu_cores: "),
            "{msg}"
        );
        let text =
            c"[{\"run_id\":\"1\",\"pipeline\":\"p\",\"tool\":\"make\",\"status\":\"success\",\
            \"duration_s\":-3,\"config\":{\"concurrency\":1,\"cpu_cores\":1,\"memory_bytes\":1}}]";
        // SAFETY: a C string literal.
        let e = unsafe { history_arg(text.as_ptr(), "history_json") }.unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid history[0].duration_s = -3: must be a finite number of seconds, 0 or more"
        );
    }

    #[test]
    fn non_utf8_text_is_named() {
        let bad = [b'{' as c_char, 0xff_u8 as c_char, 0];
        // SAFETY: NUL-terminated.
        let e = unsafe { str_arg(bad.as_ptr(), "context_json") }.unwrap_err();
        assert_eq!(
            e.to_string(),
            "argument `context_json` is not valid UTF-8 (first bad byte at offset 1)"
        );
    }
}
