//! Helpers of the fault drills: the real `inframind-server` binary as a child process on
//! 127.0.0.1, a small blocking HTTP/1.1 client with deadlines, and readings of the child's
//! `/metrics` and `/proc` status. Every wait is bounded; only the child's own pid is signalled.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_inframind-server");
pub const TOKEN: &str = "drill-token";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `inframind-server`; killed (SIGKILL to its own pid) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// How to start a server.
pub struct Launch<'a> {
    pub db: String,
    pub model_dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<&'a str>,
    /// `prlimit --nofile=N:N` around the binary.
    pub nofile: Option<u32>,
}

impl Launch<'_> {
    pub fn new(db: impl Into<String>, dir: &Path, log: &str) -> Self {
        Launch {
            db: db.into(),
            model_dir: dir.join("models"),
            log: dir.join(log),
            args: Vec::new(),
            nofile: None,
        }
    }

    /// Starts the server and waits (at most 60 s) until `/healthz` answers.
    pub fn start(&self) -> Server {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(&self.log).unwrap();
        let mut cmd = match self.nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.args(["--listen", &addr.to_string(), "--db", &self.db])
            .arg("--model-dir")
            .arg(&self.model_dir)
            .args(&self.args)
            .env("INFRAMIND_TOKEN", TOKEN)
            .env_remove("INFRAMIND_MAX_CONNECTIONS")
            .env_remove("INFRAMIND_HEADER_TIMEOUT")
            .env_remove("INFRAMIND_IDLE_TIMEOUT")
            .env_remove("INFRAMIND_DRAIN_TIMEOUT")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().unwrap();
        let mut srv = Server {
            child,
            addr,
            log: self.log.clone(),
        };
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(srv.get("/healthz"), Ok(r) if r.status == 200) {
                return srv;
            }
            if Instant::now() > until || srv.child.try_wait().unwrap().is_some() {
                srv.kill();
                panic!("server did not become healthy:\n{}", srv.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL to this child only, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn get(&self, path: &str) -> Result<Reply, String> {
        request(self.addr, "GET", path, None, Duration::from_secs(5))
    }

    pub fn api(&self, method: &str, path: &str, body: &serde_json::Value) -> Result<Reply, String> {
        let raw = body.to_string();
        request(
            self.addr,
            method,
            path,
            Some(raw.as_bytes()),
            Duration::from_secs(10),
        )
    }

    /// The value of one sample of the child's `/metrics` (`name{labels}` exactly), 0 if absent.
    pub fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").map(|r| r.body).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// A `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`), in bytes.
    pub fn proc_status_bytes(&self, field: &str) -> u64 {
        proc_status_bytes(self.pid(), field)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// An answer: status, headers (names lower-cased) and body text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One request on a new connection (`Connection: close`) with the drill token, answered
/// within `within` or an error saying what happened.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    within: Duration,
) -> Result<Reply, String> {
    let mut s = TcpStream::connect_timeout(&addr, within).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(within)).ok();
    s.set_write_timeout(Some(within)).ok();
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: drill\r\nX-IM-Token: {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete answer: {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Polls `f` every 50 ms until it holds or `within` passes; whether it held.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A build config, so runs teach the model.
pub fn config() -> serde_json::Value {
    serde_json::json!({"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592u64})
}
