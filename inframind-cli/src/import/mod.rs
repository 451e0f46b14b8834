//! `inframind import`: CI providers' job listings turned into a runs.jsonl history.

mod catalogue;
mod github;

use std::collections::{BTreeMap, BTreeSet};

use inframind_core::BuildRun;

use crate::cli::{ImportCommand, ImportGithubArgs};
use crate::failure::{Failure, Result};
use catalogue::Catalogue;
use github::Skip;

pub(crate) fn run(command: &ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Github(args) => import_github(args),
    }
}

fn import_github(args: &ImportGithubArgs) -> Result<()> {
    let catalogue = Catalogue::github(args.catalogue.as_deref())?;
    let mut runs: Vec<BuildRun> = Vec::new();
    let mut skipped: Vec<Skip> = Vec::new();
    let mut jobs = 0;
    let mut seen = BTreeSet::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path).map_err(|e| Failure::io("read", path, e))?;
        let (file_runs, file_skipped) = github::convert(path, &text, &catalogue, &args.tool)?;
        jobs += file_runs.len() + file_skipped.len();
        skipped.extend(file_skipped);
        for run in file_runs {
            if seen.insert(run.run_id.clone()) {
                runs.push(run);
            } else {
                skipped.push(Skip::Duplicate);
            }
        }
    }
    // A history is oldest first, whatever order the files came in.
    runs.sort_by(|a, b| {
        a.started_at
            .unwrap_or(0.0)
            .total_cmp(&b.started_at.unwrap_or(0.0))
            .then_with(|| a.run_id.cmp(&b.run_id))
    });
    let mut out = String::new();
    for run in &runs {
        let line = serde_json::to_string(run)
            .map_err(|e| Failure::input(format!("cannot render run {}: {e}", run.run_id)))?;
        out.push_str(&line);
        out.push('\n');
    }
    match &args.output {
        Some(path) => std::fs::write(path, out).map_err(|e| Failure::io("write", path, e))?,
        None => crate::output::print(&out)?,
    }
    eprint!("{}", summary(&runs, jobs, args.files.len(), &skipped));
    Ok(())
}

/// `imported 3 runs (2 pipelines) from 4 jobs in 2 files`, then one line per reason to skip.
fn summary(runs: &[BuildRun], jobs: usize, files: usize, skipped: &[Skip]) -> String {
    let pipelines: BTreeSet<&str> = runs.iter().map(|r| r.pipeline.as_str()).collect();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "imported {} ({}) from {} in {}\n",
        plural(runs.len(), "run"),
        plural(pipelines.len(), "pipeline"),
        plural(jobs, "job"),
        plural(files, "file"),
    );
    let mut reasons: BTreeMap<&Skip, usize> = BTreeMap::new();
    for s in skipped {
        *reasons.entry(s).or_default() += 1;
    }
    for (reason, n) in reasons {
        out.push_str(&format!("skipped {}: {reason}\n", plural(n, "job")));
    }
    out
}
