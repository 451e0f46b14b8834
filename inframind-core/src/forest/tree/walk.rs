//! Walks down trees in lockstep: [`LANES`] rows down one tree, or one row down [`LANES`]
//! trees, with no data-dependent branch inside a step.

use super::{Node, Tree, LANES};

/// A tree in walking form (a leaf's feature is `n_features` and its right child itself),
/// checked once so that walks can skip bounds checks: every split's feature is below
/// `n_features` and its children lie inside the tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walkable<'a> {
    nodes: &'a [Node],
    /// Values per row: the features, then the NaN that leaves read.
    stride: usize,
    /// Longest root-to-leaf path, in edges.
    depth: u32,
    /// Steps before the first look for rows at their leaf ([`Tree::first_look`]).
    first_look: u32,
}

impl<'a> Walkable<'a> {
    /// Panics unless every row starting at `starts` lies inside `rows`: what
    /// [`step_lanes`] needs besides the tree's own checks.
    fn check_rows(self, rows: &[f32], starts: &[usize]) {
        assert!(
            starts.iter().all(|&s| s + self.stride <= rows.len()),
            "every row walked must lie inside the rows"
        );
    }
}

impl Tree {
    /// The tree, ready for [`walk_to_leaves`].
    pub(crate) fn walkable(&self) -> Walkable<'_> {
        Walkable {
            nodes: &self.nodes,
            stride: self.n_features as usize + 1,
            depth: self.depth,
            first_look: self.first_look,
        }
    }
}

/// The trees the lanes of [`step_lanes`] walk.
trait LaneTrees {
    /// Node `i` of lane `j`'s tree.
    ///
    /// # Safety
    /// `i` is a node of that tree.
    unsafe fn node(&self, j: usize, i: usize) -> Node;
}

/// Every lane walks the same tree (rows down one tree).
struct OneTree<'a>(&'a [Node]);

impl LaneTrees for OneTree<'_> {
    #[inline(always)]
    unsafe fn node(&self, _: usize, i: usize) -> Node {
        // SAFETY: forwarded from the caller.
        unsafe { *self.0.get_unchecked(i) }
    }
}

/// Each lane walks its own tree (one row down many trees).
struct TreePerLane<'a>([&'a [Node]; LANES]);

impl LaneTrees for TreePerLane<'_> {
    #[inline(always)]
    unsafe fn node(&self, j: usize, i: usize) -> Node {
        // SAFETY: forwarded from the caller.
        unsafe { *self.0[j].get_unchecked(i) }
    }
}

/// Moves each lane `steps` levels down its tree: lane `j` is at node `idx[j]` with its row
/// starting at `base[j]` in `rows`.
///
/// The caller guarantees what the bounds checks would test, once for all steps: each lane's
/// tree is [`Walkable`], `idx[j]` is a node of it, and the row `base[j] .. base[j] +
/// n_features + 1` lies inside `rows`. The checked version spent half its time on the checks
/// and on the registers they tie up.
#[inline(always)]
fn step_lanes(
    trees: &impl LaneTrees,
    rows: &[f32],
    base: &[usize; LANES],
    idx: &mut [usize; LANES],
    steps: u32,
) {
    for _ in 0..steps {
        for j in 0..LANES {
            // SAFETY: by the caller's guarantee, `idx[j]` is a node of lane `j`'s tree, its
            // feature is at most `n_features`, so `base[j] + feature` is inside `rows`, and
            // both children (or the leaf itself) are nodes of that tree again.
            let (n, x) = unsafe {
                let n = trees.node(j, idx[j]);
                (n, *rows.get_unchecked(base[j] + n.feature() as usize))
            };
            // Which way a row goes is unpredictable: a conditional move, not a jump.
            idx[j] = std::hint::select_unpredictable(x <= n.value, idx[j] + 1, n.right());
        }
    }
}

/// Steps between two looks for rows that reached their leaf in [`walk_to_leaves`].
pub(super) const STEPS_PER_CHECK: u32 = 4;

