//! im_collector_*: real samples of this machine and this test process (Linux /proc).
#![cfg(target_os = "linux")]

mod support;

use std::ptr::{null, null_mut};

use inframind::*;
use support::*;

fn new_collector(pid: i32, cache: bool) -> Result<*mut im_collector, (im_status, String)> {
    let mut out = std::ptr::dangling_mut::<im_collector>();
    let mut err = ErrBuf::new();
    let s = unsafe { im_collector_new(pid, cache, &mut out, err.ptr(), err.len()) };
    if s == im_status::IM_STATUS_OK {
        assert!(!out.is_null());
        Ok(out)
    } else {
        assert!(out.is_null(), "*out is NULL on failure");
        Err((s, err.message()))
    }
}

fn sample(c: *mut im_collector) {
    let mut err = ErrBuf::new();
    let s = unsafe { im_collector_sample(c, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_OK, "{}", err.message());
}

#[test]
fn system_only_collector_renders_metrics_and_json() {
    let c = new_collector(0, false).unwrap();
    let (s, msg) =
        read_text(|b, l, o, e, el| unsafe { im_collector_metrics(c, b, l, o, e, el) }).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);
    assert_eq!(msg, "no sample taken yet: call im_collector_sample first");
    let (s, _) =
        read_text(|b, l, o, e, el| unsafe { im_collector_json(c, b, l, o, e, el) }).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_INVALID_INPUT);

    sample(c);
    let text =
        read_text(|b, l, o, e, el| unsafe { im_collector_metrics(c, b, l, o, e, el) }).unwrap();
    for name in [
        "im_cpu_usage_ratio",
        "im_cpu_seconds_total",
        "im_mem_used_bytes",
        "im_mem_total_bytes",
        "im_io_read_bytes_total",
        "im_io_write_bytes_total",
        "im_build_info",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in\n{text}"
        );
    }
    assert!(
        !text.contains("im_build_processes"),
        "no tree without a pid"
    );
    let json: serde_json::Value = serde_json::from_str(
        &read_text(|b, l, o, e, el| unsafe { im_collector_json(c, b, l, o, e, el) }).unwrap(),
    )
    .unwrap();
    assert!(json["tree"].is_null());
    let ratio = json["system"]["cpu_usage_ratio"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    assert!(json["system"]["mem_used_bytes"].as_u64().unwrap() > 0);
    assert!(json["timestamp_ms"].as_u64().unwrap() > 1_600_000_000_000);

    // A second sample replaces the first: the timestamp does not go back.
    std::thread::sleep(std::time::Duration::from_millis(5));
    sample(c);
    let again: serde_json::Value = serde_json::from_str(
        &read_text_once(|b, l, o, e, el| unsafe { im_collector_json(c, b, l, o, e, el) }).unwrap(),
    )
    .unwrap();
    assert!(again["timestamp_ms"].as_u64() >= json["timestamp_ms"].as_u64());
    unsafe { im_collector_free(c) };
}

#[test]
fn process_tree_of_this_test() {
    let pid = std::process::id() as i32;
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .unwrap();
    let c = new_collector(pid, true).unwrap();
    sample(c);
    let text =
        read_text(|b, l, o, e, el| unsafe { im_collector_metrics(c, b, l, o, e, el) }).unwrap();
    assert!(
        text.contains(&format!("im_build_processes{{pid=\"{pid}\"}} ")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &read_text(|b, l, o, e, el| unsafe { im_collector_json(c, b, l, o, e, el) }).unwrap(),
    )
    .unwrap();
    assert_eq!(json["tree"]["root_pid"], pid);
    assert_eq!(json["tree"]["root_alive"], true);
    assert!(
        json["tree"]["processes"].as_u64().unwrap() >= 2,
        "this process and `sleep`: {json}"
    );
    assert!(json["tree"]["rss_bytes"].as_u64().unwrap() > 0);
    assert!(json["caches"].is_array());
    child.kill().unwrap();
    child.wait().unwrap();
    unsafe { im_collector_free(c) };
}

#[test]
fn a_missing_pid_is_not_found() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id() as i32;
    child.wait().unwrap();
    let (s, msg) = new_collector(gone, false).unwrap_err();
    assert_eq!(s, im_status::IM_STATUS_NOT_FOUND, "{msg}");
    assert!(
        msg.starts_with(&format!("no process with pid {gone}: ")),
        "{msg}"
    );
}

#[test]
fn null_arguments() {
    let mut err = ErrBuf::new();
    let s = unsafe { im_collector_new(0, false, null_mut(), err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `out` is NULL: pass a valid pointer"
    );
    let s = unsafe { im_collector_sample(null_mut(), err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `collector` is NULL: pass a valid pointer"
    );
    let mut len = 0;
    let s = unsafe { im_collector_metrics(null(), null_mut(), 0, &mut len, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    let s = unsafe { im_collector_json(null(), null_mut(), 0, &mut len, err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    let c = new_collector(0, false).unwrap();
    sample(c);
    let s = unsafe { im_collector_json(c, null_mut(), 0, null_mut(), err.ptr(), err.len()) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    assert_eq!(
        err.message(),
        "argument `out_len` is NULL: pass a valid pointer"
    );
    // A NULL err is allowed everywhere.
    let s = unsafe { im_collector_sample(null_mut(), null_mut(), 0) };
    assert_eq!(s, im_status::IM_STATUS_NULL_ARGUMENT);
    unsafe { im_collector_free(c) };
    unsafe { im_collector_free(null_mut()) };
}
