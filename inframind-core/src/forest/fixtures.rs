//! Data sets and a fitted forest shared by the forest's unit tests.

use linfa::ParamGuard;
use ndarray::Array2;

use super::grow::Presorted;
use super::{RandomForestParams, RandomForestRegressor};

/// 500 rows of 4 uniform features and a noisy target of three of them.
pub(super) fn data() -> Presorted {
    let n = 500;
    let mut s = 12345u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as f32 / (1u64 << 31) as f32
    };
    let cols: Vec<Vec<f32>> = (0..4).map(|_| (0..n).map(|_| next()).collect()).collect();
    let y = (0..n)
        .map(|i| f64::from(cols[0][i] * 10.0 + cols[1][i] * cols[2][i] + next()))
        .collect();
    Presorted::new(cols, y)
}

/// `1 / k` for k up to `max` (0 for k = 0), as `grow` needs.
pub(super) fn reciprocals(max: usize) -> Vec<f64> {
    (0..=max)
        .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
        .collect()
}

/// Few distinct values per feature (so features turn constant inside subtrees), one
/// constant column, one duplicate column, integer targets and weights (so every sum is
/// exact and `grow` and its reference definition must agree bit for bit).
pub(super) fn discrete_data(n: usize) -> (Presorted, Vec<u32>) {
    let mut s = 99u64;
    let mut next = |m: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % m
    };
    let mut cols: Vec<Vec<f32>> = vec![Vec::new(); 6];
    let mut y = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b, c) = (next(2), next(3), next(4));
        cols[0].push(a as f32);
        cols[1].push(b as f32);
        cols[2].push(i as f32 / n as f32);
        cols[3].push(5.0);
        cols[4].push(c as f32);
        cols[5].push(a as f32);
        y.push((10 * a + 3 * b * c + next(5)) as f64);
        weights.push(next(4) as u32);
    }
    (Presorted::new(cols, y), weights)
}

/// A forest on 600 rows of 5 features, some discrete, and the rows as packed `f32`.
pub(super) fn forest_and_rows() -> (RandomForestRegressor, Vec<f32>) {
    let x = Array2::from_shape_fn((600, 5), |(i, j)| match j {
        0 => (i % 4) as f64,
        1 => ((i * 7) % 11) as f64 / 3.0,
        2 => (i as f64 * 0.37).sin(),
        3 => (i % 2) as f64,
        _ => ((i * 13) % 600) as f64,
    });
    let y: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| 5.0 * r[0] + r[1] * r[2] * 3.0 + if r[3] > 0.5 { 7.0 } else { 0.0 } + r[4] / 100.0)
        .collect();
    let params = RandomForestParams::new()
        .n_trees(30)
        .seed(5)
        .check()
        .unwrap();
    let forest = RandomForestRegressor::fit_arrays(&params, x.view(), &y).unwrap();
    let mut rows = Vec::new();
    for r in x.rows() {
        rows.extend(r.iter().map(|&v| v as f32));
        rows.push(f32::NAN);
    }
    (forest, rows)
}