/// What one look for rows at their leaf costs a row in [`walk_to_leaves`], in steps: its
/// block's setup, the read of its node and its move to the next round. Measured with `perf`
/// on the 150-row batch of the 50k demo model: looks took 40% of the walk at 3.5 looks and
/// 15 steps per row, about 3 steps a look.
const LOOK_COST: u64 = 3;

/// The first round's length for walks that end at leaves of depth `d` as often as
/// `leaves_by_depth[d]`: the one that minimises steps plus [`LOOK_COST`] per look, summed over
/// the leaves as if rows reached each leaf equally often (leaves of a pruned tree hold about as
/// many training rows each; leaves of a full-depth tree one or two). At least the shallowest
/// leaf's depth (no walk stops earlier), at most the deepest (one round), and 0 only when
/// every leaf is a root.
pub(super) fn first_look(leaves_by_depth: &[u64]) -> u32 {
    let shallowest = leaves_by_depth.iter().position(|&n| n > 0).unwrap_or(0) as u32;
    let depth = leaves_by_depth.iter().rposition(|&n| n > 0).unwrap_or(0) as u32;
    let cost = |first: u32| -> u64 {
        leaves_by_depth
            .iter()
            .enumerate()
            .map(|(d, &leaves)| {
                let later = (d as u32).saturating_sub(first).div_ceil(STEPS_PER_CHECK);
                let steps = (first + later * STEPS_PER_CHECK).min(depth);
                leaves * (u64::from(steps) + LOOK_COST * u64::from(1 + later))
            })
            .sum()
    };
    (shallowest.max(depth.min(1))..=depth)
        .min_by_key(|&first| cost(first))
        .unwrap_or(depth)
}

/// Buffers [`walk_to_leaves`] reuses from call to call.
#[derive(Debug, Default)]
pub(crate) struct WalkScratch {
    /// (row, node it is at) of the rows still walking.
    walking: Vec<(u32, u32)>,
    /// The same for the next round.
    next: Vec<(u32, u32)>,
}

/// Walks the rows starting at `starts` in `rows` (each `n_features + 1` values, NaN last)
/// down `tree` and writes row `i`'s leaf value into `out[i]`.
///
/// Rows walk [`LANES`] at a time in lockstep, without a data-dependent branch inside a step.
/// Every row first takes the tree's [`first_look`] steps; after that, every
/// [`STEPS_PER_CHECK`] steps the rows that reached their leaf leave the lockstep and the
/// others close ranks. A row thus walks about as far as its own path, not as far as the tree's
/// deepest one (for a full-depth forest, half as far).
pub(crate) fn walk_to_leaves(
    tree: Walkable<'_>,
    rows: &[f32],
    starts: &[usize],
    out: &mut [f32],
    scratch: &mut WalkScratch,
) {
    assert_eq!(starts.len(), out.len(), "one leaf value per row");
    tree.check_rows(rows, starts);
    let nodes = tree.nodes;
    walk_items(
        tree.depth,
        tree.first_look,
        out,
        scratch,
        |block, idx, steps| {
            let mut base = [0usize; LANES];
            for (j, b) in base.iter_mut().enumerate() {
                // Spare lanes repeat the first row: same work, no branch.
                let (r, at) = block[if j < block.len() { j } else { 0 }];
                idx[j] = at as usize;
                *b = starts[r as usize];
            }
            step_lanes(&OneTree(nodes), rows, &base, idx, steps);
        },
        |_, i| nodes[i],
    );
}

/// The first round of [`walk_trees_to_leaves`] down `trees`: [`first_look`] over the leaves
/// of all of them (one row's walks end at the leaves of every tree).
pub(super) fn first_look_across(trees: &[Tree]) -> u32 {
    let mut leaves_by_depth = Vec::new();
    for t in trees {
        if leaves_by_depth.len() < t.leaves_by_depth.len() {
            leaves_by_depth.resize(t.leaves_by_depth.len(), 0);
        }
        for (all, &n) in leaves_by_depth.iter_mut().zip(&t.leaves_by_depth) {
            *all += n;
        }
    }
    first_look(&leaves_by_depth)
}

