//! Our side of `benches/compare/compare.sh`: trains the InfraMind forest (100 trees) on a CSV,
//! tests it on another and prints one JSON object with `fit_s`, `r2`, `mae`, `predict_1_us`,
//! `predict_150_us`, `model_bytes`. Also writes the demo datasets (`gen-demo`).
//!
//! ```sh
//! im-compare TRAIN.csv TEST.csv
//! im-compare gen-demo ROWS TRAIN.csv TEST.csv
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use inframind_benches::{demo_table, median_us, r2_mae, read_csv, write_csv, Table};
use inframind_core::forest::{RandomForestParams, RandomForestRegressor};
use linfa::ParamGuard;
use ndarray::s;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen-demo", rows, train, test] => gen_demo(rows, Path::new(train), Path::new(test)),
        [train, test] => compare(Path::new(train), Path::new(test)),
        _ => Err(
            "usage: im-compare TRAIN.csv TEST.csv | im-compare gen-demo ROWS TRAIN.csv TEST.csv"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("im-compare: {e}");
            ExitCode::from(2)
        }
    }
}

fn gen_demo(rows: &str, train: &Path, test: &Path) -> Result<(), String> {
    let n: usize = rows
        .parse()
        .map_err(|_| format!("ROWS must be a number, got {rows:?}"))?;
    // Train and test come from different seeds: different histories of the same pipelines.
    write_csv(train, &demo_table(n, 1))?;
    write_csv(test, &demo_table((n / 4).max(200), 2))
}

fn compare(train: &Path, test: &Path) -> Result<(), String> {
    let tr = read_csv(train)?;
    let te = read_csv(test)?;
    if tr.names.len() != te.names.len() {
        return Err(format!(
            "TRAIN has {} feature columns, TEST {}",
            tr.names.len(),
            te.names.len()
        ));
    }
    let params = RandomForestParams::new()
        .n_trees(100)
        .seed(0)
        .check()
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let forest = RandomForestRegressor::fit_arrays(&params, tr.x.view(), &tr.y)
        .map_err(|e| e.to_string())?;
    let fit_s = t.elapsed().as_secs_f64();
    let preds = forest
        .predict_batch(te.x.view())
        .map_err(|e| e.to_string())?;
    let means: Vec<f64> = preds.iter().map(|p| p.mean).collect();
    let (r2, mae) = r2_mae(&means, &te.y);
    let (p1, p150) = latencies(&forest, &te);
    let out = serde_json::json!({
        "fit_s": fit_s,
        "r2": r2,
        "mae": mae,
        "predict_1_us": p1,
        "predict_150_us": p150,
        "model_bytes": forest.to_bytes().len(),
        "n_train": tr.y.len(),
        "n_test": te.y.len(),
        "oob_r2": forest.oob_score(),
        "min_samples_split": forest.min_samples_split(),
        "nodes": forest.n_nodes(),
    });
    println!("{out}");
    Ok(())
}

/// Median latency of one row (a different row each call) and of a 150-row batch.
fn latencies(forest: &RandomForestRegressor, te: &Table) -> (f64, f64) {
    let n = te.y.len();
    let rows: Vec<Vec<f64>> = te.x.rows().into_iter().map(|r| r.to_vec()).collect();
    let p1 = median_us(2001, |i| {
        std::hint::black_box(forest.predict_row(&rows[i % n]).ok());
    });
    let k = n.min(150);
    let p150 = median_us(201, |i| {
        let start = (i * 37) % (n - k + 1);
        std::hint::black_box(
            forest
                .predict_batch(te.x.slice(s![start..start + k, ..]))
                .ok(),
        );
    });
    (p1, p150)
}
