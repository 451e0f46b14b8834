//! Forest benchmarks on build-telemetry rows from the demo generator: 1-row and 150-row
//! prediction of a model trained on 5k rows, and training at 500, 5k and 50k rows.
//!
//! `cargo bench -p inframind-benches --bench forest`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use inframind_benches::demo_table;
use inframind_core::forest::{RandomForestParams, RandomForestRegressor};
use linfa::ParamGuard;
use ndarray::s;
use std::hint::black_box;
use std::time::Duration;

fn predict(c: &mut Criterion) {
    let train = demo_table(5000, 1);
    let test = demo_table(1000, 2);
    let params = RandomForestParams::new().check().expect("params");
    let forest = RandomForestRegressor::fit_arrays(&params, train.x.view(), &train.y).expect("fit");
    let rows: Vec<Vec<f64>> = test.x.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut g = c.benchmark_group("predict");
    let mut i = 0;
    g.bench_function(BenchmarkId::new("rows", 1), |b| {
        b.iter(|| {
            // A different row each call, as a service sees them.
            i = (i + 1) % rows.len();
            black_box(forest.predict_row(black_box(&rows[i])).ok())
        })
    });
    let mut start = 0;
    g.bench_function(BenchmarkId::new("rows", 150), |b| {
        b.iter(|| {
            start = (start + 37) % (rows.len() - 150);
            black_box(
                forest
                    .predict_batch(test.x.slice(s![start..start + 150, ..]))
                    .ok(),
            )
        })
    });
    g.finish();
}

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("fit");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for n in [500, 5000, 50_000] {
        let t = demo_table(n, 3);
        let params = RandomForestParams::new().check().expect("params");
        g.bench_with_input(BenchmarkId::new("rows", n), &t, |b, t| {
            b.iter(|| black_box(RandomForestRegressor::fit_arrays(&params, t.x.view(), &t.y).ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, predict, fit);
criterion_main!(benches);
