//! A batch prediction large enough to be shared with rayon's pool must not wait for the pool:
//! when every pool thread is busy (say, fitting another model), the calling thread walks the
//! whole batch itself and returns. Its own test binary, because it occupies the global pool.

use std::sync::mpsc;
use std::time::Duration;

use inframind_core::forest::{LeafSize, RandomForestParams, RandomForestRegressor};
use linfa::ParamGuard;
use ndarray::Array2;

/// Occupies every thread of the global pool until dropped.
struct BusyPool {
    release: Option<mpsc::Sender<()>>,
}

impl BusyPool {
    fn occupy() -> Self {
        let (release, wait) = mpsc::channel::<()>();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
        let (started, all_started) = mpsc::channel();
        let threads = rayon::current_num_threads();
        for _ in 0..threads {
            let (wait, started) = (wait.clone(), started.clone());
            rayon::spawn(move || {
                started.send(()).expect("test alive");
                // Returns when `release` is dropped.
                let _ = wait.lock().map(|w| w.recv());
            });
        }
        for _ in 0..threads {
            all_started
                .recv_timeout(Duration::from_secs(30))
                .expect("every pool thread picks up a blocking job");
        }
        BusyPool {
            release: Some(release),
        }
    }
}

impl Drop for BusyPool {
    fn drop(&mut self) {
        self.release.take();
    }
}

#[test]
fn a_shared_batch_does_not_wait_for_a_busy_pool() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("this binary's only global pool");
    // 20 full-depth trees on 2,000 rows and 1,000 rows to predict: well past the size at
    // which a batch is shared (PAR_MIN_NODES, PAR_MIN_STEPS in forest/algorithm.rs).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f64 / 100.0
    };
    let x = Array2::from_shape_fn((2000, 4), |_| next());
    let y: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| r[0] * r[1] - r[2] + r[3])
        .collect();
    let params = RandomForestParams::new()
        .n_trees(20)
        .leaf_size(LeafSize::Fixed(1))
        .seed(5)
        .check()
        .expect("valid params");
    let forest = RandomForestRegressor::fit_arrays(&params, x.view(), &y).expect("fit");
    assert!(
        forest.n_nodes() > 8192 && forest.mean_depth() > 8.0,
        "a model worth sharing"
    );
    let expected = forest.predict_batch(x.view()).expect("predict");

    let busy = BusyPool::occupy();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(forest.predict_batch(x.view()));
    });
    let got = result.recv_timeout(Duration::from_secs(30));
    drop(busy);
    let got = got
        .expect("the batch returns while every pool thread is busy")
        .expect("predict");
    assert_eq!(got, expected, "the same predictions as with a free pool");
}
