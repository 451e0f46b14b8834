//! GitHub Actions "list jobs for a workflow run" responses turned into build runs.
//!
//! A job is a run: pipeline `WORKFLOW/JOB`, run id `github-RUN_ID-JOB_ID`, status from the
//! job's `conclusion`, one step per step, and the config of its runner from the catalogue.

use std::collections::BTreeMap;
use std::path::Path;

use inframind_core::{BuildRun, BuildStep, Error, RunStatus};
use jiff::Timestamp;
use serde::Deserialize;

use super::catalogue::Catalogue;
use crate::failure::{Failure, Result};

#[derive(Debug, Deserialize)]
struct JobList {
    jobs: Vec<Job>,
}

#[derive(Debug, Deserialize)]
struct Job {
    id: u64,
    run_id: u64,
    name: String,
    #[serde(default)]
    workflow_name: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
    /// `runs-on` labels; API version 2026-03-10 calls them `label_filters`.
    #[serde(default, alias = "label_filters")]
    labels: Vec<String>,
    #[serde(default)]
    runner_name: Option<String>,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Step {
    name: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
}

/// Why a job did not become a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Skip {
    /// Queued or still running.
    NotCompleted,
    /// `conclusion: skipped`: it never ran.
    NeverRan,
    /// No catalogue entry for any of these labels, so no config (which a run requires).
    NoCatalogueEntry(Vec<String>),
    /// Another file held the same job.
    Duplicate,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotCompleted => f.write_str("not completed"),
            Skip::NeverRan => f.write_str("skipped by GitHub (never ran)"),
            Skip::NoCatalogueEntry(labels) => write!(
                f,
                "no catalogue entry for runs-on labels [{}] (add one with --catalogue)",
                labels.join(", ")
            ),
            Skip::Duplicate => f.write_str("duplicate job"),
        }
    }
}

/// The job's outcome as a run status. `skipped` never reaches here (it never ran); the other
/// conclusions that mean "did not finish on its own" count as cancelled, as the server's
/// webhook does.
fn status(conclusion: Option<&str>) -> RunStatus {
    RunStatus::from_github_conclusion(conclusion)
}

/// The runs of one response, and the jobs skipped with why.
pub(crate) fn convert(
    path: &Path,
    text: &str,
    catalogue: &Catalogue,
    tool: &str,
) -> Result<(Vec<BuildRun>, Vec<Skip>)> {
    let list: JobList = serde_json::from_str(text).map_err(|source| {
        Failure::from(Error::Json {
            what: "GitHub jobs list",
            source,
        })
        .context(path.display())
    })?;
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for (i, job) in list.jobs.iter().enumerate() {
        let at = |field: &str| format!("{}: jobs[{i}].{field}", path.display());
        match job_to_run(job, catalogue, tool, &at)? {
            Ok(run) => runs.push(run),
            Err(skip) => skipped.push(skip),
        }
    }
    Ok((runs, skipped))
}

fn job_to_run(
    job: &Job,
    catalogue: &Catalogue,
    tool: &str,
    at: &dyn Fn(&str) -> String,
) -> Result<std::result::Result<BuildRun, Skip>> {
    if job.status.as_deref().is_some_and(|s| s != "completed") || job.conclusion.is_none() {
        return Ok(Err(Skip::NotCompleted));
    }
    if job.conclusion.as_deref() == Some("skipped") {
        return Ok(Err(Skip::NeverRan));
    }
    let Some(config) = catalogue.lookup(&job.labels) else {
        return Ok(Err(Skip::NoCatalogueEntry(job.labels.clone())));
    };
    let started = timestamp(job.started_at.as_deref(), &at("started_at"))?;
    let completed = timestamp(job.completed_at.as_deref(), &at("completed_at"))?;
    let duration_s = seconds_between(started, completed);
    if duration_s < 0.0 {
        return Err(Failure::input(format!(
            "{}: completed before it started ({duration_s}s)",
            at("completed_at")
        )));
    }
    let mut steps = Vec::with_capacity(job.steps.len());
    for (n, s) in job.steps.iter().enumerate() {
        let field = |f: &str| at(&format!("steps[{n}].{f}"));
        let d = match (s.started_at.as_deref(), s.completed_at.as_deref()) {
            (Some(a), Some(b)) => seconds_between(
                timestamp(Some(a), &field("started_at"))?,
                timestamp(Some(b), &field("completed_at"))?,
            ),
            // A step that never started took no time.
            _ => 0.0,
        };
        // Step clocks round to the second and may pass the job's end; the core refuses a step
        // longer than its run.
        let mut step = BuildStep::new(s.name.clone(), d.clamp(0.0, duration_s));
        step.status = status(s.conclusion.as_deref());
        steps.push(step);
    }
    let pipeline = match &job.workflow_name {
        Some(w) => format!("{w}/{}", job.name),
        None => job.name.clone(),
    };
    let mut labels = BTreeMap::new();
    if let Some(b) = &job.head_branch {
        labels.insert("branch".into(), b.clone());
    }
    labels.insert("github_run_id".into(), job.run_id.to_string());
    if let Some(r) = &job.runner_name {
        labels.insert("runner".into(), r.clone());
    }
    let run = BuildRun {
        run_id: format!("github-{}-{}", job.run_id, job.id),
        pipeline,
        tool: tool.to_owned(),
        status: status(job.conclusion.as_deref()),
        duration_s,
        config,
        steps,
        max_rss_bytes: None,
        started_at: Some(started.as_millisecond() as f64 / 1000.0),
        labels,
    };
    run.validate()
        .map_err(|e| Failure::from(e).context(at("").trim_end_matches('.')))?;
    Ok(Ok(run))
}

/// An RFC 3339 time with any UTC offset (`2020-01-20T17:42:40Z`, `...09:42:40.000-08:00`).
fn timestamp(text: Option<&str>, field: &str) -> Result<Timestamp> {
    let text =
        text.ok_or_else(|| Failure::input(format!("{field}: missing on a completed job")))?;
    text.parse().map_err(|e| {
        Failure::input(format!(
            "{field} = {text:?}: not an RFC 3339 time with a UTC offset ({e})"
        ))
    })
}

fn seconds_between(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_as_the_same_instant() {
        let a = timestamp(Some("2020-01-20T17:42:40Z"), "x").unwrap();
        let b = timestamp(Some("2020-01-20T09:42:40.000-08:00"), "x").unwrap();
        assert_eq!(a, b);
        let e = timestamp(Some("2020-01-20 17:42"), "f").unwrap_err();
        assert!(
            e.message
                .starts_with("f = \"2020-01-20 17:42\": not an RFC 3339"),
            "{}",
            e.message
        );
    }

    #[test]
    fn conclusions_map_to_statuses() {
        assert_eq!(status(Some("success")), RunStatus::Success);
        assert_eq!(status(Some("failure")), RunStatus::Failure);
        assert_eq!(status(Some("cancelled")), RunStatus::Cancelled);
        assert_eq!(status(Some("timed_out")), RunStatus::Timeout);
        assert_eq!(status(None), RunStatus::Failure);
    }
}
