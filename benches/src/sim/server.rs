//! A real `inframind-server` as a child process, driven over HTTP on loopback.
//!
//! The server gets a SQLite file and a model store in a temporary folder, a random API token
//! and a free loopback port. Every request has a timeout and every wait a deadline, so a
//! driver always stops by itself; the child is killed by its pid when the [`Server`] is
//! dropped, however the driver ends.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use inframind_core::telemetry::{BuildConfig, BuildRun, RunContext, RunStatus};
use serde::Deserialize;
use serde_json::{json, Value};

/// Longest wait for one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest wait for a started server to answer `/healthz`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What `/optimize` answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Optimized {
    /// A suggestion.
    Suggestion(Answer),
    /// 422 with code `no_safe_config`: no config is safe within the declared capacity. Holds the
    /// server's message.
    NoSafeConfig(String),
}

/// The fields of an `/optimize` answer the benchmark reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Answer {
    /// The suggested config.
    pub config: BuildConfig,
    /// Whether the model was not used.
    pub cold_start: bool,
    /// Whether the suggestion explores.
    pub explored: bool,
    /// The model's store version (`v3`), if a model answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Predicted duration, seconds.
    #[serde(default)]
    pub predicted_duration_s: Option<f64>,
}

/// A running `inframind-server` and a client for it.
#[derive(Debug)]
pub struct Server {
    child: Child,
    base: String,
    token: String,
    agent: ureq::Agent,
    dir: PathBuf,
}

