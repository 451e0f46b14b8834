//! CI failure log classification: which cause a failed build log shows, the evidence, and what
//! to do about it.
//!
//! Every line is cleaned (ANSI colour codes and GitHub Actions / Jenkins / GitLab timestamp
//! prefixes removed, progress-bar carriage returns split) and matched against one
//! [`regex::RegexSet`] of all patterns, compiled once. Each pattern hit adds its weight to its
//! category; repeats of one pattern add less and less (at most twice its weight), so two hundred
//! failing-test lines do not drown the one `No space left on device` that caused them. The
//! category with the highest score wins if it reaches [`Classifier::min_score`]; otherwise the
//! classifier declines with [`Category::Unknown`] rather than guess.
//!
//! Memory is bounded: [`Classifier::classify_reader`] reads one line at a time (lines longer
//! than [`MAX_LINE_BYTES`] are cut) and keeps only a few evidence lines per category.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use regex::{RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::healing::patterns::{self, PatternSpec, BUILTIN_PATTERNS};
use crate::telemetry::{BuildConfig, RunStatus};

/// Longest line examined; the rest of a longer line is skipped (minified JS, base64 blobs).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Longest evidence text kept per line.
const MAX_EVIDENCE_CHARS: usize = 400;
/// Evidence lines kept per category while scanning.
const EVIDENCE_PER_CATEGORY: usize = 8;
/// Evidence lines reported.
const EVIDENCE_REPORTED: usize = 5;

/// The cause a failed build log shows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Out of memory: the OOM killer, exit 137, `Killed (program cc1plus)`, heap exhausted.
    Oom,
    /// The disk or a quota is full.
    DiskFull,
    /// The machine running the job went away (runner lost, agent offline, pod evicted).
    InfraLost,
    /// The job hit a time limit.
    Timeout,
    /// DNS, connection, TLS or registry availability failures.
    Network,
    /// Access denied: file permissions, credentials, tokens.
    Permission,
    /// A dependency could not be resolved (version conflict, missing package).
    Dependency,
    /// The code does not compile or link.
    CompileError,
    /// Tests ran and failed.
    TestFailure,
    /// The log does not show the cause.
    #[default]
    Unknown,
}

impl Category {
    /// Every category, in tie-break order (causes before their usual consequences).
    pub const ALL: [Category; 10] = [
        Category::Oom,
        Category::DiskFull,
        Category::InfraLost,
        Category::Timeout,
        Category::Network,
        Category::Permission,
        Category::Dependency,
        Category::CompileError,
        Category::TestFailure,
        Category::Unknown,
    ];

