//! `inframind train`: one duration model per pipeline, trained in parallel, into a store.

use std::time::Instant;

use inframind_core::{BuildRun, DurationModel, ModelStore, RandomForestParams};
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::{Format, TrainArgs};
use crate::failure::{Failure, Result};
use crate::history::{warn_skipped, History};
use crate::output::{self, Table};

/// What happened to one pipeline.
#[derive(Debug, Serialize)]
struct Trained {
    pipeline: String,
    /// Runs of the pipeline in the history (valid lines).
    runs: usize,
    /// Training rows: the successful runs.
    runs_used: usize,
    /// Lines of this pipeline skipped as invalid (`--skip-bad`).
    runs_skipped: usize,
    /// Why each was skipped: `LINE: reason`.
    skipped: Vec<String>,
    /// Store version written, when trained.
    version: Option<u32>,
    oob_r2: Option<f64>,
    /// The most important features, highest first, with their share.
    top_features: Vec<Feature>,
    seconds: f64,
    /// Why no model was trained.
    error: Option<String>,
    #[serde(skip)]
    failure: Option<Failure>,
}

#[derive(Debug, Serialize)]
struct Feature {
    name: String,
    importance: f64,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    history: String,
    store: String,
    pipelines: &'a [Trained],
    /// Invalid lines whose pipeline is unknown (the JSON did not parse).
    unattributed_skipped: Vec<String>,
}

pub(crate) fn run(args: &TrainArgs) -> Result<()> {
    let history = History::read(&args.history.history, args.history.skip_bad)?;
    warn_skipped(&args.history.history, &history.bad);
    let store = ModelStore::open(&args.store)?;
    let params = RandomForestParams::new().n_trees(args.trees);
    let selected: Vec<(&String, &Vec<BuildRun>)> = match &args.pipeline {
        Some(p) => {
            let runs = history.pipelines.get_key_value(p).ok_or_else(|| {
                Failure::input(format!(
                    "pipeline {p:?} has no valid run in {}",
                    args.history.history.display()
                ))
            })?;
            vec![runs]
        }
        None => history.pipelines.iter().collect(),
    };
    if selected.is_empty() {
        return Err(Failure::input(format!(
            "{} holds no valid run",
            args.history.history.display()
        )));
    }
    // Pipelines are independent: train them side by side (each forest also grows its trees
    // on the same rayon pool).
    let results: Vec<Trained> = selected
        .par_iter()
        .map(|(pipeline, runs)| train_one(&store, pipeline, runs, &history, params.clone()))
        .collect();
    let report = Report {
        history: args.history.history.display().to_string(),
        store: args.store.display().to_string(),
        pipelines: &results,
        unattributed_skipped: history
            .bad
            .iter()
            .filter(|b| b.pipeline.is_none())
            .map(|b| format!("{}: {}", b.line, b.reason))
            .collect(),
    };
    let text = match args.format {
        Format::Json => output::json(&report)?,
        Format::Text => table(&results).to_text(output::stdout_styled()) + &footnotes(&report),
        Format::Csv => table(&results).to_csv(),
    };
    output::print(&text)?;
    // A few pipelines with too little history do not fail the command; nothing trained does.
    if results.iter().all(|r| r.version.is_none()) {
        if let Some(f) = results.into_iter().find_map(|r| r.failure) {
            return Err(f.context("no model trained"));
        }
    }
    Ok(())
}

fn train_one(
    store: &ModelStore,
    pipeline: &str,
    runs: &[BuildRun],
    history: &History,
    params: RandomForestParams,
) -> Trained {
    let started = Instant::now();
    let skipped: Vec<String> = history
        .bad_of(pipeline)
        .map(|b| format!("{}: {}", b.line, b.reason))
        .collect();
    let mut t = Trained {
        pipeline: pipeline.to_owned(),
        runs: runs.len(),
        runs_used: runs.iter().filter(|r| r.status.is_success()).count(),
        runs_skipped: skipped.len(),
        skipped,
        version: None,
        oob_r2: None,
        top_features: Vec::new(),
        seconds: 0.0,
        error: None,
        failure: None,
    };
    let outcome = DurationModel::train(runs, params)
        .and_then(|model| store.save(pipeline, &model).map(|v| (v, model)));
    match outcome {
        Ok((version, model)) => {
            t.version = Some(version);
            t.runs_used = model.metadata().n_samples;
            t.oob_r2 = model.oob_score();
            t.top_features = top_features(&model, 3);
        }
        Err(e) => {
            t.error = Some(e.to_string());
            t.failure = Some(e.into());
        }
    }
    t.seconds = started.elapsed().as_secs_f64();
    t
}

fn top_features(model: &DurationModel, n: usize) -> Vec<Feature> {
    let mut all: Vec<Feature> = model
        .feature_names()
        .iter()
        .zip(model.feature_importances())
        .map(|(name, &importance)| Feature {
            name: name.clone(),
            importance,
        })
        .collect();
    all.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    all.truncate(n);
    all
}

fn table(results: &[Trained]) -> Table {
    let mut t = Table::new(vec![
        "PIPELINE",
        "RUNS",
        "USED",
        "SKIPPED",
        "OOB R2",
        "TOP FEATURES",
        "TIME",
        "MODEL",
    ]);
    for r in results {
        t.push(vec![
            r.pipeline.clone(),
            r.runs.to_string(),
            r.runs_used.to_string(),
            r.runs_skipped.to_string(),
            r.oob_r2.map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            r.top_features
                .iter()
                .map(|f| format!("{} {:.0}%", f.name, f.importance * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            format!("{:.2}s", r.seconds),
            match (r.version, &r.error) {
                (Some(v), _) => format!("v{v}"),
                (None, Some(e)) => format!("not trained: {e}"),
                (None, None) => "-".into(),
            },
        ]);
    }
    t
}

/// Why lines were skipped, under the table.
fn footnotes(report: &Report<'_>) -> String {
    let mut out = String::new();
    for r in report.pipelines {
        for s in &r.skipped {
            out.push_str(&format!("skipped {}:{s}\n", report.history));
        }
    }
    for s in &report.unattributed_skipped {
        out.push_str(&format!("skipped {}:{s}\n", report.history));
    }
    out
}
