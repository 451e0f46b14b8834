//! `Optimizer::suggest` over ~150 candidates with a model trained on a pipeline's history, at
//! two history lengths.
//!
//! `cargo bench -p inframind-benches --bench optimizer`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use inframind_core::demo::demo_history;
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::optimizer::{Optimizer, OptimizerParams};
use inframind_core::telemetry::{Capacity, RunContext};
use std::hint::black_box;

fn suggest(c: &mut Criterion) {
    let mut g = c.benchmark_group("optimize");
    for runs in [500, 5000] {
        let history = demo_history("cmake", runs, 1);
        let model = DurationModel::train(&history, RandomForestParams::new()).expect("train");
        let opt = Optimizer::new(OptimizerParams::default()).expect("params");
        let ctx = RunContext {
            tool: "cmake".into(),
            num_steps: Some(5),
            avg_step_duration_s: Some(60.0),
            capacity: Some(Capacity {
                cpu_cores: Some(16.0),
                memory_bytes: Some(32 << 30),
            }),
            ..RunContext::default()
        };
        let s = opt
            .suggest(Some(&model), &history, &ctx, Some(1))
            .expect("suggest");
        eprintln!(
            "history {runs}: {} candidates scored",
            s.candidates_considered - s.candidates_rejected
        );
        let mut seed = 0u64;
        g.bench_function(BenchmarkId::new("history_runs", runs), |b| {
            b.iter(|| {
                seed += 1;
                black_box(opt.suggest(Some(&model), &history, &ctx, Some(seed)).ok())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, suggest);
criterion_main!(benches);
