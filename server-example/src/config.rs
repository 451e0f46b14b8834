//! Settings: command-line flags, environment and an optional JSON config file.
//!
//! Secrets (API tokens, the GitHub webhook secret, the GitLab token) come from the environment
//! (`INFRAMIND_TOKEN` comma-separated, `INFRAMIND_GITHUB_SECRET`, `INFRAMIND_GITLAB_TOKEN`) or
//! from the config file given with `--config`, never from flags (they would show in `ps`), and
//! they are never logged or printed by `--help`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use inframind_core::retrain::RetrainPolicy;
use serde::Deserialize;

/// How SQLite commits: `full` syncs the WAL on every commit (a crash or power loss loses
/// nothing acknowledged), `normal` syncs at checkpoints only (a power loss may lose the last
/// commits; a process crash loses nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// `PRAGMA synchronous=FULL` (default).
    Full,
    /// `PRAGMA synchronous=NORMAL`.
    Normal,
}

/// Command-line flags of `inframind-server`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "inframind-server",
    version,
    about = "InfraMind REST API: build telemetry, /optimize, Alertmanager and CI webhooks.",
    after_help = "Tokens: INFRAMIND_TOKEN=tok1,tok2 (or \"tokens\" in --config). Webhooks: \
                  INFRAMIND_GITHUB_SECRET, INFRAMIND_GITLAB_TOKEN.\n\
                  Try it: inframind-server --demo --db /tmp/inframind-demo.db"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database: `sqlite://FILE`, a plain file path, `sqlite::memory:` or `postgres://...`.
    #[arg(long, default_value = "sqlite://inframind.db")]
    pub db: String,
    /// Seed demo history for a few pipelines and train their models at start.
    #[arg(long)]
    pub demo: bool,
    /// JSON config file: {"tokens": [...], "github_secret": "...", "gitlab_token": "..."}.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder of the model store (share it between replicas).
    #[arg(long, default_value = "inframind-models")]
    pub model_dir: PathBuf,
    /// Retrain a pipeline's model after every N completed builds (a fixed counter). Default:
    /// the core's adaptive policy: the first model as soon as a pipeline has 2 successful
    /// builds, then once 5% of its history is new (1 to 50 builds), and at once after an OOM
    /// kill or a build far slower or faster than its prediction.
    #[arg(long, value_name = "N")]
    pub retrain_every: Option<u32>,
    /// Newest runs per pipeline kept in memory for /optimize.
    #[arg(long, default_value_t = 1000)]
    pub history_window: u32,
    /// Model versions kept per pipeline in the model store (older ones are deleted after each
    /// training; at least 1).
    #[arg(long, default_value_t = 10, env = "INFRAMIND_KEEP_MODELS")]
    pub keep_models: usize,
    /// How often /optimize checks the database for other replicas' builds and models, ms.
    #[arg(long, default_value_t = 1000)]
    pub cache_ttl_ms: u64,
    /// Request timeout, ms.
    #[arg(long, default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Largest request body accepted, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// SQLite durability (see the README).
    #[arg(long, value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_synchronous: SqliteSync,
    /// Most writes committed in one transaction by the writer task.
    #[arg(long, default_value_t = 512)]
    pub write_batch: usize,
    /// Database connections in the pool.
    #[arg(long, default_value_t = 8)]
    pub pool_size: u32,
    /// Longest a client may take to send a request's headers, seconds; a kept-alive connection
    /// waiting for its next request is closed after this long too.
    #[arg(long, env = "INFRAMIND_HEADER_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub header_timeout: Duration,
    /// A connection that moves no bytes either way for this long is closed, seconds (never
    /// shorter than the request timeout).
    #[arg(long, env = "INFRAMIND_IDLE_TIMEOUT", value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub idle_timeout: Duration,
    /// Most connections served at once; connections beyond it are accepted and closed at once.
    /// Default and ceiling: the open-file limit (`ulimit -n`) minus (64 + --pool-size) descriptors
    /// kept for the database, the model files and the logs.
    #[arg(long, env = "INFRAMIND_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// On SIGTERM or SIGINT, how long the requests in flight may take to finish before the
    /// remaining connections are cut, seconds.
    #[arg(long, env = "INFRAMIND_DRAIN_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub drain_timeout: Duration,
}

/// A duration in seconds (`10`, `0.5`), as the timeout flags take it.
pub fn parse_seconds(v: &str) -> Result<Duration, String> {
    let secs: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{v:?}: the timeout must be more than 0 seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{v:?}: {e}"))
}

/// What one client connection may hold: how long, how many at once, how long shutdown waits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnLimits {
    /// Deadline for a request's headers, and for the next request on a kept-alive connection.
    pub header_timeout: Duration,
    /// A connection that moves no bytes for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are accepted and closed.
    pub max_connections: usize,
    /// How long shutdown waits for connections to finish.
    pub drain_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Descriptors kept free beside the client connections: the database pool (added to this), the
/// listener, the model store, SQLite's WAL and shared-memory files, logs.
const FD_HEADROOM: usize = 64;