    /// The snake_case name (`disk_full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Oom => "oom",
            Category::DiskFull => "disk_full",
            Category::InfraLost => "infra_lost",
            Category::Timeout => "timeout",
            Category::Network => "network",
            Category::Permission => "permission",
            Category::Dependency => "dependency",
            Category::CompileError => "compile_error",
            Category::TestFailure => "test_failure",
            Category::Unknown => "unknown",
        }
    }

    /// The status a run that failed for this reason should be recorded with: `oom_killed` for
    /// [`Category::Oom`] (so the optimizer raises the memory floor), `timeout` for
    /// [`Category::Timeout`], `failure` otherwise.
    pub fn run_status(self) -> RunStatus {
        match self {
            Category::Oom => RunStatus::OomKilled,
            Category::Timeout => RunStatus::Timeout,
            _ => RunStatus::Failure,
        }
    }

    /// 0 for environmental causes (oom, disk_full, infra_lost, timeout, network, permission),
    /// 1 for dependency failures, 2 for compile errors and test failures (and unknown).
    pub fn tier(self) -> u8 {
        match self {
            Category::Oom
            | Category::DiskFull
            | Category::InfraLost
            | Category::Timeout
            | Category::Network
            | Category::Permission => 0,
            Category::Dependency => 1,
            Category::CompileError | Category::TestFailure | Category::Unknown => 2,
        }
    }

    /// What to do by default about a failure of this category.
    pub fn default_remediation(self) -> Remediation {
        match self {
            Category::Oom => Remediation::ReduceConcurrency {
                mark_status: RunStatus::OomKilled,
                concurrency_factor: 0.5,
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::DiskFull => Remediation::CleanAndRetry {
                clean: vec![CleanTarget::Workspace, CleanTarget::BuildCache],
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::Network => Remediation::Retry {
                retry: RetryPolicy::default(),
                another_agent: false,
            },
            Category::InfraLost => Remediation::Retry {
                retry: RetryPolicy {
                    max_attempts: 2,
                    ..RetryPolicy::default()
                },
                another_agent: true,
            },
            Category::Timeout => Remediation::ExtendTimeout {
                timeout_factor: 1.5,
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
            },
            Category::Permission => Remediation::NoRetry {
                reason: "access was denied: fix the credentials, token scopes or file permissions; a retry would fail the same way".into(),
            },
            Category::Dependency => Remediation::NoRetry {
                reason: "a dependency cannot be resolved: fix or pin the version; a retry would fail the same way".into(),
            },
            Category::CompileError => Remediation::NoRetry {
                reason: "the code does not compile or link: a change is needed".into(),
            },
            Category::TestFailure => Remediation::NoRetry {
                reason: "tests failed: a change is needed (quarantine the test if it is known to be flaky)".into(),
            },
            Category::Unknown => Remediation::Escalate {
                reason: "the log does not show the cause; a person should look".into(),
            },
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the failed attempt.
    pub max_attempts: u32,
    /// Delay before the first retry, in seconds.
    pub initial_backoff_s: f64,
    /// Growth of the delay per retry.
    pub multiplier: f64,
    /// Upper bound of the delay, in seconds.
    pub max_backoff_s: f64,
    /// Jitter as a fraction of the delay (0.2 = up to 20% shorter or longer).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff_s: 10.0,
            multiplier: 2.0,
            max_backoff_s: 300.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based), or `None` past `max_attempts`.
    /// `unit_random` is a uniform random number in `[0, 1)` supplied by the host (the core keeps
    /// no global RNG); values outside are clamped.
    ///
    /// ```
    /// use inframind_core::healing::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert_eq!(p.delay(1, 0.5).unwrap().as_secs(), 10);
    /// assert_eq!(p.delay(2, 0.5).unwrap().as_secs(), 20);
    /// assert!(p.delay(4, 0.5).is_none());
    /// ```
    pub fn delay(&self, attempt: u32, unit_random: f64) -> Option<Duration> {
        if attempt == 0 || attempt > self.max_attempts {
            return None;
        }
        let r = if unit_random.is_finite() {
            unit_random.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let exp = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let base = (self.initial_backoff_s.max(0.0) * self.multiplier.max(1.0).powi(exp))
            .min(self.max_backoff_s.max(0.0));
        let jitter = self.jitter.clamp(0.0, 1.0);
        let secs = base * (1.0 + jitter * (2.0 * r - 1.0));
        if secs.is_finite() {
            Some(Duration::from_secs_f64(secs.clamp(0.0, 1.0e9)))
        } else {
            None
        }
    }
}

/// What to clean before retrying after a full disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanTarget {
    /// The job's workspace / checkout.
    Workspace,
    /// Build caches (ccache, Gradle, Cargo target, npm cache...).
    BuildCache,
    /// Unused container images and build layers (`docker system prune`).
    DockerImages,
    /// Temporary files.
    Temp,
}

/// What to do about a classified failure. Hosts act on it; the core decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Remediation {
    /// Record the run as `mark_status` (OOM-killed, so the optimizer raises the memory floor),
    /// lower the concurrency by `concurrency_factor`, then retry.
    ReduceConcurrency {
        /// Status to record the run with.
        mark_status: RunStatus,
        /// Multiply the concurrency by this (0 < f < 1); at least 1 job remains.
        concurrency_factor: f64,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Retry with backoff, on another agent when `another_agent`.
    Retry {
        /// Retry schedule.
        retry: RetryPolicy,
        /// Run the retry on a different agent / runner.
        another_agent: bool,
    },
    /// Clean, then retry.
    CleanAndRetry {
        /// What to clean.
        clean: Vec<CleanTarget>,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Retry once with a longer time limit.
    ExtendTimeout {
        /// Multiply the time limit by this.
        timeout_factor: f64,
        /// Retry schedule.
        retry: RetryPolicy,
    },
    /// Do not retry: a change is needed.
    NoRetry {
        /// Why a retry would not help.
        reason: String,
    },
    /// Nothing automatic: tell a person.
    Escalate {
        /// Why.
        reason: String,
    },
}

impl Remediation {
    /// Whether the remediation retries the build.
    pub fn retries(&self) -> bool {
        matches!(
            self,
            Remediation::ReduceConcurrency { .. }
                | Remediation::Retry { .. }
                | Remediation::CleanAndRetry { .. }
                | Remediation::ExtendTimeout { .. }
        )
    }

    /// The configuration to retry with: lower concurrency for [`Remediation::ReduceConcurrency`]
    /// (never below 1), unchanged otherwise.
    pub fn next_config(&self, current: &BuildConfig) -> BuildConfig {
        match self {
            Remediation::ReduceConcurrency {
                concurrency_factor, ..
            } => {
                let f = if concurrency_factor.is_finite() {
                    concurrency_factor.clamp(0.0, 1.0)
                } else {
                    0.5
                };
                let lowered = (f64::from(current.concurrency) * f).floor();
                let mut next = *current;
                // `as` saturates; the value is within [0, concurrency] anyway.
                next.concurrency = (lowered as u32).clamp(1, current.concurrency.max(1));
                if next.concurrency == current.concurrency && current.concurrency > 1 {
                    next.concurrency -= 1;
                }
                next
            }
            _ => *current,
        }
    }
}

/// One line that supports the classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based line number in the log.
    pub line: u64,
    /// The cleaned line (ANSI and timestamp removed), cut to 400 characters.
    pub text: String,
    /// Name of the pattern that matched.
    pub pattern: String,
    /// The pattern's category.
    pub category: Category,
    /// The pattern's weight.
    pub weight: f64,
}

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The cause, or `unknown`.
    pub category: Category,
    /// 0..1: the winner's share of all evidence, discounted when the evidence is thin.
    pub confidence: f64,
    /// The lines that point at the category (at most 5, in log order).
    pub evidence: Vec<Evidence>,
    /// What to do.
    pub remediation: Remediation,
}

impl Classification {
    /// The status the failed run should be recorded with (see [`Category::run_status`]).
    pub fn run_status(&self) -> RunStatus {
        self.category.run_status()
    }
}

/// The status a run classified as `c` should be recorded with.
pub fn run_status(c: &Classification) -> RunStatus {
    c.run_status()
}

/// A compiled pattern library.
#[derive(Debug, Clone)]
pub struct Classifier {
    specs: Vec<PatternSpec>,
    set: RegexSet,
    min_score: f64,
}

fn builtin_specs() -> Result<Vec<PatternSpec>> {
    patterns::parse_yaml(BUILTIN_PATTERNS, "built-in patterns")
}

/// Classifies a log with the built-in patterns (compiled once per process).
///
/// ```
/// use inframind_core::healing::{classify, Category};
/// let log = "\x1b[31m2024-05-01T10:00:00.123Z cc1plus: internal compiler error: Killed (program cc1plus)\x1b[0m\n\
///            make: *** [Makefile:12: all] Error 1\n";
/// let c = classify(log);
/// assert_eq!(c.category, Category::Oom);
/// assert_eq!(c.evidence[0].line, 1);
/// assert!(c.remediation.retries());
/// assert_eq!(classify("Process completed with exit code 1.").category, Category::Unknown);
/// ```
pub fn classify(log: &str) -> Classification {
    static BUILTIN: OnceLock<Option<Classifier>> = OnceLock::new();
    match BUILTIN.get_or_init(|| Classifier::builtin().ok()) {
        Some(c) => c.classify(log),
        // Unreachable unless the embedded library is broken, which a unit test rules out; decline
        // rather than panic.
        None => Classification {
            category: Category::Unknown,
            confidence: 0.0,
            evidence: Vec::new(),
            remediation: Category::Unknown.default_remediation(),
        },
    }
}

/// Default minimum score for a verdict.
pub const DEFAULT_MIN_SCORE: f64 = 3.0;

impl Classifier {
    /// The built-in pattern library.
    pub fn builtin() -> Result<Self> {
        Self::from_patterns(builtin_specs()?)
    }

    /// A classifier with exactly these patterns.
    pub fn from_patterns(specs: Vec<PatternSpec>) -> Result<Self> {
        for s in &specs {
            if !s.weight.is_finite() {
                return Err(Error::Pattern {
                    pattern: s.name.clone(),
                    reason: format!("weight {} must be a finite number", s.weight),
                });
            }
            if s.category == Category::Unknown {
                return Err(Error::Pattern {
                    pattern: s.name.clone(),
                    reason: "category `unknown` is what the classifier says when nothing matches; give a real category".into(),
                });
            }
            // Compile each alone first so the error names the bad pattern.
            regex::RegexBuilder::new(&s.pattern)
                .case_insensitive(!s.case_sensitive)
                .build()
                .map_err(|e| Error::Pattern {
                    pattern: s.name.clone(),
                    reason: format!("invalid regex: {e}"),
                })?;
        }
        let sources: Vec<String> = specs
            .iter()
            .map(|s| {
                if s.case_sensitive {
                    s.pattern.clone()
                } else {
                    format!("(?i:{})", s.pattern)
                }
            })
            .collect();
        let set = RegexSetBuilder::new(&sources)
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .map_err(|e| Error::Pattern {
                pattern: "(pattern set)".into(),
                reason: e.to_string(),
            })?;
        Ok(Classifier {
            specs,
            set,
            min_score: DEFAULT_MIN_SCORE,
        })
    }

    /// The built-in patterns plus the patterns of a YAML or JSON file (by extension: `.json` is
    /// JSON, anything else YAML).
    pub fn builtin_with_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let origin = path.display().to_string();
        let extra = if path.extension().and_then(|e| e.to_str()) == Some("json") {
            patterns::parse_json(&text, &origin)?
        } else {
            patterns::parse_yaml(&text, &origin)?
        };
        let mut specs = builtin_specs()?;
        specs.extend(extra);
        Self::from_patterns(specs)
    }

    /// The built-in patterns plus patterns from YAML text.
    pub fn builtin_with_yaml(text: &str) -> Result<Self> {
        let mut specs = builtin_specs()?;
        specs.extend(patterns::parse_yaml(text, "user patterns")?);
        Self::from_patterns(specs)
    }

    /// Sets the minimum score for a verdict (default 3: one clear signal).
    pub fn with_min_score(mut self, min_score: f64) -> Self {
        if min_score.is_finite() {
            self.min_score = min_score.max(0.0);
        }
        self
    }

    /// The patterns, in file order.
    pub fn patterns(&self) -> &[PatternSpec] {
        &self.specs
    }

    /// The minimum score for a verdict.
    pub fn min_score(&self) -> f64 {
        self.min_score
    }

    /// Classifies a whole log held in memory.
    pub fn classify(&self, log: &str) -> Classification {
        let mut acc = Accumulator::new(self.specs.len());
        for (i, line) in log.split('\n').enumerate() {
            let line = cut(line);
            self.feed(line, i as u64 + 1, &mut acc);
        }
        self.finish(acc)
    }

    /// Classifies a log read line by line; memory stays bounded whatever the log's size.
    /// Invalid UTF-8 is replaced, overlong lines are cut at [`MAX_LINE_BYTES`].
    pub fn classify_reader<R: BufRead>(&self, mut reader: R) -> io::Result<Classification> {
        let mut acc = Accumulator::new(self.specs.len());
        // Only a line that straddles two reads of the buffer is copied, into `pending`.
        let mut pending: Vec<u8> = Vec::new();
        let mut has_pending = false;
        let mut line_no = 0u64;
        loop {
            let available = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let len = available.len();
            let mut start = 0;
            while let Some(pos) = memchr::memchr(b'\n', &available[start..]) {
                let line = &available[start..start + pos];
                line_no += 1;
                if has_pending {
                    push_bounded(&mut pending, line);
                    self.feed_bytes(&pending, line_no, &mut acc);
                    pending.clear();
                    has_pending = false;
                } else {
                    self.feed_bytes(line, line_no, &mut acc);
                }
                start += pos + 1;
            }
            if start < len {
                push_bounded(&mut pending, &available[start..]);
                has_pending = true;
            }
            reader.consume(len);
        }
        if has_pending {
            line_no += 1;
            self.feed_bytes(&pending, line_no, &mut acc);
        }
        Ok(self.finish(acc))
    }

    fn feed_bytes(&self, line: &[u8], line_no: u64, acc: &mut Accumulator) {
        let line = cut_bytes(line);
        match std::str::from_utf8(line) {
            Ok(text) => self.feed(text, line_no, acc),
            Err(_) => self.feed(&String::from_utf8_lossy(line), line_no, acc),
        }
    }

    fn feed(&self, raw: &str, line_no: u64, acc: &mut Accumulator) {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // Progress bars redraw with '\r': each segment is what was once on screen.
        for segment in raw.split('\r') {
            let cleaned = clean_line(segment);
            let text: &str = &cleaned;
            if text.is_empty() || !self.set.is_match(text) {
                continue;
            }
            for idx in self.set.matches(text).iter() {
                acc.hit(idx, &self.specs[idx], line_no, text);
            }
        }
    }

    fn finish(&self, acc: Accumulator) -> Classification {
        let mut scores: BTreeMap<Category, f64> = BTreeMap::new();
        for (idx, &hits) in acc.hits.iter().enumerate() {
            if hits == 0 {
                continue;
            }
            let spec = &self.specs[idx];
            // 1 hit: w, 2: 1.5w, 3: 1.75w ... bounded by 2w.
            let factor = 2.0 * (1.0 - 0.5f64.powi(hits.min(64) as i32));
            *scores.entry(spec.category).or_insert(0.0) += spec.weight * factor;
        }
        let best = pick(&scores, self.min_score);
        let positive_total: f64 = match best {
            Some((winner, _)) => scores
                .iter()
                .filter(|(c, s)| **s > 0.0 && c.tier() <= winner.tier())
                .map(|(_, s)| *s)
                .sum(),
            None => 0.0,
        };
        match best {
            Some((category, score)) => {
                let share = score / positive_total.max(score);
                let strength = score / (score + 2.0);
                let confidence = (share * strength * 1000.0).round() / 1000.0;
                let mut evidence: Vec<Evidence> = acc
                    .evidence
                    .into_iter()
                    .filter(|e| e.category == category && e.weight > 0.0)
                    .collect();
                // Strongest first to pick, then report in log order.
                evidence.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.line.cmp(&b.line)));
                evidence.truncate(EVIDENCE_REPORTED);
                evidence.sort_by_key(|e| e.line);
                let remediation = self
                    .winning_remediation(category, &evidence)
                    .unwrap_or_else(|| category.default_remediation());
                Classification {
                    category,
                    confidence,
                    evidence,
                    remediation,
                }
            }
            _ => Classification {
                category: Category::Unknown,
                confidence: 0.0,
                evidence: Vec::new(),
                remediation: Category::Unknown.default_remediation(),
            },
        }
    }

    /// The remediation of the strongest evidence's pattern, if it overrides the category's.
    fn winning_remediation(
        &self,
        category: Category,
        evidence: &[Evidence],
    ) -> Option<Remediation> {
        let strongest = evidence
            .iter()
            .max_by(|a, b| a.weight.total_cmp(&b.weight))?;
        self.specs
            .iter()
            .find(|s| s.name == strongest.pattern && s.category == category)
            .and_then(|s| s.remediation.clone())
    }
}

