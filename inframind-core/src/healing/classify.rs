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
//!
//! [`MAX_LINE_BYTES`]: crate::healing::MAX_LINE_BYTES

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::path::Path;
use std::sync::OnceLock;

use regex::{RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::healing::category::Category;
use crate::healing::log_text;
use crate::healing::patterns::{self, PatternSpec, BUILTIN_PATTERNS};
use crate::healing::remediation::Remediation;
use crate::telemetry::RunStatus;

/// Longest evidence text kept per line.
const MAX_EVIDENCE_CHARS: usize = 400;
/// Evidence lines kept per category while scanning.
const EVIDENCE_PER_CATEGORY: usize = 8;
/// Evidence lines reported.
const EVIDENCE_REPORTED: usize = 5;

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
        // Unreachable unless the embedded library is broken, which a test in
        // `tests/healing_classify.rs` rules out; decline rather than panic.
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
        for (line_no, line) in log_text::lines(log) {
            self.feed(line, line_no, &mut acc);
        }
        self.finish(acc)
    }

    /// Classifies a log read line by line; memory stays bounded whatever the log's size.
    /// Invalid UTF-8 is replaced, overlong lines are cut at
    /// [`MAX_LINE_BYTES`](crate::healing::MAX_LINE_BYTES).
    pub fn classify_reader<R: BufRead>(&self, reader: R) -> io::Result<Classification> {
        let mut acc = Accumulator::new(self.specs.len());
        log_text::read_lines(reader, |line_no, line| self.feed(line, line_no, &mut acc))?;
        Ok(self.finish(acc))
    }

    fn feed(&self, raw: &str, line_no: u64, acc: &mut Accumulator) {
        for cleaned in log_text::screens(raw) {
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
