//! Invariants of the random forest: determinism for a seed whatever the thread count,
//! finite predictions, exact round trip through the serialized form, linfa traits.

use inframind_core::forest::{LeafSize, RandomForestParams, RandomForestRegressor};
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use proptest::prelude::*;

fn data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 10_000) as f64 / 10_000.0
    };
    let x = Array2::from_shape_fn((n, 5), |_| next());
    let y = x
        .rows()
        .into_iter()
        .map(|r| 10.0 * r[0] + 5.0 * (r[1] > 0.5) as u8 as f64 + r[2] * r[3] + next())
        .collect();
    (x, y)
}

#[test]
fn same_seed_same_forest_on_one_thread_or_many() {
    let (x, y) = data(400, 3);
    let params = RandomForestParams::new().n_trees(16).seed(99);
    let many = params
        .fit(&Dataset::new(x.clone(), y.clone()))
        .expect("fit");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| {
            params
                .fit(&Dataset::new(x.clone(), y.clone()))
                .expect("fit")
        });
    assert_eq!(many.to_bytes(), one.to_bytes());
    let other = RandomForestParams::new()
        .n_trees(16)
        .seed(100)
        .fit(&Dataset::new(x, y))
        .expect("fit");
    assert_ne!(many.to_bytes(), other.to_bytes());
}

#[test]
fn forest_learns_and_reports_oob_and_importances() {
    let (x, y) = data(1500, 7);
    let (xt, yt) = data(500, 8);
    let f = RandomForestParams::new()
        .n_trees(50)
        .fit(&Dataset::new(x, y))
        .expect("fit");
    let pred: Array1<f64> = f.predict(&xt);
    let r2 = pred.r2(&yt).expect("r2");
    assert!(r2 > 0.8, "test R² {r2}");
    let oob = f.oob_score().expect("bootstrap gives an OOB score");
    assert!((oob - r2).abs() < 0.1, "OOB {oob} far from test {r2}");
    let imp = f.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // x0 carries most of the signal, x4 none.
    assert!(imp[0] > imp[4] * 5.0, "{imp:?}");
}

#[test]
fn invalid_inputs_are_errors() {
    let (x, mut y) = data(50, 1);
    y[3] = f64::NAN;
    let p = RandomForestParams::new()
        .n_trees(3)
        .check()
        .expect("params");
    let msg = RandomForestRegressor::fit_arrays(&p, x.view(), y.as_slice().expect("contiguous"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("y[3]"), "{msg}");
    let f = RandomForestParams::new()
        .n_trees(3)
        .fit(&Dataset::new(x, Array1::from_elem(50, 1.0)))
        .expect("fit");
    assert!(f
        .predict_row(&[1.0, 2.0])
        .unwrap_err()
        .to_string()
        .contains("expected 5 features"));
    assert!(f.predict_row(&[f64::NAN; 5]).is_err());
    assert!(RandomForestParams::new()
        .leaf_size(LeafSize::Auto)
        .bootstrap(false)
        .check()
        .is_err());
    assert!(RandomForestParams::new().max_features(0.0).check().is_err());
}

#[test]
fn degenerate_targets_do_not_recurse_forever() {
    // y = 2^i isolates one row per split: a chain as deep as the data.
    let n = 3000;
    let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64);
    let y: Array1<f64> = (0..n).map(|i| 1.0001f64.powi(i as i32 * 40)).collect();
    let f = RandomForestParams::new()
        .n_trees(2)
        .leaf_size(LeafSize::Fixed(1))
        .bootstrap(false)
        .fit(&Dataset::new(x, y))
        .expect("fit");
    assert!(f.predict_row(&[10.0]).expect("predict").mean.is_finite());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn predictions_are_finite_and_round_trip(
        rows in prop::collection::vec(prop::collection::vec(-1e6f64..1e6, 3), 2..80),
        targets in prop::collection::vec(-1e6f64..1e6, 80),
        seed in any::<u64>(),
        query in prop::collection::vec(-1e7f64..1e7, 3),
    ) {
        let n = rows.len();
        let x = Array2::from_shape_vec((n, 3), rows.concat()).expect("shape");
        let y = Array1::from(targets[..n].to_vec());
        let f = RandomForestParams::new().n_trees(5).seed(seed).fit(&Dataset::new(x.clone(), y)).expect("fit");
        let p = f.predict_row(&query).expect("predict");
        prop_assert!(p.mean.is_finite() && p.spread.is_finite() && p.spread >= 0.0);
        let back = RandomForestRegressor::from_bytes(&f.to_bytes()).expect("decode");
        prop_assert_eq!(&back, &f);
        // Batch and single-row paths agree.
        let batch = f.predict_batch(x.view()).expect("batch");
        for (i, b) in batch.iter().enumerate() {
            let single = f.predict_row(x.row(i).as_slice().expect("row")).expect("single");
            prop_assert!((single.mean - b.mean).abs() <= 1e-9 * (1.0 + single.mean.abs()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = RandomForestRegressor::from_bytes(&bytes);
        let _ = inframind_core::DurationModel::from_bytes(&bytes);
    }
}
