//! The status code every fallible entry point returns, its names, and the library version.

use std::ffi::c_char;

/// What a fallible `im_*` function did. `IM_STATUS_OK` is success; on any other value a message
/// naming the problem was written to the caller's `err` buffer (when one was given).
///
/// The numbers are stable: new codes are only ever added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum im_status {
    /// Success.
    IM_STATUS_OK = 0,
    /// A required pointer argument was NULL; the message names the argument.
    IM_STATUS_NULL_ARGUMENT = 1,
    /// Bad JSON, bad field, bad value, text that is not UTF-8: the message names it.
    IM_STATUS_INVALID_INPUT = 2,
    /// No such file, pid, pipeline or version.
    IM_STATUS_NOT_FOUND = 3,
    /// Another operating-system error (permissions, /proc unreadable, ...).
    IM_STATUS_IO = 4,
    /// A corrupt or incompatible model file, or a feature-schema mismatch.
    IM_STATUS_MODEL = 5,
    /// No configuration satisfies the safety guards within the declared capacity.
    IM_STATUS_NO_SAFE_CONFIG = 6,
    /// The output buffer is too small: `*out_len` holds the bytes needed (without the NUL).
    IM_STATUS_BUFFER_TOO_SMALL = 7,
    /// Not available in this build, e.g. collectors on a non-Linux build.
    IM_STATUS_UNSUPPORTED = 8,
    /// A bug inside the library was caught before it could cross the C boundary. Please
    /// report it with the message.
    IM_STATUS_PANIC = 9,
    /// Too few usable build runs to do what was asked, e.g. to train a model; the message says
    /// how many are needed. The input is well formed: try again when there is more history.
    IM_STATUS_NOT_ENOUGH_DATA = 10,
}

/// The C type of a status passed *into* the library. C may hand over any integer in an enum
/// parameter, and an out-of-range value in a Rust enum would be undefined behaviour, so the
/// value is received as a plain integer. The header names it `im_status` (cbindgen rename).
#[allow(non_camel_case_types)]
pub type im_status_code = u32;

const NAMES: [&str; 11] = [
    "IM_STATUS_OK\0",
    "IM_STATUS_NULL_ARGUMENT\0",
    "IM_STATUS_INVALID_INPUT\0",
    "IM_STATUS_NOT_FOUND\0",
    "IM_STATUS_IO\0",
    "IM_STATUS_MODEL\0",
    "IM_STATUS_NO_SAFE_CONFIG\0",
    "IM_STATUS_BUFFER_TOO_SMALL\0",
    "IM_STATUS_UNSUPPORTED\0",
    "IM_STATUS_PANIC\0",
    "IM_STATUS_NOT_ENOUGH_DATA\0",
];
const UNKNOWN: &str = "IM_STATUS_UNKNOWN\0";
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

impl im_status {
    /// The C name of the code, e.g. `"IM_STATUS_OK"`.
    pub fn name(self) -> &'static str {
        let n = NAMES[self as usize];
        &n[..n.len() - 1]
    }
}

/// The library's version, e.g. `"0.1.0"` (the same as `IM_VERSION_STRING` of the header the
/// program was compiled with, unless it links another build). A static string: never NULL,
/// never freed. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn im_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The name of a status code, e.g. `"IM_STATUS_BUFFER_TOO_SMALL"`; `"IM_STATUS_UNKNOWN"` for a
/// value that is not a code. A static string: never NULL, never freed. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn im_status_name(status: im_status_code) -> *const c_char {
    let name = usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or(UNKNOWN);
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name_of(code: u32) -> &'static str {
        // SAFETY: im_status_name returns a pointer into a static NUL-terminated string.
        unsafe { CStr::from_ptr(im_status_name(code)) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn every_code_has_its_c_name_and_number() {
        let all = [
            im_status::IM_STATUS_OK,
            im_status::IM_STATUS_NULL_ARGUMENT,
            im_status::IM_STATUS_INVALID_INPUT,
            im_status::IM_STATUS_NOT_FOUND,
            im_status::IM_STATUS_IO,
            im_status::IM_STATUS_MODEL,
            im_status::IM_STATUS_NO_SAFE_CONFIG,
            im_status::IM_STATUS_BUFFER_TOO_SMALL,
            im_status::IM_STATUS_UNSUPPORTED,
            im_status::IM_STATUS_PANIC,
            im_status::IM_STATUS_NOT_ENOUGH_DATA,
        ];
        for (i, s) in all.into_iter().enumerate() {
            assert_eq!(s as usize, i);
            assert_eq!(name_of(i as u32), s.name());
            assert_eq!(format!("{s:?}"), s.name());
        }
    }

    #[test]
    fn out_of_range_codes_are_unknown_not_undefined() {
        assert_eq!(name_of(11), "IM_STATUS_UNKNOWN");
        assert_eq!(name_of(u32::MAX), "IM_STATUS_UNKNOWN");
    }

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(im_version()) }.to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
