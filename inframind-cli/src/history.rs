//! Reading a runs.jsonl history: one `BuildRun` per line, each checked by the core's rules.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use inframind_core::{BuildRun, Error};

use crate::failure::{Failure, Result};

/// A line that was skipped, and why.
#[derive(Debug, Clone)]
pub(crate) struct BadLine {
    /// 1-based line number.
    pub(crate) line: usize,
    /// The run's pipeline, when the line parsed far enough to name one.
    pub(crate) pipeline: Option<String>,
    /// `steps[2].duration_s = -3: must be ...`, or the JSON error.
    pub(crate) reason: String,
}

/// The runs of a history file, grouped by pipeline in file order.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub(crate) pipelines: BTreeMap<String, Vec<BuildRun>>,
    pub(crate) bad: Vec<BadLine>,
}

impl History {
    /// Reads `path`. A bad line stops the read with an error naming the file and the line,
    /// unless `skip_bad`, where it is recorded (and warned about by the caller).
    pub(crate) fn read(path: &Path, skip_bad: bool) -> Result<Self> {
        let file = File::open(path).map_err(|e| Failure::io("open", path, e))?;
        let mut history = History::default();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| Failure::io("read", path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok(run) => history
                    .pipelines
                    .entry(run.pipeline.clone())
                    .or_default()
                    .push(run),
                Err((pipeline, e)) => {
                    let reason = describe(&e);
                    if !skip_bad {
                        return Err(Failure {
                            kind: e.kind(),
                            message: format!("{}:{}: {reason}", path.display(), i + 1),
                        });
                    }
                    history.bad.push(BadLine {
                        line: i + 1,
                        pipeline,
                        reason,
                    });
                }
            }
        }
        Ok(history)
    }

    /// Skipped lines of one pipeline.
    pub(crate) fn bad_of<'a>(&'a self, pipeline: &'a str) -> impl Iterator<Item = &'a BadLine> {
        self.bad
            .iter()
            .filter(move |b| b.pipeline.as_deref() == Some(pipeline))
    }
}

/// Parses and validates one line; on failure, the pipeline it names (when it parsed).
fn parse_line(line: &str) -> std::result::Result<BuildRun, (Option<String>, Error)> {
    let run: BuildRun = serde_json::from_str(line).map_err(|source| {
        (
            None,
            Error::Json {
                what: "build run",
                source,
            },
        )
    })?;
    match run.validate() {
        Ok(()) => Ok(run),
        Err(e) => Err((Some(run.pipeline), e)),
    }
}

/// The core's field, value and reason without the `invalid` the library puts in front: the
/// command line already says where (`runs.jsonl:57:`).
fn describe(e: &Error) -> String {
    match e {
        Error::InvalidField {
            field,
            value,
            reason,
        } => format!("{field} = {value}: {reason}"),
        other => other.to_string(),
    }
}

/// Prints one warning per skipped line to standard error.
pub(crate) fn warn_skipped(path: &Path, bad: &[BadLine]) {
    for b in bad {
        eprintln!(
            "warning: {}:{}: {} (skipped)",
            path.display(),
            b.line,
            b.reason
        );
    }
}