/// Score from which an environmental cause (tier 0) or a dependency failure (tier 1) wins over
/// the compile errors and test failures it usually provokes, whatever their score.
pub const STRONG_CAUSE_SCORE: f64 = 6.0;

/// The winning category: the best strong cause of the lowest tier, else the best overall.
fn pick(scores: &BTreeMap<Category, f64>, min_score: f64) -> Option<(Category, f64)> {
    let best_of = |filter: &dyn Fn(Category) -> bool| {
        let mut best: Option<(Category, f64)> = None;
        for c in Category::ALL {
            if !filter(c) {
                continue;
            }
            if let Some(&s) = scores.get(&c) {
                if best.is_none_or(|(_, b)| s > b) {
                    best = Some((c, s));
                }
            }
        }
        best
    };
    for tier in 0..2 {
        if let Some((c, s)) = best_of(&|c: Category| c.tier() == tier) {
            if s >= STRONG_CAUSE_SCORE.max(min_score) {
                return Some((c, s));
            }
        }
    }
    best_of(&|_| true).filter(|(_, s)| *s >= min_score && *s > 0.0)
}

struct Accumulator {
    hits: Vec<u32>,
    evidence: Vec<Evidence>,
    per_category: BTreeMap<Category, usize>,
}

impl Accumulator {
    fn new(n: usize) -> Self {
        Accumulator {
            hits: vec![0; n],
            evidence: Vec::new(),
            per_category: BTreeMap::new(),
        }
    }

