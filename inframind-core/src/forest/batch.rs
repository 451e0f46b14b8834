//! One batch prediction shared between the calling thread and helpers from rayon's pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::algorithm::{add_leaves, row_starts, Prediction, RandomForestRegressor};
use super::tree::{self, Tree, WalkScratch};

/// Fewest rows per thread for which a batch prediction is shared between threads.
const PAR_MIN_ROWS: usize = 32;
/// Fewest row-steps down the trees (rows x sum of tree depths; ~1 ns each on one core when
/// the model does not fit in the core's cache) for which a batch prediction is shared between
/// threads.
const PAR_MIN_STEPS: usize = 150_000;
/// Fewest nodes (8 bytes each) of a forest whose batches are shared between threads: a smaller
/// model stays in the core's cache and walks too fast for a thread's wake-up (tens of
/// microseconds here) to pay.
const PAR_MIN_NODES: usize = 8192;
/// Trees a thread takes at a time when a batch prediction is shared: few, because the caller
/// ends by waiting for the group a helper is walking (two trees of the 50k demo model take
/// ~10 µs for 150 rows).
const SHARE_TREES: usize = 2;

impl RandomForestRegressor {
    /// Threads of rayon's pool worth waking to help with a batch of `n_rows` rows: none unless
    /// the batch has at least `2 x` [`PAR_MIN_ROWS`] rows and [`PAR_MIN_STEPS`] walk steps and
    /// the model [`PAR_MIN_NODES`] nodes.
    pub(super) fn batch_helpers(&self, n_rows: usize) -> usize {
        let steps: usize = n_rows * self.trees.iter().map(|t| t.depth as usize).sum::<usize>();
        let threads = rayon::current_num_threads().min(n_rows / PAR_MIN_ROWS);
        let worth_it = steps >= PAR_MIN_STEPS && self.n_nodes() >= PAR_MIN_NODES;
        if worth_it {
            threads.saturating_sub(1)
        } else {
            0
        }
    }

    /// [`predict_rows_f32`](Self::predict_rows_f32) with up to `helpers` threads of rayon's
    /// pool helping the calling thread, see [`SharedBatch`]. The leaf values are summed in
    /// tree order, exactly as on one thread.
    pub(super) fn predict_rows_shared_by(&self, rows: &[f32], helpers: usize) -> Vec<Prediction> {
        let stride = self.row_stride();
        let n_rows = rows.len() / stride;
        let n_groups = self.trees.len().div_ceil(SHARE_TREES);
        if helpers == 0 || n_groups < 2 {
            return self.predict_rows_one_thread(rows);
        }
        let batch = Arc::new(SharedBatch {
            trees: self.trees.shared(),
            rows: rows.to_vec(),
            starts: row_starts(n_rows, stride),
            untaken: Mutex::new(0..n_groups),
            walked: Mutex::new(Vec::with_capacity(n_groups)),
            settled: AtomicUsize::new(0),
        });
        for _ in 0..helpers.min(n_groups - 1) {
            let batch = Arc::clone(&batch);
            rayon::spawn(move || batch.work(true));
        }
        batch.work(false);
        batch.wait_until_settled(n_groups);
        let mut walked = std::mem::take(&mut *lock(&batch.walked));
        walked.sort_unstable_by_key(|&(g, _)| g);
        let mut sum = vec![0.0f64; n_rows];
        let mut sum2 = vec![0.0f64; n_rows];
        let mut scratch = WalkScratch::default();
        let mut walked = walked.into_iter().peekable();
        for g in 0..n_groups {
            // A group is missing only if the helper walking it panicked: walk it here.
            let leaves = match walked.next_if(|&(h, _)| h == g) {
                Some((_, leaves)) => leaves,
                None => batch.walk_group(g, &mut scratch),
            };
            for leaf in leaves.chunks(n_rows.max(1)) {
                add_leaves(leaf, &mut sum, &mut sum2);
            }
        }
        self.finish(&sum, &sum2)
    }
}

