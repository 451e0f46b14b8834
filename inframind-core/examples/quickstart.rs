//! The main job on embedded defaults: generate a demo build history, train the duration model,
//! store it in a versioned model store, and print the suggestion for the next build with its
//! rationale and predicted speed-up.
//!
//! ```sh
//! cargo run --release --example quickstart [-- --tool cargo --runs 300 --store DIR]
//! ```

use std::error::Error;
use std::time::Instant;

use inframind_core::demo::{demo_history, DEMO_TOOLS};
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::store::ModelStore;
use inframind_core::telemetry::{Capacity, RunContext, RunStatus};

fn main() -> Result<(), Box<dyn Error>> {
    let mut tool = String::from("cmake");
    let mut runs = 300usize;
    let mut store_dir = std::env::temp_dir().join("inframind-quickstart-store");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tool" => tool = args.next().ok_or("--tool needs a value")?,
            "--runs" => runs = args.next().ok_or("--runs needs a value")?.parse()?,
            "--store" => store_dir = args.next().ok_or("--store needs a value")?.into(),
            "-h" | "--help" => {
                println!(
                    "usage: quickstart [--tool {}] [--runs N] [--store DIR]",
                    DEMO_TOOLS.join("|")
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }

    let history = demo_history(&tool, runs, 42);
    let ooms = history
        .iter()
        .filter(|r| r.status == RunStatus::OomKilled)
        .count();
    let pipeline = history
        .first()
        .map(|r| r.pipeline.clone())
        .unwrap_or_default();
    println!(
        "Generated {} runs of {pipeline} ({tool}), {ooms} OOM-killed.",
        history.len()
    );

    let t = Instant::now();
    let model = DurationModel::train(&history, RandomForestParams::new().seed(0))?;
    let meta = model.metadata();
    println!(
        "Trained {} trees on {} successful runs in {:.0} ms; out-of-bag R² {}.",
        model.forest().n_trees(),
        meta.n_samples,
        t.elapsed().as_secs_f64() * 1e3,
        meta.oob_score.map_or("n/a".into(), |r| format!("{r:.3}"))
    );
    let mut top: Vec<(&String, f64)> = model
        .feature_names()
        .iter()
        .zip(model.feature_importances().iter().copied())
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = top
        .iter()
        .take(4)
        .map(|(n, v)| format!("{n} {:.0}%", v * 100.0))
        .collect();
    println!("Most important features: {}.", top.join(", "));

    let store = ModelStore::open(&store_dir)?;
    let version = store.save(&pipeline, &model)?;
    let model = store.load(&pipeline, version)?;
    println!("Stored as version {version} in {}.", store_dir.display());

    let optimizer = Optimizer::new(OptimizerParams::default())?;
    let context = RunContext {
        tool: tool.clone(),
        capacity: Some(Capacity {
            cpu_cores: Some(16.0),
            memory_bytes: Some(32 << 30),
        }),
        ..RunContext::default()
    };
    let t = Instant::now();
    let s = optimizer.suggest(Some(&model), &history, &context, Some(1))?;
    let took = t.elapsed();
    println!(
        "\nSuggestion for the next build (computed in {:.0} µs):",
        took.as_secs_f64() * 1e6
    );
    println!(
        "  concurrency {}, cpu_cores {}, memory {:.2} GiB",
        s.config.concurrency,
        s.config.cpu_cores,
        s.config.memory_bytes as f64 / (1u64 << 30) as f64
    );
    for line in &s.rationale {
        println!("  - {line}");
    }
    if let (Some(p), Some(b)) = (s.predicted_duration_s, s.baseline_duration_s) {
        println!(
            "\nPredicted speed-up: {:.0} s -> {:.0} s ({:.1}% faster).",
            b,
            p,
            100.0 * (b - p) / b
        );
    }
    Ok(())
}
