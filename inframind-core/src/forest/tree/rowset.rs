//! Rows that differ only on a few features, walked down a tree as sets of rows.

use super::Tree;

/// Most rows one [`RowSets`] holds.
pub(crate) const SET_ROWS: usize = 256;
const SET_WORDS: usize = SET_ROWS / 64;
/// A set of rows of one [`RowSets`], a bit each.
pub(crate) type RowSet = [u64; SET_WORDS];

fn is_empty(set: &RowSet) -> bool {
    set.iter().all(|&w| w == 0)
}

/// `out[r] = value` for each row `r` of `set`.
fn fill_rows(set: &RowSet, value: f32, out: &mut [f32]) {
    for (w, &bits) in set.iter().enumerate() {
        if bits == u64::MAX {
            out[w * 64..(w + 1) * 64].fill(value);
            continue;
        }
        let mut b = bits;
        while b != 0 {
            out[w * 64 + b.trailing_zeros() as usize] = value;
            b &= b - 1;
        }
    }
}

/// Up to [`SET_ROWS`] rows that differ only on some features, as sets of rows by threshold,
/// for [`Tree::leaves_of_row_sets`]: for each varying feature, its distinct values in
/// increasing order and, for each value, the set of rows whose value is at most it. A row
/// whose value is NaN is in none of them (`NaN <= t` is false), as in a walk.
#[derive(Debug, Default)]
pub(crate) struct RowSets {
    n_rows: usize,
    all: RowSet,
    /// Per feature: `None` if it is fixed, else its range in `values` and `at_most`.
    features: Vec<Option<(usize, usize)>>,
    values: Vec<f32>,
    at_most: Vec<RowSet>,
    /// (value, row) of one feature, sorted while filling.
    sorted: Vec<(f32, usize)>,
}

impl RowSets {
    /// Fills the sets for `rows` (at most [`SET_ROWS`] of `stride` values each) whose features
    /// `f` with `varies[f]` vary; the buffers are reused from call to call.
    pub(crate) fn fill(&mut self, rows: &[f32], stride: usize, varies: &[bool]) {
        let n = rows.len() / stride;
        assert!(n <= SET_ROWS, "at most {SET_ROWS} rows in one set of rows");
        assert!(varies.len() < stride, "one flag per feature");
        self.n_rows = n;
        self.all = [0; SET_WORDS];
        for r in 0..n {
            self.all[r / 64] |= 1 << (r % 64);
        }
        self.features.clear();
        self.values.clear();
        self.at_most.clear();
        for (f, &v) in varies.iter().enumerate() {
            if !v {
                self.features.push(None);
                continue;
            }
            let start = self.values.len();
            self.sorted.clear();
            self.sorted.extend(
                rows.chunks_exact(stride)
                    .map(|row| row[f])
                    .enumerate()
                    .filter(|(_, x)| !x.is_nan())
                    .map(|(r, x)| (x, r)),
            );
            self.sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let mut set = [0; SET_WORDS];
            for (k, &(x, r)) in self.sorted.iter().enumerate() {
                set[r / 64] |= 1 << (r % 64);
                // -0.0 and 0.0 are one value: no threshold tells them apart.
                if self.sorted.get(k + 1).is_none_or(|next| next.0 != x) {
                    self.values.push(x);
                    self.at_most.push(set);
                }
            }
            self.features.push(Some((start, self.values.len())));
        }
    }

    /// The rows whose feature `f` is at most `threshold`, or `None` if `f` is fixed.
    #[inline]
    fn at_most(&self, f: usize, threshold: f32) -> Option<RowSet> {
        let (start, end) = self.features[f]?;
        // Few values per feature: a branch-free count (a binary search measured the same).
        let below = self.values[start..end]
            .iter()
            .map(|&x| usize::from(x <= threshold))
            .sum::<usize>();
        Some(if below == 0 {
            [0; SET_WORDS]
        } else {
            self.at_most[start + below - 1]
        })
    }
}