/// The open-file limit the process runs under (the soft `RLIMIT_NOFILE`), when known.
pub fn open_file_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
            return None;
        }
        usize::try_from(lim.rlim_cur).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

impl ConnLimits {
    /// The limits from the flags. `--max-connections` is capped so that the connections, the
    /// database pool and the files cannot exhaust the open-file limit (which would stop the
    /// server answering even `/healthz`); the idle timeout is raised to the request timeout,
    /// so a slow handler is never cut for silence. The warnings say what was adjusted.
    pub fn from_cli(cli: &Cli, nofile: Option<usize>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let headroom = FD_HEADROOM + cli.pool_size as usize;
        let ceiling = nofile.map(|n| n.saturating_sub(headroom).max(1));
        let max_connections = match (cli.max_connections, ceiling) {
            (Some(n), Some(c)) if n > c => {
                warnings.push(format!(
                    "--max-connections {n} lowered to {c}: the open-file limit is {} and {headroom} \
                     descriptors are kept for the database and files (raise `ulimit -n` for more)",
                    nofile.unwrap_or(0)
                ));
                c
            }
            (Some(n), _) => n.max(1),
            (None, Some(c)) => c.min(tokio::sync::Semaphore::MAX_PERMITS),
            (None, None) => ConnLimits::default().max_connections,
        };
        let request_timeout = Duration::from_millis(cli.request_timeout_ms.max(1));
        let mut idle_timeout = cli.idle_timeout;
        if idle_timeout < request_timeout {
            warnings.push(format!(
                "--idle-timeout {}s raised to the request timeout ({}s)",
                idle_timeout.as_secs_f64(),
                request_timeout.as_secs_f64()
            ));
            idle_timeout = request_timeout;
        }
        let limits = ConnLimits {
            header_timeout: cli.header_timeout,
            idle_timeout,
            max_connections,
            drain_timeout: cli.drain_timeout,
        };
        (limits, warnings)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    tokens: Vec<String>,
    #[serde(default)]
    github_secret: Option<String>,
    #[serde(default)]
    gitlab_token: Option<String>,
}

/// A secret value: its `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A secret from text.
    pub fn new(s: &str) -> Self {
        Secret(s.as_bytes().to_vec())
    }
}

/// The server's settings, as the app uses them.
#[derive(Debug, Clone)]
pub struct Config {
    /// API tokens accepted in `X-IM-Token` (or `Authorization: Bearer`).
    pub tokens: Vec<Secret>,
    /// GitHub webhook secret (`X-Hub-Signature-256`); webhooks are refused without it.
    pub github_secret: Option<Secret>,
    /// GitLab webhook token (`X-Gitlab-Token`); webhooks are refused without it.
    pub gitlab_token: Option<Secret>,
    /// Database URL.
    pub db_url: String,
    /// Model store folder.
    pub model_dir: PathBuf,
    /// When a pipeline's model is trained again (the core's rule; `--retrain-every N` makes it
    /// [`RetrainPolicy::every`]).
    pub retrain: RetrainPolicy,
    /// Newest runs per pipeline kept in memory.
    pub history_window: u32,
    /// Freshness check interval of the /optimize cache.
    pub cache_ttl: Duration,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// SQLite durability.
    pub sqlite_sync: SqliteSync,
    /// Writer batch size.
    pub write_batch: usize,
    /// Pool size.
    pub pool_size: u32,
    /// Trees of each retrained forest.
    pub n_trees: usize,
    /// Model versions kept per pipeline (at least 1).
    pub keep_models: usize,
}

impl Config {
    /// Settings for tests and embedding: the given database and model folder, one token,
    /// defaults elsewhere.
    pub fn new(db_url: impl Into<String>, model_dir: impl Into<PathBuf>) -> Self {
        Config {
            tokens: Vec::new(),
            github_secret: None,
            gitlab_token: None,
            db_url: db_url.into(),
            model_dir: model_dir.into(),
            retrain: RetrainPolicy::default(),
            history_window: 1000,
            cache_ttl: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 1 << 20,
            sqlite_sync: SqliteSync::Full,
            write_batch: 512,
            pool_size: 8,
            n_trees: 100,
            keep_models: 10,
        }
    }

    /// Settings from the flags, the environment and the config file.
    pub fn from_cli(cli: &Cli) -> Result<Self, String> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut c = Config::new(normalize_db_url(&cli.db), cli.model_dir.clone());
        if let Some(n) = cli.retrain_every {
            c.retrain = RetrainPolicy::every(u64::from(n));
        }
        c.history_window = cli.history_window.max(1);
        c.keep_models = cli.keep_models.max(1);
        c.cache_ttl = Duration::from_millis(cli.cache_ttl_ms);
        c.request_timeout = Duration::from_millis(cli.request_timeout_ms.max(1));
        c.max_body_bytes = cli.max_body_bytes.max(1);
        c.sqlite_sync = cli.sqlite_synchronous;
        c.write_batch = cli.write_batch.max(1);
        c.pool_size = cli.pool_size.max(2);
        c.tokens = std::env::var("INFRAMIND_TOKEN")
            .ok()
            .map(|v| parse_tokens(&v))
            .unwrap_or_default();
        c.tokens.extend(
            file.tokens
                .iter()
                .filter(|t| !t.trim().is_empty())
                .map(|t| Secret::new(t.trim())),
        );
        c.github_secret = env_secret("INFRAMIND_GITHUB_SECRET")
            .or(file.github_secret.as_deref().map(Secret::new));
        c.gitlab_token =
            env_secret("INFRAMIND_GITLAB_TOKEN").or(file.gitlab_token.as_deref().map(Secret::new));
        Ok(c)
    }
}

