//! Runs, steps and contexts as JSON (`BuildRun::from_json`, `RunContext::from_json`). What
//! parses is valid, so it must parse back from its own JSON unchanged, feed the history
//! statistics, and a context must predict a usable value with the seed model (or fail cleanly).
#![no_main]

use std::sync::OnceLock;

use inframind_core::features::HistoryStats;
use inframind_core::{BuildConfig, BuildRun, DurationModel, RunContext};
use inframind_fuzz::assert_usable;
use libfuzzer_sys::fuzz_target;

// The model the seed corpus of `model_decode` holds (mode byte, then a model file).
static MODEL_FILE: &[u8] = include_bytes!("../corpus/model_decode/fixtures-model");

fn model() -> Option<&'static DurationModel> {
    static MODEL: OnceLock<Option<DurationModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| DurationModel::from_bytes(&MODEL_FILE[1..]).ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(run) = BuildRun::from_json(text) {
        let json = serde_json::to_string(&run).expect("a run renders as JSON");
        let back = BuildRun::from_json(&json)
            .unwrap_or_else(|e| panic!("a parsed run's JSON does not parse: {e}\n{json}"));
        assert_eq!(back, run, "run: parse(render(x)) != x");
        let stats = HistoryStats::from_history(std::slice::from_ref(&run));
        if let (Some(model), Ok(ctx)) = (model(), RunContext::from_json(r#"{"tool":"cmake"}"#)) {
            if let Ok(p) = model.predict_with_stats(&ctx, &run.config, &stats) {
                assert_usable(&p, "predict with a fuzzed run's history");
            }
        }
    }
    if let Ok(ctx) = RunContext::from_json(text) {
        let json = serde_json::to_string(&ctx).expect("a context renders as JSON");
        let back = RunContext::from_json(&json)
            .unwrap_or_else(|e| panic!("a parsed context's JSON does not parse: {e}\n{json}"));
        assert_eq!(back, ctx, "context: parse(render(x)) != x");
        let config = BuildConfig {
            concurrency: 4,
            cpu_cores: 4.0,
            memory_bytes: 8 << 30,
        };
        if let Some(model) = model() {
            if let Ok(p) = model.predict(&ctx, &config, &[]) {
                assert_usable(&p, "predict with a fuzzed context");
            }
        }
    }
});
