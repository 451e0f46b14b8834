//! Growing one regression tree: exact best splits on presorted columns, grown depth-first with
//! an explicit stack (a degenerate dataset cannot overflow the thread's stack), then compacted
//! into a [`Tree`] with the pruning level chosen.

use rand::seq::index::sample;
use rand::Rng;

use super::tree::{Node, Tree, LEAF, MAX_NODES};

/// A node while the tree is grown: it keeps what pruning and importances need.
#[derive(Debug, Clone)]
pub(crate) struct GrowNode {
    pub(crate) feature: u32,
    pub(crate) threshold: f32,
    pub(crate) right: u32,
    /// Weighted mean of the targets in the node.
    pub(crate) value: f64,
    /// Distinct training rows in the node.
    pub(crate) n_distinct: u32,
    /// Decrease of the weighted sum of squared errors achieved by this node's split.
    pub(crate) sse_decrease: f64,
}

/// Training data shared by all trees: columns as `f32` and each column's row order by value.
pub(crate) struct Presorted {
    pub(crate) n_rows: usize,
    pub(crate) n_features: usize,
    /// `values[f * n_rows + i]`.
    pub(crate) values: Vec<f32>,
    /// `order[f * n_rows + k]` is the row with the k-th smallest value of feature f.
    pub(crate) order: Vec<u32>,
    pub(crate) y: Vec<f64>,
}

impl Presorted {
    /// `columns[f][i]` must be finite; `y.len()` rows.
    pub(crate) fn new(columns: Vec<Vec<f32>>, y: Vec<f64>) -> Self {
        let n_rows = y.len();
        let n_features = columns.len();
        let mut values = Vec::with_capacity(n_rows * n_features);
        let mut order = Vec::with_capacity(n_rows * n_features);
        for col in &columns {
            values.extend_from_slice(col);
            let mut idx: Vec<u32> = (0..n_rows as u32).collect();
            idx.sort_by(|&a, &b| col[a as usize].total_cmp(&col[b as usize]));
            order.extend_from_slice(&idx);
        }
        Presorted {
            n_rows,
            n_features,
            values,
            order,
            y,
        }
    }

    #[inline]
    pub(super) fn value(&self, f: usize, row: u32) -> f32 {
        self.values[f * self.n_rows + row as usize]
    }
}

/// Growth limits of one tree.
pub(crate) struct GrowParams {
    pub(crate) max_depth: usize,
    pub(crate) min_leaf: usize,
    /// Fewest distinct rows a node needs to be split.
    pub(crate) min_split: u32,
    pub(crate) features_per_split: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    value: f32,
    row: u32,
}

struct Pending {
    start: usize,
    end: usize,
    depth: usize,
    /// A feature whose list is partitioned down to this node (the parent's split feature):
    /// its range holds exactly the node's rows. Lists of features constant in an ancestor are
    /// no longer partitioned.
    rows_in: usize,
    /// Index of the parent whose `right` this node fills, if it is a right child.
    right_of: Option<usize>,
    sum_w: f64,
    sum_wy: f64,
}

struct Split {
    feature: usize,
    /// Entries going left (the first `n_left` of the node's range in every list).
    n_left: usize,
    left_w: f64,
    left_wy: f64,
    score: f64,
}

/// Features known to be constant in a node (so in all its descendants), one bit each.
fn is_constant(set: &[u64], f: usize) -> bool {
    set[f / 64] & (1 << (f % 64)) != 0
}