    fn hit(&mut self, idx: usize, spec: &PatternSpec, line: u64, text: &str) {
        self.hits[idx] = self.hits[idx].saturating_add(1);
        if spec.weight <= 0.0 {
            return;
        }
        // One evidence entry per line and category.
        if self
            .evidence
            .last()
            .is_some_and(|e| e.line == line && e.category == spec.category)
        {
            return;
        }
        let kept = self.per_category.entry(spec.category).or_insert(0);
        let ev = Evidence {
            line,
            text: text.chars().take(MAX_EVIDENCE_CHARS).collect(),
            pattern: spec.name.clone(),
            category: spec.category,
            weight: spec.weight,
        };
        if *kept < EVIDENCE_PER_CATEGORY {
            *kept += 1;
            self.evidence.push(ev);
        } else if let Some(pos) = self
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.category == spec.category)
            .min_by(|a, b| a.1.weight.total_cmp(&b.1.weight))
            .map(|(i, _)| i)
        {
            // Keep the strongest lines: replace the weakest if this one is stronger.
            if self.evidence[pos].weight < spec.weight {
                self.evidence[pos] = ev;
            }
        }
    }
}

/// Appends to a pending partial line, keeping at most [`MAX_LINE_BYTES`] of it.
fn push_bounded(pending: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(pending.len());
    pending.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Cuts a line of bytes to [`MAX_LINE_BYTES`], backing off to a UTF-8 character boundary so the
/// streaming path sees the same text as [`Classifier::classify`].
fn cut_bytes(line: &[u8]) -> &[u8] {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while end > 0 && (line[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &line[..end]
}

/// Cuts a line to [`MAX_LINE_BYTES`] at a character boundary.
fn cut(line: &str) -> &str {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Removes ANSI escape sequences and a leading timestamp.
pub(crate) fn clean_line(line: &str) -> Cow<'_, str> {
    let stripped: Cow<'_, str> = if line.contains('\x1b') {
        Cow::Owned(strip_ansi(line))
    } else {
        Cow::Borrowed(line)
    };
    let start = timestamp_prefix_len(&stripped);
    if start == 0 {
        stripped
    } else {
        match stripped {
            Cow::Borrowed(s) => Cow::Borrowed(&s[start..]),
            Cow::Owned(s) => Cow::Owned(s[start..].to_string()),
        }
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                // CSI: parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                // OSC: until BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

/// Length of a leading timestamp such as `2024-05-01T10:00:00.1234567Z `, `[2024-05-01T10:00:00.123Z] `,
/// `[10:00:00] `, `10:00:00.123 ` or `2024-05-01 10:00:00,123 `.
fn timestamp_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let bracket = b.first() == Some(&b'[');
    if bracket {
        i = 1;
    }
    let digits =
        |i: usize, n: usize| b.len() >= i + n && b[i..i + n].iter().all(u8::is_ascii_digit);
    let start = i;
    // Optional date YYYY-MM-DD followed by 'T' or ' '.
    if digits(i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(i + 8, 2)
    {
        i += 10;
        match b.get(i) {
            Some(b'T') | Some(b' ') => i += 1,
            _ => return 0,
        }
    }
    // Time HH:MM:SS.
    if !(digits(i, 2)
        && b.get(i + 2) == Some(&b':')
        && digits(i + 3, 2)
        && b.get(i + 5) == Some(&b':')
        && digits(i + 6, 2))
    {
        return 0;
    }
    i += 8;
    // Fraction.
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    // Zone.
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(b'+') | Some(b'-') if digits(i + 1, 2) => {
            i += 3;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => {}
    }
    if bracket {
        if b.get(i) != Some(&b']') {
            return 0;
        }
        i += 1;
    }
    if i == start {
        return 0;
    }
    // The timestamp must be followed by whitespace or the end of the line.
    match b.get(i) {
        None => i,
        Some(b' ') | Some(b'\t') => {
            while matches!(b.get(i), Some(b' ') | Some(b'\t')) {
                i += 1;
            }
            i
        }
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_library_compiles() {
        let c = Classifier::builtin().unwrap();
        assert!(c.patterns().len() > 50);
        let names: std::collections::HashSet<&str> =
            c.patterns().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), c.patterns().len(), "pattern names are unique");
    }

    #[test]
    fn strips_ansi_and_timestamps() {
        assert_eq!(
            clean_line("2024-01-15T10:23:45.1234567Z \x1b[1;31merror\x1b[0m: boom"),
            "error: boom"
        );
        assert_eq!(
            clean_line("[2024-01-15T10:23:45.123Z] npm ERR! x"),
            "npm ERR! x"
        );
        assert_eq!(clean_line("[10:23:45] x"), "x");
        assert_eq!(clean_line("10:23:45.120 x"), "x");
        assert_eq!(clean_line("2024-01-15 10:23:45,123 ERROR x"), "ERROR x");
        assert_eq!(clean_line("2024-01-15T10:23:45+02:00 x"), "x");
        assert_eq!(clean_line("\x1b]8;;http://x\x07link\x1b]8;;\x07"), "link");
        // Not timestamps.
        assert_eq!(clean_line("12:30:00abc"), "12:30:00abc");
        assert_eq!(
            clean_line("src/main.c:12:5: error: x"),
            "src/main.c:12:5: error: x"
        );
    }

    #[test]
    fn streaming_reader_cuts_long_lines_and_joins_split_ones() {
        let c = Classifier::builtin().unwrap();
        // The cause sits beyond the cut of a long line: not seen (bounded memory).
        let long = "a".repeat(100_000) + " No space left on device\nshort\n";
        let r = c
            .classify_reader(io::BufReader::with_capacity(1024, long.as_bytes()))
            .unwrap();
        assert_eq!(r.category, Category::Unknown);
        // A line split over many tiny reads is seen whole, with the right line number.
        let text = "ok\nwrite failed: No space left on device\nnext";
        let r = c
            .classify_reader(io::BufReader::with_capacity(3, text.as_bytes()))
            .unwrap();
        assert_eq!(r.category, Category::DiskFull);
        assert_eq!(r.evidence[0].line, 2);
        // A multi-byte character at the cut does not change the text between both paths.
        let mut edge = "x".repeat(MAX_LINE_BYTES - 1);
        edge.push('é');
        edge.push_str(" tail\n");
        let streamed = c
            .classify_reader(io::BufReader::with_capacity(100, edge.as_bytes()))
            .unwrap();
        assert_eq!(streamed, c.classify(&edge));
    }

    #[test]
    fn declines_without_evidence() {
        let c = classify("Run make\nmake: *** [Makefile:3: all] Error 2\nError: Process completed with exit code 2.\n");
        assert_eq!(c.category, Category::Unknown);
        assert_eq!(c.confidence, 0.0);
        assert!(matches!(c.remediation, Remediation::Escalate { .. }));
    }

    #[test]
    fn cause_beats_consequences() {
        let mut log = String::new();
        for i in 0..200 {
            log.push_str(&format!(
                "FAILED tests/test_io.py::test_write_{i} - OSError\n"
            ));
        }
        log.push_str("OSError: [Errno 28] No space left on device: '/tmp/x'\n");
        log.push_str("==== 200 failed, 3 passed in 12.3s ====\n");
        let c = classify(&log);
        assert_eq!(c.category, Category::DiskFull, "{c:?}");
        assert!(matches!(c.remediation, Remediation::CleanAndRetry { .. }));
    }

    #[test]
    fn oom_connects_to_the_optimizer() {
        let c = classify("g++: fatal error: Killed signal terminated program cc1plus\n");
        assert_eq!(c.category, Category::Oom);
        assert_eq!(run_status(&c), RunStatus::OomKilled);
        let cfg = BuildConfig {
            concurrency: 8,
            cpu_cores: 8.0,
            memory_bytes: 8 << 30,
        };
        assert_eq!(c.remediation.next_config(&cfg).concurrency, 4);
        let one = BuildConfig {
            concurrency: 1,
            ..cfg
        };
        assert_eq!(c.remediation.next_config(&one).concurrency, 1);
        let three = BuildConfig {
            concurrency: 3,
            ..cfg
        };
        assert_eq!(c.remediation.next_config(&three).concurrency, 1);
    }

    #[test]
    fn user_patterns_extend_and_override() {
        let c = Classifier::builtin_with_yaml(
            r#"
- name: corp-artifactory-5xx
  category: network
  weight: 6
  pattern: 'artifactory\.corp\.example: 50[234]'
  remediation: {action: retry, another_agent: false, retry: {max_attempts: 5, initial_backoff_s: 30}}
"#,
        )
        .unwrap();
        let r = c.classify("fetch failed: artifactory.corp.example: 503\n");
        assert_eq!(r.category, Category::Network);
        match r.remediation {
            Remediation::Retry { retry, .. } => assert_eq!(retry.max_attempts, 5),
            other => panic!("{other:?}"),
        }
        assert!(Classifier::builtin_with_yaml(
            "- {name: x, category: oom, weight: 1, pattern: '('}"
        )
        .is_err());
        assert!(Classifier::builtin_with_yaml(
            "- {name: x, category: nope, weight: 1, pattern: 'a'}"
        )
        .is_err());
    }

    #[test]
    fn retry_backoff_grows_with_jitter_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        for attempt in 1..=10 {
            let lo = p.delay(attempt, 0.0).unwrap().as_secs_f64();
            let hi = p.delay(attempt, 1.0).unwrap().as_secs_f64();
            let base = (10.0 * 2f64.powi(attempt as i32 - 1)).min(300.0);
            assert!((lo - base * 0.8).abs() < 1e-6 && (hi - base * 1.2).abs() < 1e-6);
        }
        assert!(p.delay(0, 0.5).is_none());
        assert!(p.delay(1, f64::NAN).is_some());
    }
}
