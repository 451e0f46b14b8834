//! The telemetry types survive their JSON form exactly: parse(render(x)) == x.

mod support;

use inframind_core::telemetry::{BuildRun, RunContext};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn runs_round_trip_through_json(history in support::arb_history()) {
        for run in &history {
            let json = serde_json::to_string(run).expect("render");
            let back = BuildRun::from_json(&json).expect("parse");
            prop_assert_eq!(&back, run);
        }
    }

    #[test]
    fn contexts_round_trip_through_json(
        steps in prop::option::of(1u32..100),
        avg in prop::option::of(0.0f64..1e5),
        rss in prop::option::of(0u64..(1u64 << 40)),
        ratio in prop::option::of(0.0f64..=1.0),
    ) {
        let ctx = RunContext {
            tool: "gradle".into(),
            num_steps: steps,
            avg_step_duration_s: avg,
            max_rss_bytes: rss,
            cache_hit_ratio: ratio,
            ..RunContext::default()
        };
        let back = RunContext::from_json(&serde_json::to_string(&ctx).expect("render")).expect("parse");
        prop_assert_eq!(back, ctx);
    }
}
