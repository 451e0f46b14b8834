//! Shared code of the InfraMind benchmarks: datasets, timing, CSV reading and the simulated
//! builds of [`sim`].
#![deny(missing_docs)]

pub mod sim;

use std::path::Path;
use std::time::Instant;

use inframind_core::demo::demo_history;
use inframind_core::features::{training_rows, FEATURE_NAMES};
use ndarray::Array2;

/// A numeric table: features and the target (the last CSV column).
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names of the features.
    pub names: Vec<String>,
    /// Rows x features.
    pub x: Array2<f64>,
    /// Targets.
    pub y: Vec<f64>,
}

/// Reads a CSV with a header row and numeric columns; the last column is the target.
pub fn read_csv(path: &Path) -> Result<Table, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("{}: header: {e}", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.len() < 2 {
        return Err(format!(
            "{}: needs at least one feature column and the target",
            path.display()
        ));
    }
    let width = header.len();
    let mut values = Vec::new();
    let mut y = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: row {}: {e}", path.display(), i + 2))?;
        if rec.len() != width {
            return Err(format!(
                "{}: row {} has {} columns, the header {width}",
                path.display(),
                i + 2,
                rec.len()
            ));
        }
        for (j, field) in rec.iter().enumerate() {
            let v: f64 = field.trim().parse().map_err(|_| {
                format!(
                    "{}: row {}, column {:?}: {field:?} is not a number",
                    path.display(),
                    i + 2,
                    header[j]
                )
            })?;
            if j + 1 == width {
                y.push(v);
            } else {
                values.push(v);
            }
        }
    }
    let n = y.len();
    let x = Array2::from_shape_vec((n, width - 1), values).map_err(|e| e.to_string())?;
    Ok(Table {
        names: header[..width - 1].to_vec(),
        x,
        y,
    })
}

/// Writes a table as CSV (header, then rows; the target last, named `duration_s`).
pub fn write_csv(path: &Path, table: &Table) -> Result<(), String> {
    let mut w = csv::Writer::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut header = table.names.clone();
    header.push("duration_s".into());
    w.write_record(&header).map_err(|e| e.to_string())?;
    for (row, y) in table.x.rows().into_iter().zip(&table.y) {
        let mut rec: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        rec.push(y.to_string());
        w.write_record(&rec).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}

/// Build-telemetry training rows from demo histories of all five tools, `n` rows in all.
pub fn demo_table(n: usize, seed: u64) -> Table {
    let tools = inframind_core::demo::DEMO_TOOLS;
    let per_tool = n.div_ceil(tools.len());
    let mut values = Vec::new();
    let mut y = Vec::new();
    for (k, tool) in tools.iter().enumerate() {
        // A few extra runs: failures do not become rows.
        let history = demo_history(
            tool,
            per_tool + per_tool / 8 + 8,
            seed.wrapping_add(k as u64 * 1000),
        );
        let (rows, ys) = training_rows(&history);
        for (r, v) in rows.iter().zip(ys).take(per_tool) {
            values.extend_from_slice(r);
            y.push(v);
        }
    }
    let rows = y.len().min(n);
    values.truncate(rows * FEATURE_NAMES.len());
    y.truncate(rows);
    Table {
        names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        x: Array2::from_shape_vec((rows, FEATURE_NAMES.len()), values)
            .unwrap_or_else(|_| Array2::zeros((0, 0))),
        y,
    }
}

/// Median wall time of `reps` calls of `f`, in microseconds.
pub fn median_us(reps: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|i| {
            let s = Instant::now();
            f(i);
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// R² and mean absolute error of predictions.
pub fn r2_mae(pred: &[f64], y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let ss_res: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    let mae = pred.iter().zip(y).map(|(p, v)| (p - v).abs()).sum::<f64>() / n;
    (1.0 - ss_res / ss_tot, mae)
}