impl Server {
    /// Starts the server binary `bin` with its data in a new folder under `parent` and waits
    /// until it answers `/healthz`. `extra` flags are passed on.
    pub fn spawn(bin: &Path, parent: &Path, extra: &[String]) -> Result<Self, String> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = parent.join(format!("im-simulate-server-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let token = format!("sim-{stamp:x}");
        let port = free_port()?;
        let log_path = dir.join("server.log");
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db")
            .arg(dir.join("inframind.db"))
            .arg("--model-dir")
            .arg(dir.join("models"))
            .args(extra)
            .env("INFRAMIND_TOKEN", &token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it with `cargo build --release -p server-example`)",
                    bin.display()
                )
            })?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            // Loopback only: never through a proxy from the environment.
            .proxy(None)
            .max_redirects(0)
            .build();
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
            agent: config.into(),
            dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// The folder of the server's database, models and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "inframind-server exited at start ({status}); see {}",
                    self.dir.join("server.log").display()
                ));
            }
            let ok = self
                .agent
                .get(format!("{}/healthz", self.base))
                .call()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "inframind-server did not answer /healthz within {START_TIMEOUT:?}; see {}",
            self.dir.join("server.log").display()
        ))
    }

    fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let mut resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("X-IM-Token", &self.token)
            .send_json(body)
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("POST {path}: reading the answer: {e}"))?;
        let value = serde_json::from_str(&text)
            .map_err(|e| format!("POST {path}: {status} answer is not JSON ({e}): {text}"))?;
        Ok((status, value))
    }

    fn post_ok(&self, path: &str, body: &Value) -> Result<Value, String> {
        match self.post(path, body)? {
            (200 | 201, v) => Ok(v),
            (status, v) => Err(format!("POST {path}: {status} {v}")),
        }
    }

    /// `POST /optimize` for `pipeline`.
    pub fn optimize(
        &self,
        pipeline: &str,
        context: &RunContext,
        seed: u64,
    ) -> Result<Optimized, String> {
        let body = json!({"pipeline": pipeline, "context": context, "seed": seed});
        match self.post("/optimize", &body)? {
            (200, v) => serde_json::from_value(v)
                .map(Optimized::Suggestion)
                .map_err(|e| format!("POST /optimize: unexpected answer: {e}")),
            (422, v) if v["error"]["code"] == "no_safe_config" => Ok(Optimized::NoSafeConfig(
                v["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )),
            (status, v) => Err(format!("POST /optimize: {status} {v}")),
        }
    }

    /// Reports a finished build the way a CI plugin would: `/builds/start` with its config,
    /// one `/builds/step` per step with its peak RSS, `/builds/complete`. An OOM-killed build is
    /// reported as a `failure` whose `log_tail` is `oom_log`, for the server's classifier to
    /// recognise. Returns the status the server recorded.
    pub fn report(
        &self,
        pipeline: &str,
        run_id: &str,
        run: &BuildRun,
        oom_log: &str,
    ) -> Result<RunStatus, String> {
        self.post_ok(
            "/builds/start",
            &json!({"pipeline": pipeline, "tool": run.tool, "config": run.config, "run_id": run_id}),
        )?;
        for step in &run.steps {
            self.post_ok(
                "/builds/step",
                &json!({
                    "run_id": run_id,
                    "name": step.name,
                    "duration_s": step.duration_s,
                    "status": ci_status(step.status),
                    "max_rss_bytes": step.max_rss_bytes,
                    "cpu_seconds": step.cpu_seconds,
                    "io_read_bytes": step.io_read_bytes,
                    "io_write_bytes": step.io_write_bytes,
                    "cache_hits": step.cache_hits,
                    "cache_misses": step.cache_misses,
                }),
            )?;
        }
        let mut complete = json!({
            "run_id": run_id,
            "status": ci_status(run.status),
            "duration_s": run.duration_s,
        });
        if run.status == RunStatus::OomKilled {
            complete["log_tail"] = Value::from(oom_log);
        }
        let answer = self.post_ok("/builds/complete", &complete)?;
        serde_json::from_value(answer["status"].clone())
            .map_err(|e| format!("POST /builds/complete: unexpected status in {answer}: {e}"))
    }

    /// Stops the server (by its pid) and removes its folder unless `keep`.
    pub fn stop(mut self, keep: bool) -> Result<(), String> {
        self.kill();
        if keep {
            // Dropping must not remove what the caller asked to keep.
            self.dir = PathBuf::new();
            return Ok(());
        }
        let dir = std::mem::take(&mut self.dir);
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Child::kill signals this child's own pid, nothing else.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The status a CI system knows: it sees an OOM kill as a failed step or build, and leaves
/// the diagnosis to the server's log classifier.
fn ci_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Success => "success",
        RunStatus::Timeout => "timeout",
        RunStatus::Cancelled => "cancelled",
        _ => "failure",
    }
}

/// A loopback port free at the time of asking.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .map_err(|e| format!("no free loopback port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// The tail of a build log whose compiler was killed by the kernel's OOM killer, as `dmesg`
/// and the tool print it (the kernel's `oom_kill_process` line format), for `tool`'s compiler
/// process.
pub fn oom_log_tail(tool: &str, pid: u32, limit_bytes: u64) -> String {
    let (comm, tool_line) = match tool {
        "cargo" => ("rustc", "error: could not compile `app` (lib)\n\nCaused by:\n  process didn't exit successfully: `rustc --crate-name app` (signal: 9, SIGKILL: kill)"),
        "gradle" => ("java", "> Task :app:compileJava FAILED\nFAILURE: Build failed with an exception."),
        "npm" => ("node", "npm ERR! code ELIFECYCLE\nnpm ERR! errno 137"),
        "bazel" => ("cc1plus", "ERROR: /src/app/BUILD:12:10: Compiling app/engine.cc failed: (Killed): gcc failed: error executing command"),
        _ => ("cc1plus", "c++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated."),
    };
    let kib = limit_bytes / 1024;
    format!(
        "[ 8412.553127] Out of memory: Killed process {pid} ({comm}) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:{}kB oom_score_adj:0\n{tool_line}\n",
        kib + kib / 4,
        kib.saturating_sub(kib / 50),
        kib / 512
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use inframind_core::demo::DEMO_TOOLS;
    use inframind_core::healing::classify;

    #[test]
    fn the_oom_log_tail_classifies_as_an_oom_kill() {
        for tool in DEMO_TOOLS {
            let c = classify(&oom_log_tail(tool, 4242, 6 << 30));
            assert_eq!(c.run_status(), RunStatus::OomKilled, "{tool}: {c:?}");
        }
    }

    #[test]
    fn a_ci_system_reports_an_oom_kill_as_a_failure() {
        assert_eq!(ci_status(RunStatus::OomKilled), "failure");
        assert_eq!(ci_status(RunStatus::Success), "success");
    }
}
