//! Trees of several shapes, and the plain walk that every faster walk must match.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::walk::STEPS_PER_CHECK;
use super::{Node, Tree};
use crate::forest::fixtures::{data, reciprocals};
use crate::forest::grow::{compact, grow, GrowParams, Presorted};

/// Leaf value of one row, one node at a time: the definition the lockstep walks must match.
pub(super) fn leaf_by_plain_walk(nodes: &[Node], n_features: usize, row: &[f32]) -> f32 {
    let mut i = 0;
    loop {
        let n = nodes[i];
        if n.feature() as usize == n_features {
            return n.value;
        }
        i = if row[n.feature() as usize] <= n.value {
            i + 1
        } else {
            n.right()
        };
    }
}

/// Longest and shortest root-to-leaf path of a tree in walking form, by visiting it.
pub(super) fn longest_and_shortest_path(nodes: &[Node]) -> (u32, u32) {
    let (mut longest, mut shortest) = (0, u32::MAX);
    let mut stack = vec![(0usize, 0u32)];
    while let Some((i, d)) = stack.pop() {
        if nodes[i].right() == i {
            (longest, shortest) = (longest.max(d), shortest.min(d));
        } else {
            stack.extend([(i + 1, d + 1), (nodes[i].right(), d + 1)]);
        }
    }
    (longest, shortest)
}

/// Trees of different shapes on [`data`]: full depth, pruned, a stump and a single leaf.
pub(super) fn trees_of_several_shapes() -> (Presorted, Vec<Tree>) {
    let d = data();
    let mut trees = Vec::new();
    for (t, (min_split, max_depth)) in [(2, usize::MAX), (16, usize::MAX), (2, 1), (2, 0)]
        .into_iter()
        .enumerate()
    {
        let params = GrowParams {
            max_depth,
            min_leaf: 1,
            min_split: 2,
            features_per_split: 3,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(t as u64);
        let weights: Vec<u32> = (0..d.n_rows).map(|i| (i % 3) as u32).collect();
        let grown = grow(&d, &weights, &reciprocals(d.n_rows), &params, &mut rng);
        trees.push(compact(&grown, min_split, d.n_features).unwrap().0);
    }
    for t in &trees {
        assert_eq!(t.depth, longest_and_shortest_path(&t.nodes).0);
    }
    assert!(
        trees[0].depth > longest_and_shortest_path(&trees[0].nodes).1 + STEPS_PER_CHECK,
        "a ragged tree"
    );
    assert_eq!(trees[3].nodes.len(), 1, "a single leaf");
    (d, trees)
}

/// The rows of `d`, each followed by the NaN that leaves read.
pub(super) fn padded_rows(d: &Presorted) -> Vec<f32> {
    let stride = d.n_features + 1;
    let mut rows = vec![f32::NAN; d.n_rows * stride];
    for r in 0..d.n_rows {
        for f in 0..d.n_features {
            rows[r * stride + f] = d.value(f, r as u32);
        }
    }
    rows
}
