//! The collector: system CPU, memory and I/O, an optional build process tree and optional
//! ccache/sccache statistics, sampled on demand and rendered as Prometheus text or JSON.
//! Thin wrappers over `inframind_core::collect` (Linux only; elsewhere every call but `_free`
//! returns `IM_STATUS_UNSUPPORTED`).

use std::ffi::c_char;

#[cfg(target_os = "linux")]
use crate::ffi::handle_mut;
use crate::ffi::{free_handle, handle, handle_out, OutBuf};
use crate::panic::{boundary, boundary_void};
use crate::status::im_status;

#[cfg(target_os = "linux")]
use inframind_core::collect::{Collector, CollectorOptions, Snapshot};

/// A collector handle: what to sample, the state needed for deltas (CPU usage, exited
/// processes), and the latest sample.
///
/// Thread safety: NOT thread-safe. Use one handle from one thread at a time (e.g. guard it with
/// a mutex); distinct handles are independent.
#[allow(non_camel_case_types)]
pub struct im_collector {
    #[cfg(target_os = "linux")]
    collector: Collector,
    #[cfg(target_os = "linux")]
    latest: Option<Snapshot>,
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> crate::error::Error {
    crate::error::Error::Unsupported(
        "the collectors read /proc and are only built for Linux".to_string(),
    )
}

/// Makes a collector of the system (CPU, memory, disk I/O), plus the process tree rooted at
/// `pid` when `pid > 0` (the build: root and all descendants, found afresh at each sample),
/// plus ccache/sccache statistics when `cache` is true (a tool that is not installed gives no
/// data, not an error). `pid <= 0` means no process tree.
///
/// On success `*out` is a new handle (free it with `im_collector_free`); on failure `*out` is
/// NULL: `IM_STATUS_NOT_FOUND` when there is no process `pid`, `IM_STATUS_IO` when /proc cannot
/// be read, `IM_STATUS_UNSUPPORTED` on a non-Linux build. No sample is taken yet: call
/// `im_collector_sample`.
///
/// # Safety
/// `out` is valid for a write; `err` is NULL or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_collector_new(
    pid: i32,
    cache: bool,
    out: *mut *mut im_collector,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            let out = handle_out(out)?;
            #[cfg(target_os = "linux")]
            {
                let mut options = CollectorOptions::default().cache(cache);
                if pid > 0 {
                    options = options.pid(pid);
                }
                out.set(im_collector {
                    collector: Collector::new(options)?,
                    latest: None,
                });
                Ok(())
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = (pid, cache, out);
                Err(unsupported())
            }
        })
    }
}

/// Frees a collector. NULL is a no-op.
///
/// # Safety
/// `collector` is NULL or a handle from `im_collector_new` that is not in use; it must not be
/// used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_collector_free(collector: *mut im_collector) {
    // SAFETY: caller's contract.
    boundary_void(|| unsafe { free_handle(collector) });
}

/// Takes a sample now and keeps it as the latest (replacing the previous one). The first
/// sample's CPU usage covers the time since `im_collector_new`. On failure the previous sample
/// stays the latest.
///
/// # Safety
/// `collector` is a live handle used by no other thread during the call; `err` is NULL or
/// valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_collector_sample(
    collector: *mut im_collector,
    err: *mut c_char,
    err_len: usize,
) -> im_status {
    // SAFETY: every pointer is checked and used under the caller's contract.
    unsafe {
        boundary(err, err_len, || {
            #[cfg(target_os = "linux")]
            {
                let c = handle_mut(collector, "collector")?;
                c.latest = Some(c.collector.sample()?);
                Ok(())
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = handle(collector.cast_const(), "collector")?;
                Err(unsupported())
            }
        })
    }
}

/// The latest sample in the Prometheus text exposition format 0.0.4 (`im_cpu_usage_ratio`,
/// `im_mem_used_bytes`, `im_build_*{pid="..."}`, `im_cache_*{tool="..."}`, `im_build_info`...,
/// each with HELP and TYPE; the list is in bindings/c/README.md).
///
/// Output convention (all `buf`/`buf_len`/`out_len` functions): `*out_len` is set to the length
/// of the text without its NUL; when `buf_len > *out_len` the NUL-terminated text is written to
/// `buf`, otherwise nothing is written to `buf` and `IM_STATUS_BUFFER_TOO_SMALL` is returned:
/// call again with a buffer of at least `*out_len + 1` bytes. `buf` may be NULL with `buf_len` 0
/// to ask the size. `IM_STATUS_INVALID_INPUT` when no sample was taken yet.
///
/// # Safety
/// `collector` is a live handle not being sampled by another thread; `buf` is NULL (with
/// `buf_len` 0) or valid for `buf_len` bytes; `out_len` is valid for a write; `err` is NULL or
/// valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_collector_metrics(
    collector: *const im_collector,
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
            let c = handle(collector, "collector")?;
            #[cfg(target_os = "linux")]
            {
                out.write(&latest(c)?.render_prometheus())
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = (out, c);
                Err(unsupported())
            }
        })
    }
}

/// The latest sample as one JSON object, no newline: `timestamp_ms`, `system {...}`, `tree`
/// (null without a pid), `caches [...]` (schema in bindings/c/README.md). Output convention:
/// see `im_collector_metrics`. `IM_STATUS_INVALID_INPUT` when no sample was taken yet.
///
/// # Safety
/// As `im_collector_metrics`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn im_collector_json(
    collector: *const im_collector,
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
            let c = handle(collector, "collector")?;
            #[cfg(target_os = "linux")]
            {
                out.write(&latest(c)?.to_json_line())
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = (out, c);
                Err(unsupported())
            }
        })
    }
}

#[cfg(target_os = "linux")]
fn latest(c: &im_collector) -> crate::error::Result<&Snapshot> {
    c.latest.as_ref().ok_or_else(|| {
        crate::error::Error::NoData(
            "no sample taken yet: call im_collector_sample first".to_string(),
        )
    })
}