/// Grows one tree on the rows with a non-zero `weights` (bootstrap counts).
///
/// `recip[k]` must be `1 / k` for every `k` up to the sum of `weights`: bootstrap weights are
/// whole counts, so the split score needs table look-ups, not divisions, in its hot loop.
pub(crate) fn grow<R: Rng>(
    data: &Presorted,
    weights: &[u32],
    recip: &[f64],
    params: &GrowParams,
    rng: &mut R,
) -> Vec<GrowNode> {
    let nf = data.n_features;
    let w: Vec<f64> = weights.iter().map(|&c| c as f64).collect();
    let wy: Vec<f64> = w.iter().zip(&data.y).map(|(w, y)| w * y).collect();
    let wyy: Vec<f64> = wy.iter().zip(&data.y).map(|(wy, y)| wy * y).collect();
    // What the split scan reads per row, side by side: one cache line touch, not two.
    let stat: Vec<(f64, usize)> = wy
        .iter()
        .zip(weights)
        .map(|(&a, &c)| (a, c as usize))
        .collect();

    // Per-feature lists of the in-bag rows in value order; a node owns the same range in each.
    let m = weights.iter().filter(|&&c| c > 0).count();
    let mut lists: Vec<Entry> = Vec::with_capacity(m * nf);
    for f in 0..nf {
        let order = &data.order[f * data.n_rows..(f + 1) * data.n_rows];
        lists.extend(
            order
                .iter()
                .filter(|&&r| weights[r as usize] > 0)
                .map(|&r| Entry {
                    value: data.value(f, r),
                    row: r,
                }),
        );
    }
    let mut goes_left = vec![false; data.n_rows];
    let mut scratch: Vec<Entry> = vec![Entry { value: 0.0, row: 0 }; m];

    let (sum_w, sum_wy) = (0..data.n_rows).fold((0.0, 0.0), |(a, b), i| (a + w[i], b + wy[i]));
    let mut nodes: Vec<GrowNode> = Vec::new();
    // A feature constant in a node stays constant below it: it is neither scanned nor
    // partitioned again in that subtree (scikit-learn keeps the same record). The sets of
    // pending nodes form a stack beside `stack`, `words` words each.
    let words = nf.div_ceil(64);
    let mut constant_sets: Vec<u64> = vec![0; words];
    let mut constant: Vec<u64> = vec![0; words];
    let mut stack = vec![Pending {
        start: 0,
        end: m,
        depth: 0,
        rows_in: 0,
        right_of: None,
        sum_w,
        sum_wy,
    }];
    let mut feature_pool: Vec<usize> = (0..nf).collect();

    while let Some(p) = stack.pop() {
        let top = constant_sets.len() - words;
        constant.copy_from_slice(&constant_sets[top..]);
        constant_sets.truncate(top);
        let id = nodes.len();
        if let Some(parent) = p.right_of {
            nodes[parent].right = id as u32;
        }
        let n = p.end - p.start;
        let value = if p.sum_w > 0.0 {
            p.sum_wy / p.sum_w
        } else {
            0.0
        };
        nodes.push(GrowNode {
            feature: LEAF,
            threshold: 0.0,
            right: 0,
            value,
            n_distinct: n as u32,
            sse_decrease: 0.0,
        });
        if n < 2 * params.min_leaf
            || n < params.min_split.max(2) as usize
            || p.depth >= params.max_depth
        {
            continue;
        }
        // A node whose targets are all equal has nothing to split.
        let node_rows = &lists[p.rows_in * m + p.start..p.rows_in * m + p.end];
        let node_sse: f64 =
            node_rows.iter().map(|e| wyy[e.row as usize]).sum::<f64>() - p.sum_wy * value;
        if node_sse <= 1e-12 * p.sum_w.max(1.0) {
            continue;
        }

        let candidates: &[usize] = if params.features_per_split >= nf {
            &feature_pool
        } else {
            let picked = sample(rng, nf, params.features_per_split);
            for (slot, f) in feature_pool.iter_mut().zip(picked.iter()) {
                *slot = f;
            }
            &feature_pool[..params.features_per_split]
        };

        let parent_score = p.sum_wy * p.sum_wy / p.sum_w;
        let total_w = p.sum_w as usize;
        // A left side ends at entry k (n_left = k + 1) only when both sides keep min_leaf
        // entries: k in [min_leaf - 1, n - min_leaf - 1]; entries before only accumulate.
        let min_leaf = params.min_leaf.max(1);
        let mut best: Option<Split> = None;
        let mut best_score = f64::NEG_INFINITY;
        for &f in candidates {
            if is_constant(&constant, f) {
                continue;
            }
            let list = &lists[f * m + p.start..f * m + p.end];
            // Sorted by value: equal ends mean one value, nothing to split on, here or below.
            if list[0].value >= list[n - 1].value {
                constant[f / 64] |= 1 << (f % 64);
                continue;
            }
            let (mut lw, mut lwy) = (0usize, 0.0f64);
            for e in &list[..min_leaf - 1] {
                let (row_wy, row_w) = stat[e.row as usize];
                lw += row_w;
                lwy += row_wy;
            }
            for (k, pair) in list[min_leaf - 1..=n - min_leaf].windows(2).enumerate() {
                let (e, next) = (pair[0], pair[1].value);
                let (row_wy, row_w) = stat[e.row as usize];
                lw += row_w;
                lwy += row_wy;
                if next <= e.value {
                    continue;
                }
                // In-bag rows weigh at least 1, so both sides weigh at least 1 here.
                let rw = total_w - lw;
                let rwy = p.sum_wy - lwy;
                let score = lwy * lwy * recip[lw] + rwy * rwy * recip[rw];
                if score > best_score {
                    best_score = score;
                    best = Some(Split {
                        feature: f,
                        n_left: min_leaf + k,
                        left_w: lw as f64,
                        left_wy: lwy,
                        score,
                    });
                }
            }
        }
        let Some(split) = best else { continue };
        let gain = split.score - parent_score;
        if gain <= 0.0 || !gain.is_finite() {
            continue;
        }

        let split_list = &lists[split.feature * m + p.start..split.feature * m + p.end];
        let (below, above) = (
            split_list[split.n_left - 1].value,
            split_list[split.n_left].value,
        );
        let mut threshold = below + (above - below) / 2.0;
        // Rounding can push the midpoint onto the right value: keep it left.
        if threshold >= above {
            threshold = below;
        }
        let node = &mut nodes[id];
        node.feature = split.feature as u32;
        node.threshold = threshold;
        node.sse_decrease = gain;

        let mid = p.start + split.n_left;
        let splittable = (2 * params.min_leaf).max(params.min_split as usize).max(2);
        let deeper = p.depth + 1 < params.max_depth;
        let left_can_split = split.n_left >= splittable && deeper;
        let right_can_split = n - split.n_left >= splittable && deeper;
        if left_can_split || right_can_split {
            for (k, e) in lists[split.feature * m + p.start..split.feature * m + p.end]
                .iter()
                .enumerate()
            {
                goes_left[e.row as usize] = k < split.n_left;
            }
            for f in 0..nf {
                if f == split.feature || is_constant(&constant, f) {
                    continue; // already partitioned (sorted by the split value), or never read
                }
                let list = &mut lists[f * m + p.start..f * m + p.end];
                // Stable partition without a data-dependent branch: every entry is written to
                // both places and only the matching cursor advances (`write <= k` always).
                let (mut write, mut spill) = (0usize, 0usize);
                for k in 0..n {
                    let e = list[k];
                    let left = goes_left[e.row as usize];
                    list[write] = e;
                    scratch[spill] = e;
                    write += usize::from(left);
                    spill += usize::from(!left);
                }
                list[write..].copy_from_slice(&scratch[..spill]);
            }
        }
        constant_sets.extend_from_slice(&constant);
        constant_sets.extend_from_slice(&constant);
        stack.push(Pending {
            start: mid,
            end: p.end,
            depth: p.depth + 1,
            rows_in: split.feature,
            right_of: Some(id),
            sum_w: p.sum_w - split.left_w,
            sum_wy: p.sum_wy - split.left_wy,
        });
        stack.push(Pending {
            start: p.start,
            end: mid,
            depth: p.depth + 1,
            rows_in: split.feature,
            right_of: None,
            sum_w: split.left_w,
            sum_wy: split.left_wy,
        });
    }
    nodes
}

