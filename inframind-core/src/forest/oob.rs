//! Out-of-bag scores: each row predicted only by the trees whose bootstrap left it out.

#[cfg(feature = "parallel")]
use rayon::prelude::*;

use super::grow::{self, GrowNode, Presorted};
use super::tree::{self, Tree, WalkScratch};

/// Rows per task of [`oob_r2_compact`]: enough to fill the lanes of every tree.
const OOB_CHUNK_ROWS: usize = 512;

/// Out-of-bag R² of the final forest: each row predicted by the compact trees whose bootstrap
/// left it out, [`LANES`](tree::LANES) rows at a time through each tree. Chunks of rows are
/// independent and each row sums its trees in tree order, so the score does not depend on the
/// thread count.
/// `None` when fewer than two rows were left out of some tree.
pub(super) fn oob_r2_compact(data: &Presorted, trees: &[(&Tree, &[u32])]) -> Option<f64> {
    let n = data.n_rows;
    let nf = data.n_features;
    let stride = nf + 1;
    let mut rows = vec![f32::NAN; n * stride];
    for f in 0..nf {
        for (i, &v) in data.values[f * n..(f + 1) * n].iter().enumerate() {
            rows[i * stride + f] = v;
        }
    }
    let chunks = 0..n.div_ceil(OOB_CHUNK_ROWS);
    #[cfg(feature = "parallel")]
    let chunks = chunks.into_par_iter();
    let per_chunk: Vec<Vec<(f64, u32)>> = chunks
        .map(|c| {
            let lo = c * OOB_CHUNK_ROWS;
            let hi = (lo + OOB_CHUNK_ROWS).min(n);
            let mut acc = vec![(0.0f64, 0u32); hi - lo];
            let mut starts = Vec::with_capacity(hi - lo);
            let mut which = Vec::with_capacity(hi - lo);
            let mut leaf = Vec::with_capacity(hi - lo);
            let mut scratch = WalkScratch::default();
            for (tree, weights) in trees {
                which.clear();
                which.extend((lo..hi).filter(|&i| weights[i] == 0));
                starts.clear();
                starts.extend(which.iter().map(|&i| i * stride));
                leaf.resize(which.len(), 0.0);
                tree::walk_to_leaves(tree.walkable(), &rows, &starts, &mut leaf, &mut scratch);
                for (&i, &v) in which.iter().zip(&leaf) {
                    let a = &mut acc[i - lo];
                    a.0 += f64::from(v);
                    a.1 += 1;
                }
            }
            acc
        })
        .collect();
    let covered: Vec<(f64, f64)> = per_chunk
        .iter()
        .flatten()
        .zip(&data.y)
        .filter(|((_, count), _)| *count > 0)
        .map(|(&(sum, count), &y)| (y, sum / f64::from(count)))
        .collect();
    r2(&covered)
}

/// R² of (target, prediction) pairs; `None` for fewer than two pairs or constant targets.
fn r2(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let mean_y = pairs.iter().map(|(y, _)| y).sum::<f64>() / pairs.len() as f64;
    let ss_tot: f64 = pairs.iter().map(|(y, _)| (y - mean_y).powi(2)).sum();
    let ss_res: f64 = pairs.iter().map(|(y, p)| (y - p).powi(2)).sum();
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

/// Out-of-bag R² for each pruning level, computed row by row (deterministic whatever the
/// thread count). `None` when no row was left out of every tree's bootstrap.
pub(super) fn oob_r2_per_level(
    data: &Presorted,
    grown: &[(Vec<GrowNode>, Vec<u32>)],
    levels: &[u32],
) -> Option<Vec<f64>> {
    let n = data.n_rows;
    let nf = data.n_features;
    let l = levels.len();
    let rows = 0..n;
    #[cfg(feature = "parallel")]
    let rows = rows.into_par_iter();
    let per_row: Vec<Option<Vec<f64>>> = rows
        .map(|i| {
            let row: Vec<f32> = (0..nf).map(|f| data.values[f * n + i]).collect();
            let mut acc = vec![0.0; l];
            let mut out = vec![0.0; l];
            let mut count = 0usize;
            for (nodes, weights) in grown {
                if weights[i] == 0 {
                    grow::walk_levels(nodes, &row, levels, &mut out);
                    acc.iter_mut().zip(&out).for_each(|(a, o)| *a += o);
                    count += 1;
                }
            }
            (count > 0).then(|| acc.into_iter().map(|a| a / count as f64).collect())
        })
        .collect();
    let covered: Vec<(f64, &Vec<f64>)> = per_row
        .iter()
        .zip(&data.y)
        .filter_map(|(p, &y)| p.as_ref().map(|p| (y, p)))
        .collect();
    if covered.len() < 2 {
        return None;
    }
    Some(
        (0..l)
            .map(|lv| {
                let pairs: Vec<(f64, f64)> = covered.iter().map(|(y, p)| (*y, p[lv])).collect();
                r2(&pairs).unwrap_or(f64::NEG_INFINITY)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::forest::grow::GrowParams;

    #[test]
    fn oob_score_of_the_compact_trees_equals_the_grown_trees_score() {
        // Grown trees and their bootstrap weights, grown here (a fitted forest keeps neither).
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| r[0] * 2.0 + r[1] - r[2])
            .collect();
        let columns: Vec<Vec<f32>> = (0..3)
            .map(|f| x.column(f).iter().map(|&v| v as f32).collect())
            .collect();
        let data = Presorted::new(columns, y);
        let recip: Vec<f64> = (0..=300)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
            .collect();
        let grow = GrowParams {
            max_depth: usize::MAX,
            min_leaf: 1,
            min_split: 2,
            features_per_split: 3,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let grown: Vec<(Vec<GrowNode>, Vec<u32>)> = (0..20)
            .map(|_| {
                let mut w = vec![0u32; 300];
                for _ in 0..300 {
                    w[rng.random_range(0..300)] += 1;
                }
                (grow::grow(&data, &w, &recip, &grow, &mut rng), w)
            })
            .collect();
        for m in [2u32, 8] {
            let compact: Vec<Tree> = grown
                .iter()
                .map(|(g, _)| grow::compact(g, m, 3).unwrap().0)
                .collect();
            let pairs: Vec<(&Tree, &[u32])> = compact
                .iter()
                .zip(&grown)
                .map(|(t, (_, w))| (t, &w[..]))
                .collect();
            let fast = oob_r2_compact(&data, &pairs).unwrap();
            let slow = oob_r2_per_level(&data, &grown, &[m]).unwrap()[0];
            // Leaves are stored as f32 in compact trees.
            assert!(
                (fast - slow).abs() < 1e-6,
                "min_split {m}: {fast} vs {slow}"
            );
        }
    }
}
