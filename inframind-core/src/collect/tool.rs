//! Running a cache tool for its statistics: its stdout, its stderr quoted on failure, and a
//! deadline after which it is stopped.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// At most this much of a tool's output is kept (real statistics are a few KiB).
const MAX_OUTPUT_BYTES: u64 = 4 << 20;

/// Reads a pipe to its end (or to [`MAX_OUTPUT_BYTES`]) on a thread, into a shared buffer, so
/// that a grandchild keeping the pipe open cannot make us wait.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> (Arc<Mutex<Vec<u8>>>, std::sync::mpsc::Receiver<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    if let Some(pipe) = pipe {
        let sink = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut pipe = pipe.take(MAX_OUTPUT_BYTES);
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut b) = sink.lock() {
                            b.extend_from_slice(&chunk[..n]);
                        }
                    }
                }
            }
            let _ = done_tx.send(());
        });
    } else {
        let _ = done_tx.send(());
    }
    (buf, done_rx)
}

fn take_text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    match buf.lock() {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// Runs `program args`, returning its stdout; `Ok(None)` when the program is not installed.
/// A program still running after `timeout` is killed; a failing one is an error quoting its
/// stderr. The error is a reason, for the caller to wrap with the tool's name.
pub(crate) fn run_tool(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<Option<String>, String> {
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot run `{shown}`: {e}")),
    };
    let started = Instant::now();
    let (out, out_done) = drain(child.stdout.take());
    let (err, err_done) = drain(child.stderr.take());
    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`{shown}` did not finish within {} s and was stopped; check that the cache \
                 directory is reachable (a network mount, a remote storage backend)",
                timeout.as_secs_f64()
            ));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("waiting for `{shown}` failed: {e}"));
        }
    };
    // The pipes reach their end when the program exits, unless something it started keeps
    // them open: wait a little, then use what arrived.
    let grace = Duration::from_secs(1).min(
        timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100)),
    );
    let _ = out_done.recv_timeout(grace);
    let _ = err_done.recv_timeout(Duration::from_millis(100));
    let stdout = take_text(&out);
    if !status.success() {
        let stderr = take_text(&err);
        let stderr = stderr.trim();
        let stderr: String = stderr.chars().take(500).collect();
        return Err(format!(
            "`{shown}` failed ({status}){}{stderr}",
            if stderr.is_empty() { "" } else { ": " }
        ));
    }
    Ok(Some(stdout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::TOOL_TIMEOUT;

    #[test]
    fn missing_tool_is_no_data() {
        assert_eq!(
            run_tool("inframind-no-such-tool-x9", &[], TOOL_TIMEOUT),
            Ok(None)
        );
    }

    #[test]
    fn hanging_tool_is_killed_at_the_deadline() {
        let start = Instant::now();
        let err = run_tool("sleep", &["30"], Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not finish within 0.3 s"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn failing_tool_quotes_its_stderr() {
        let err =
            run_tool("sh", &["-c", "echo broken cache >&2; exit 3"], TOOL_TIMEOUT).unwrap_err();
        assert!(
            err.contains("broken cache") && err.contains("exit status: 3"),
            "{err}"
        );
    }

    #[test]
    fn grandchild_holding_the_pipe_does_not_block() {
        let start = Instant::now();
        let out = run_tool(
            "sh",
            &["-c", "echo direct_cache_hit 1; sleep 20 &"],
            TOOL_TIMEOUT,
        )
        .unwrap()
        .unwrap();
        assert!(out.contains("direct_cache_hit 1"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