/// The error when no API token is configured.
pub const NO_TOKEN: &str = "no API token: set INFRAMIND_TOKEN=token1,token2 or \"tokens\" in the \
     --config file (clients send it as X-IM-Token)";

/// Tokens from a comma-separated list; blanks are dropped.
pub fn parse_tokens(v: &str) -> Vec<Secret> {
    v.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .collect()
}

fn env_secret(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret::new(v.trim()))
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "config file {}: {e} (expected {{\"tokens\": [...], \"github_secret\": \"...\", \
             \"gitlab_token\": \"...\"}})",
            path.display()
        )
    })
}

/// A plain path becomes a SQLite URL that creates the file when missing.
pub fn normalize_db_url(db: &str) -> String {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return db.to_string();
    }
    if db == "sqlite::memory:" || db.starts_with("sqlite::memory:") {
        return db.to_string();
    }
    let rest = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    if rest.contains('?') {
        format!("sqlite://{rest}")
    } else {
        format!("sqlite://{rest}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_split_and_trimmed() {
        let t = parse_tokens(" a, b ,,c");
        assert_eq!(
            t,
            vec![Secret::new("a"), Secret::new("b"), Secret::new("c")]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    #[test]
    fn config_file_supplies_tokens_and_webhook_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("im.json");
        std::fs::write(
            &path,
            r#"{"tokens": ["from-file"], "github_secret": "gh", "gitlab_token": "gl"}"#,
        )
        .unwrap();
        let cli = Cli::parse_from(["inframind-server", "--config", path.to_str().unwrap()]);
        let c = Config::from_cli(&cli).unwrap();
        assert!(c.tokens.contains(&Secret::new("from-file")));
        assert_eq!(
            c.github_secret,
            Some(Secret::new("gh")).or(c.github_secret.clone())
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"tokenz": []}"#).unwrap();
        let cli = Cli::parse_from(["inframind-server", "--config", bad.to_str().unwrap()]);
        let err = Config::from_cli(&cli).unwrap_err();
        assert!(err.contains("tokenz"), "{err}");
    }

    #[test]
    fn retrain_every_is_a_fixed_counter_only_when_given() {
        let cli = Cli::parse_from(["inframind-server"]);
        assert_eq!(
            Config::from_cli(&cli).unwrap().retrain,
            RetrainPolicy::default()
        );
        let cli = Cli::parse_from(["inframind-server", "--retrain-every", "20"]);
        assert_eq!(
            Config::from_cli(&cli).unwrap().retrain,
            RetrainPolicy::every(20)
        );
    }

    #[test]
    fn connection_limits_stay_below_the_open_file_limit() {
        let cli = Cli::parse_from(["inframind-server"]);
        let (l, w) = ConnLimits::from_cli(&cli, Some(1024));
        assert_eq!(l.max_connections, 1024 - 64 - 8);
        assert_eq!(l.header_timeout, Duration::from_secs(10));
        assert_eq!(l.idle_timeout, Duration::from_secs(60));
        assert_eq!(l.drain_timeout, Duration::from_secs(10));
        assert!(w.is_empty(), "{w:?}");
        let cli = Cli::parse_from(["inframind-server", "--max-connections", "5000"]);
        let (l, w) = ConnLimits::from_cli(&cli, Some(1024));
        assert_eq!(l.max_connections, 952);
        assert!(w[0].contains("--max-connections 5000"), "{w:?}");
        let cli = Cli::parse_from([
            "inframind-server",
            "--max-connections",
            "20",
            "--header-timeout",
            "0.5",
            "--idle-timeout",
            "2",
        ]);
        let (l, w) = ConnLimits::from_cli(&cli, None);
        assert_eq!(l.max_connections, 20);
        assert_eq!(l.header_timeout, Duration::from_millis(500));
        assert_eq!(l.idle_timeout, Duration::from_secs(10));
        assert!(w[0].contains("--idle-timeout"), "{w:?}");
        for bad in ["0", "-1", "soon", "NaN"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn db_urls_are_normalized() {
        assert_eq!(normalize_db_url("x.db"), "sqlite://x.db?mode=rwc");
        assert_eq!(normalize_db_url("sqlite://x.db"), "sqlite://x.db?mode=rwc");
        assert_eq!(normalize_db_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(normalize_db_url("sqlite::memory:"), "sqlite::memory:");
    }
}