impl Tree {
    /// Writes into `out[r]` the leaf value that row `r` of `sets` reaches in this tree. The
    /// rows equal `template` on every feature that does not vary in `sets`.
    ///
    /// The walk visits each node that some row reaches once, with the set of rows that reach
    /// it: a split on a fixed feature sends the whole set one way (decided on the template),
    /// a split on a varying feature divides it with one lookup and a few word operations. The
    /// optimizer's candidates share one context and differ in a few config features, so most
    /// splits are decided once for all of them, and the rest cost per set, not per row.
    ///
    /// `template` has `n_features + 1` values (the last NaN), `out` one per row of `sets`.
    pub(crate) fn leaves_of_row_sets(
        &self,
        template: &[f32],
        sets: &RowSets,
        out: &mut [f32],
        stack: &mut Vec<(usize, RowSet)>,
    ) {
        assert_eq!(out.len(), sets.n_rows, "one leaf value per row");
        let nf = self.n_features as usize;
        stack.clear();
        if sets.n_rows > 0 {
            stack.push((0, sets.all));
        }
        while let Some((mut i, mut set)) = stack.pop() {
            loop {
                let n = self.nodes[i];
                let f = n.feature() as usize;
                if f == nf {
                    fill_rows(&set, n.value, out);
                    break;
                }
                let Some(at_most) = sets.at_most(f, n.value) else {
                    i = if template[f] <= n.value {
                        i + 1
                    } else {
                        n.right()
                    };
                    continue;
                };
                let left: RowSet = std::array::from_fn(|w| set[w] & at_most[w]);
                let right: RowSet = std::array::from_fn(|w| set[w] & !at_most[w]);
                match (is_empty(&left), is_empty(&right)) {
                    (false, false) => {
                        stack.push((n.right(), right));
                        (i, set) = (i + 1, left);
                    }
                    (false, true) => i += 1,
                    _ => i = n.right(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::forest::fixtures::{discrete_data, reciprocals};
    use crate::forest::grow::{compact, grow, GrowParams, Presorted};
    use crate::forest::tree::fixtures::{leaf_by_plain_walk, trees_of_several_shapes};

    /// Rows that equal a template on the fixed features, with varying features taken from
    /// the data, NaN, -0.0 and the tree's own thresholds (a row exactly at a split goes left).
    fn rows_around_template(
        d: &Presorted,
        tree: &Tree,
        template: &[f32],
        varies: &[bool],
        n: usize,
    ) -> Vec<f32> {
        let thresholds: Vec<f32> = (tree.nodes.iter())
            .filter(|n| n.feature() < tree.n_features)
            .map(|n| n.value)
            .collect();
        let mut rows = Vec::new();
        for r in 0..n {
            for (f, &t) in template.iter().enumerate() {
                rows.push(match r % 7 {
                    _ if f >= d.n_features || !varies[f] => t,
                    0 => f32::NAN,
                    1 => -0.0,
                    2 if !thresholds.is_empty() => thresholds[r % thresholds.len()],
                    _ => d.value(f, (r * 3 % d.n_rows) as u32),
                });
            }
        }
        rows
    }

    #[test]
    fn rows_as_sets_reach_the_leaves_of_a_plain_walk() {
        let (discrete, weights) = discrete_data(300);
        let recip = reciprocals(4 * discrete.n_rows);
        let params = GrowParams {
            max_depth: usize::MAX,
            min_leaf: 1,
            min_split: 2,
            features_per_split: discrete.n_features,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let grown = grow(&discrete, &weights, &recip, &params, &mut rng);
        let (deep, _) = compact(&grown, 2, discrete.n_features).unwrap();
        let (shaped, shapes) = trees_of_several_shapes();
        let cases =
            std::iter::once((&discrete, deep)).chain(shapes.into_iter().map(|t| (&shaped, t)));
        let (mut sets, mut stack) = (RowSets::default(), Vec::new());
        let mut checked = 0;
        for (d, tree) in cases {
            let nf = d.n_features;
            let patterns: Vec<Vec<bool>> = vec![
                (0..nf).map(|f| f % 3 == 0).collect(),
                (0..nf).map(|f| f == 2).collect(),
                vec![true; nf],
                vec![false; nf],
            ];
            for varies in &patterns {
                for t in [0, 11, 123] {
                    let template: Vec<f32> = (0..=nf)
                        .map(|f| if f < nf { d.value(f, t) } else { f32::NAN })
                        .collect();
                    for n in [0, 1, 63, 64, 65, 200, SET_ROWS] {
                        let rows = rows_around_template(d, &tree, &template, varies, n);
                        sets.fill(&rows, nf + 1, varies);
                        let mut out = vec![f32::NAN; n];
                        tree.leaves_of_row_sets(&template, &sets, &mut out, &mut stack);
                        for (r, row) in rows.chunks(nf + 1).enumerate() {
                            let plain = leaf_by_plain_walk(&tree.nodes, nf, row);
                            assert_eq!(out[r], plain, "row {r} of {n}, template {t}, {varies:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked} rows checked");
    }

    #[test]
    #[should_panic(expected = "at most 256 rows")]
    fn a_set_of_rows_holds_at_most_set_rows() {
        RowSets::default().fill(&vec![0.0; 2 * (SET_ROWS + 1)], 2, &[true]);
    }
}