/// Walks one row (`n_features + 1` values, NaN last) down every tree and writes tree `t`'s
/// leaf value into `out[t]`, [`LANES`] trees in lockstep, the way [`walk_to_leaves`] walks
/// rows: a tree whose walk ended leaves the lockstep to the next one. The first look for
/// walks that ended comes after `first_look` steps ([`first_look_across`] the trees).
pub(crate) fn walk_trees_to_leaves(
    trees: &[Tree],
    first_look: u32,
    row: &[f32],
    out: &mut [f32],
    scratch: &mut WalkScratch,
) {
    assert_eq!(trees.len(), out.len(), "one leaf value per tree");
    if trees.is_empty() {
        return;
    }
    for t in trees {
        t.walkable().check_rows(row, &[0]);
    }
    let depth = trees.iter().map(|t| t.depth).max().unwrap_or(0);
    let base = [0usize; LANES];
    walk_items(
        depth,
        first_look,
        out,
        scratch,
        |block, idx, steps| {
            let mut lanes = [&trees[block[0].0 as usize].nodes[..]; LANES];
            for (j, &(t, at)) in block.iter().enumerate() {
                idx[j] = at as usize;
                lanes[j] = &trees[t as usize].nodes;
            }
            for i in idx.iter_mut().skip(block.len()) {
                *i = block[0].1 as usize;
            }
            step_lanes(&TreePerLane(lanes), row, &base, idx, steps);
        },
        |t, i| trees[t as usize].nodes[i],
    );
}