/// One batch prediction shared between the calling thread and helpers from rayon's pool.
///
/// The trees are shared out in groups of [`SHARE_TREES`]: the caller takes groups from the
/// front at once, helpers take them from the back when they wake (here from 1 µs to longer
/// than the whole batch). The caller then waits only for the groups a helper is walking (at
/// most a group's walk, spinning: a thread put to sleep here takes tens of microseconds to
/// wake), never for a helper that has not started: the batch is owned by all of them, so a
/// helper that wakes after the caller returned finds nothing left and drops its share. When
/// all are on time, each thread walks the same part of the model, its own cache's worth,
/// call after call.
struct SharedBatch {
    trees: Arc<[Tree]>,
    rows: Vec<f32>,
    starts: Vec<usize>,
    /// Groups not taken yet: `front..back`.
    untaken: Mutex<std::ops::Range<usize>>,
    /// (group, its trees' leaf values, tree by tree) of the groups walked so far.
    walked: Mutex<Vec<(usize, Vec<f32>)>>,
    /// Groups taken and then walked, or given up by a helper that panicked.
    settled: AtomicUsize,
}

impl SharedBatch {
    /// Takes groups, from the front or the back, until none is left.
    fn work(&self, from_back: bool) {
        let mut scratch = WalkScratch::default();
        loop {
            let group = {
                let mut untaken = lock(&self.untaken);
                if from_back {
                    untaken.next_back()
                } else {
                    untaken.next()
                }
            };
            let Some(g) = group else { break };
            // A panic must not leave the caller waiting for this group: it walks it itself.
            let leaves = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.walk_group(g, &mut scratch)
            }));
            if let Ok(leaves) = leaves {
                lock(&self.walked).push((g, leaves));
            }
            self.settled.fetch_add(1, Ordering::Release);
        }
    }

    /// The leaf values of group `g`'s trees, tree by tree.
    fn walk_group(&self, g: usize, scratch: &mut WalkScratch) -> Vec<f32> {
        let n_rows = self.starts.len();
        let trees = &self.trees[g * SHARE_TREES..((g + 1) * SHARE_TREES).min(self.trees.len())];
        let mut leaves = vec![0f32; trees.len() * n_rows];
        for (t, out) in trees.iter().zip(leaves.chunks_mut(n_rows.max(1))) {
            tree::walk_to_leaves(t.walkable(), &self.rows, &self.starts, out, scratch);
        }
        leaves
    }

    /// Returns once all `n_groups` groups are settled. Called after the caller's own
    /// [`work`](Self::work): every group is taken by then, so this waits at most for the
    /// walks helpers are in the middle of.
    fn wait_until_settled(&self, n_groups: usize) {
        let mut spins = 0u32;
        while self.settled.load(Ordering::Acquire) < n_groups {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                // The helper may have lost its core: give it ours.
                std::thread::yield_now();
            }
        }
    }
}

/// Spins of [`SharedBatch::wait_until_settled`] before it yields its core (~ tens of µs).
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// Locks a mutex of [`SharedBatch`]; a poisoned one still holds consistent data (each
/// critical section is one `Range` step or one `push`).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use crate::forest::fixtures::forest_and_rows;

    #[test]
    fn batch_prediction_is_the_same_on_one_thread_or_several() {
        let (forest, rows) = forest_and_rows();
        let stride = forest.row_stride();
        for n in [1, 7, 63, 64, 65, 150, 600] {
            let part = &rows[..n * stride];
            let one = forest.predict_rows_one_thread(part);
            assert_eq!(one.len(), n);
            assert_eq!(forest.predict_rows_f32(part), one, "{n} rows");
            for helpers in [1, 2, 7] {
                assert_eq!(
                    forest.predict_rows_shared_by(part, helpers),
                    one,
                    "{n} rows, {helpers} helpers"
                );
            }
        }
    }
}