/// Where a row stops in a grown tree for each pruning level: `min_split[l]` is the fewest
/// distinct rows a node needs to keep its split. Writes one value per level into `out`.
pub(crate) fn walk_levels(nodes: &[GrowNode], row: &[f32], min_split: &[u32], out: &mut [f64]) {
    debug_assert_eq!(min_split.len(), out.len());
    // Levels sorted by descending min_split stop first; fill them as the path narrows.
    let mut pending = min_split.len();
    let mut i = 0usize;
    loop {
        let node = &nodes[i];
        while pending > 0 && node.n_distinct < min_split[pending - 1] {
            pending -= 1;
            out[pending] = node.value;
        }
        if node.feature == LEAF || pending == 0 {
            for o in out.iter_mut().take(pending) {
                *o = node.value;
            }
            return;
        }
        i = if row[node.feature as usize] <= node.threshold {
            i + 1
        } else {
            node.right as usize
        };
    }
}

/// Compacts a grown tree, turning every node with fewer than `min_split` distinct rows into a
/// leaf. Returns the tree and the SSE decrease per feature of the splits kept, or the number
/// of nodes when that is more than [`MAX_NODES`].
pub(crate) fn compact(
    nodes: &[GrowNode],
    min_split: u32,
    n_features: usize,
) -> Result<(Tree, Vec<f64>), usize> {
    let mut out = Vec::with_capacity(nodes.len());
    let mut importance = vec![0.0; n_features];
    // (grown index, index in `out` of the parent whose right child it is)
    let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
    while let Some((g, right_of)) = stack.pop() {
        let id = out.len();
        if let Some(parent) = right_of {
            let p: &mut Node = &mut out[parent];
            *p = Node::split(p.feature(), p.value, id as u32);
        }
        let node = &nodes[g];
        if node.feature == LEAF || node.n_distinct < min_split {
            out.push(Node::leaf(node.value as f32));
            continue;
        }
        importance[node.feature as usize] += node.sse_decrease;
        out.push(Node::split(node.feature, node.threshold, 0));
        stack.push((node.right as usize, Some(id)));
        stack.push((g + 1, None));
    }
    if out.len() > MAX_NODES {
        return Err(out.len());
    }
    Ok((Tree::from_stored(out, n_features), importance))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::forest::fixtures::{data, discrete_data, reciprocals};

    #[test]
    fn growing_with_min_split_equals_pruning_a_full_tree() {
        let d = data();
        let weights: Vec<u32> = (0..d.n_rows).map(|i| (i % 3) as u32).collect();
        let recip: Vec<f64> = (0..=2 * d.n_rows)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
            .collect();
        let full = GrowParams {
            max_depth: usize::MAX,
            min_leaf: 1,
            min_split: 2,
            features_per_split: 4,
        };
        let grown = grow(
            &d,
            &weights,
            &recip,
            &full,
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        for m in [4u32, 16, 64] {
            let early = GrowParams {
                min_split: m,
                ..full
            };
            let shallow = grow(
                &d,
                &weights,
                &recip,
                &early,
                &mut ChaCha8Rng::seed_from_u64(1),
            );
            let (pruned, imp_a) = compact(&grown, m, 4).unwrap();
            let (direct, imp_b) = compact(&shallow, m, 4).unwrap();
            assert_eq!(pruned, direct, "min_split {m}");
            assert_eq!(imp_a, imp_b);
            assert!(pruned.n_nodes() < grown.len());
        }
    }

    /// The definition of an exact best split, grown recursively and without any of `grow`'s
    /// shortcuts (presorted lists, skipped constant features, accumulate-only prefixes): a node
    /// in preorder is `(feature or LEAF, threshold, distinct rows, value)`.
    fn reference_grow(
        d: &Presorted,
        weights: &[u32],
        recip: &[f64],
        params: &GrowParams,
        rows: Vec<u32>,
        depth: usize,
        out: &mut Vec<(u32, f32, u32, f64)>,
    ) {
        let n = rows.len();
        let w = |r: u32| f64::from(weights[r as usize]);
        let sum_w: f64 = rows.iter().map(|&r| w(r)).sum();
        let sum_wy: f64 = rows.iter().map(|&r| w(r) * d.y[r as usize]).sum();
        let value = sum_wy / sum_w;
        let id = out.len();
        out.push((LEAF, 0.0, n as u32, value));
        if n < 2 * params.min_leaf
            || n < params.min_split.max(2) as usize
            || depth >= params.max_depth
        {
            return;
        }
        let sse: f64 = rows
            .iter()
            .map(|&r| w(r) * d.y[r as usize] * d.y[r as usize])
            .sum::<f64>()
            - sum_wy * value;
        if sse <= 1e-12 * sum_w.max(1.0) {
            return;
        }
        let mut best: Option<(f64, usize, usize, Vec<u32>)> = None;
        for f in 0..d.n_features {
            let mut sorted = rows.clone();
            sorted.sort_by(|&a, &b| d.value(f, a).total_cmp(&d.value(f, b)).then(a.cmp(&b)));
            let (mut lw, mut lwy) = (0.0, 0.0);
            for k in 0..n - 1 {
                lw += w(sorted[k]);
                lwy += w(sorted[k]) * d.y[sorted[k] as usize];
                let n_left = k + 1;
                if d.value(f, sorted[k + 1]) <= d.value(f, sorted[k])
                    || n_left < params.min_leaf
                    || n - n_left < params.min_leaf
                {
                    continue;
                }
                let rw = sum_w - lw;
                let rwy = sum_wy - lwy;
                let score = lwy * lwy * recip[lw as usize] + rwy * rwy * recip[rw as usize];
                if best.as_ref().is_none_or(|b| score > b.0) {
                    best = Some((score, f, n_left, sorted.clone()));
                }
            }
        }
        let Some((score, f, n_left, sorted)) = best else {
            return;
        };
        if score - sum_wy * sum_wy / sum_w <= 0.0 {
            return;
        }
        let (below, above) = (d.value(f, sorted[n_left - 1]), d.value(f, sorted[n_left]));
        let mut threshold = below + (above - below) / 2.0;
        if threshold >= above {
            threshold = below;
        }
        out[id] = (f as u32, threshold, n as u32, value);
        let mut left = sorted[..n_left].to_vec();
        let mut right = sorted[n_left..].to_vec();
        left.sort_unstable();
        right.sort_unstable();
        reference_grow(d, weights, recip, params, left, depth + 1, out);
        reference_grow(d, weights, recip, params, right, depth + 1, out);
    }

    #[test]
    fn grown_trees_equal_the_reference_definition_of_exact_splits() {
        let (d, weights) = discrete_data(300);
        let recip = reciprocals(4 * d.n_rows);
        let in_bag: Vec<u32> = (0..d.n_rows as u32)
            .filter(|&r| weights[r as usize] > 0)
            .collect();
        for (min_leaf, min_split, max_depth) in [
            (1, 2, usize::MAX),
            (2, 2, usize::MAX),
            (5, 8, usize::MAX),
            (1, 2, 4),
        ] {
            let params = GrowParams {
                max_depth,
                min_leaf,
                min_split,
                features_per_split: d.n_features,
            };
            let grown = grow(
                &d,
                &weights,
                &recip,
                &params,
                &mut ChaCha8Rng::seed_from_u64(3),
            );
            let mut want = Vec::new();
            reference_grow(&d, &weights, &recip, &params, in_bag.clone(), 0, &mut want);
            let got: Vec<(u32, f32, u32, f64)> = grown
                .iter()
                .map(|g| (g.feature, g.threshold, g.n_distinct, g.value))
                .collect();
            assert_eq!(
                got, want,
                "min_leaf {min_leaf}, min_split {min_split}, max_depth {max_depth}"
            );
            // The constant column never splits; the data is rich enough to need every other.
            assert!(got.iter().all(|n| n.0 != 3));
            for f in [0, 1, 2, 4] {
                assert!(
                    max_depth < 5 || got.iter().any(|n| n.0 == f),
                    "feature {f} unused"
                );
            }
        }
    }
}