/// The rounds of [`walk_to_leaves`] and [`walk_trees_to_leaves`] over `out.len()` walks,
/// each at most `depth` steps, the first round `first_look` steps (at least 1 unless `depth`
/// is 0), the others [`STEPS_PER_CHECK`]: `step(block, idx, steps)` moves the
/// walks of `block` ((walk, node it is at), up to [`LANES`]) `steps` levels down, leaving
/// their nodes in `idx`; `node(walk, i)` reads node `i` of that walk's tree.
#[inline(always)]
fn walk_items(
    depth: u32,
    first_look: u32,
    out: &mut [f32],
    scratch: &mut WalkScratch,
    mut step: impl FnMut(&[(u32, u32)], &mut [usize; LANES], u32),
    node: impl Fn(u32, usize) -> Node,
) {
    assert!(
        u32::try_from(out.len()).is_ok(),
        "at most 2^32 walks at a time"
    );
    let WalkScratch { walking, next } = scratch;
    walking.clear();
    walking.extend((0..out.len() as u32).map(|w| (w, 0)));
    let mut walked = 0;
    let mut steps = first_look.clamp(depth.min(1), depth);
    while !walking.is_empty() {
        walked += steps;
        let last_round = walked >= depth;
        // Every walk is written to `next` and its node's value to `out`; only walks not yet
        // at a leaf advance `kept`, and a walk's final write to `out` is its leaf's value.
        next.clear();
        next.resize(walking.len(), (0, 0));
        let mut kept = 0;
        for block in walking.chunks(LANES) {
            let mut idx = [0usize; LANES];
            step(block, &mut idx, steps);
            for (j, &(w, _)) in block.iter().enumerate() {
                let n = node(w, idx[j]);
                out[w as usize] = n.value;
                next[kept] = (w, idx[j] as u32);
                kept += usize::from(n.right() != idx[j]);
            }
        }
        if last_round {
            break;
        }
        next.truncate(kept);
        std::mem::swap(walking, next);
        steps = STEPS_PER_CHECK.min(depth - walked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::tree::fixtures::{
        leaf_by_plain_walk, longest_and_shortest_path, padded_rows, trees_of_several_shapes,
    };

    #[test]
    fn rows_walked_in_lockstep_reach_the_leaves_of_a_plain_walk() {
        let (d, trees) = trees_of_several_shapes();
        let stride = d.n_features + 1;
        let rows = padded_rows(&d);
        let mut scratch = WalkScratch::default();
        for tree in &trees {
            // Any first round, from none to past the deepest leaf, not only the chosen one.
            for first_look in 0..=tree.depth + 1 {
                let walkable = Walkable {
                    first_look,
                    ..tree.walkable()
                };
                // Any rows in any order, repeated, fewer or more than the lanes.
                for n in [0, 1, 7, 8, 9, 150, d.n_rows] {
                    let starts: Vec<usize> = (0..n).map(|i| (i * 37 % d.n_rows) * stride).collect();
                    let mut out = vec![f32::NAN; n];
                    walk_to_leaves(walkable, &rows, &starts, &mut out, &mut scratch);
                    for (&s, &got) in starts.iter().zip(&out) {
                        let row = &rows[s..s + stride];
                        assert_eq!(
                            got,
                            leaf_by_plain_walk(&tree.nodes, d.n_features, row),
                            "first look after {first_look} steps, {n} rows"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_first_look_comes_when_it_saves_more_steps_than_it_costs() {
        let first_look_of = |leaf_depths: &[u32]| {
            let mut by_depth = vec![0; 64];
            leaf_depths.iter().for_each(|&d| by_depth[d as usize] += 1);
            first_look(&by_depth)
        };
        assert_eq!(first_look_of(&[0]), 0, "a single leaf: no step");
        assert_eq!(first_look_of(&[7; 16]), 7, "leaves all as deep: one round");
        // One leaf near the root must not cost the rows of 100 deep leaves three more looks.
        let mut one_shallow = vec![12; 100];
        one_shallow.push(1);
        assert_eq!(first_look_of(&one_shallow), 12);
        // Half the rows stop at depth 2: looking there spares them 28 steps each.
        let halves: Vec<u32> = [2, 30].iter().flat_map(|&d| [d; 50]).collect();
        assert_eq!(first_look_of(&halves), 2);
        // Never before the shallowest leaf, never past the deepest.
        let trees = trees_of_several_shapes().1;
        for tree in &trees {
            let shallowest = longest_and_shortest_path(&tree.nodes).1;
            assert!((shallowest..=tree.depth).contains(&tree.first_look));
        }
        // Across trees: the leaves of all of them count, the stump's and the single leaf's too.
        let mut all = Vec::new();
        for t in &trees {
            let mut stack = vec![(0, 0)];
            while let Some((i, d)) = stack.pop() {
                let n = t.nodes[i];
                if n.right() == i {
                    all.push(d);
                } else {
                    stack.extend([(i + 1, d + 1), (n.right(), d + 1)]);
                }
            }
        }
        assert_eq!(first_look_across(&trees), first_look_of(&all));
        assert_eq!(first_look_across(&trees[3..]), 0, "only a single leaf");
        assert_eq!(first_look_across(&[]), 0, "no tree");
    }

    #[test]
    fn one_row_walked_down_trees_in_lockstep_reaches_the_leaves_of_a_plain_walk() {
        let (d, shapes) = trees_of_several_shapes();
        let stride = d.n_features + 1;
        let rows = padded_rows(&d);
        let mut scratch = WalkScratch::default();
        for n in [0, 1, 3, 8, 9, 21] {
            let trees: Vec<Tree> = (0..n).map(|t| shapes[t * 5 % 4].clone()).collect();
            let depth = trees.iter().map(|t| t.depth).max().unwrap_or(0);
            // The chosen first look, and any other.
            let chosen = first_look_across(&trees);
            for first_look in std::iter::once(chosen).chain(0..=depth + 1) {
                for r in (0..d.n_rows).step_by(13) {
                    let row = &rows[r * stride..(r + 1) * stride];
                    let mut out = vec![f32::NAN; n];
                    walk_trees_to_leaves(&trees, first_look, row, &mut out, &mut scratch);
                    for (t, &got) in trees.iter().zip(&out) {
                        assert_eq!(
                            got,
                            leaf_by_plain_walk(&t.nodes, d.n_features, row),
                            "{n} trees, first look after {first_look} steps"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "inside the rows")]
    fn a_row_outside_the_rows_is_refused_before_walking() {
        let (d, trees) = trees_of_several_shapes();
        let rows = padded_rows(&d);
        let start = rows.len() - d.n_features; // one value short
        let mut out = [0.0];
        walk_to_leaves(
            trees[0].walkable(),
            &rows,
            &[start],
            &mut out,
            &mut Default::default(),
        );
    }
}
