//! One regression tree: exact best splits on presorted columns, grown depth-first with an
//! explicit stack (a degenerate dataset cannot overflow the thread's stack), stored in preorder
//! so that a node's left child is the next node.

use std::sync::Arc;

use rand::seq::index::sample;
use rand::Rng;

/// Marks a leaf in [`Node::meta`]'s feature bits.
pub(crate) const LEAF: u32 = (1 << FEATURE_BITS) - 1;
/// Bits of [`Node::meta`] that hold the split feature.
pub(crate) const FEATURE_BITS: u32 = 10;
/// Most features a forest accepts (one value of the 10 bits marks leaves).
pub(crate) const MAX_FEATURES: usize = LEAF as usize;
/// Rows a tree walks in lockstep in batch prediction.
pub(crate) const LANES: usize = 8;
/// Most nodes one tree may have (the right-child index gets the other 22 bits).
pub(crate) const MAX_NODES: usize = 1 << (32 - FEATURE_BITS);

/// A compact node: 8 bytes. Internal nodes hold the split threshold, leaves their prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    /// Threshold (go left when `x <= value`) or, in a leaf, the predicted value.
    pub(crate) value: f32,
    /// Low 10 bits: split feature or [`LEAF`]; high 22 bits: index of the right child.
    pub(crate) meta: u32,
}

impl Node {
    pub(crate) fn leaf(value: f32) -> Self {
        Node { value, meta: LEAF }
    }
    pub(crate) fn split(feature: u32, threshold: f32, right: u32) -> Self {
        Node {
            value: threshold,
            meta: feature | (right << FEATURE_BITS),
        }
    }
    #[inline(always)]
    pub(crate) fn feature(self) -> u32 {
        self.meta & LEAF
    }
    #[inline(always)]
    pub(crate) fn right(self) -> usize {
        (self.meta >> FEATURE_BITS) as usize
    }
}

/// A fitted tree in its compact form, ready to walk.
///
/// In memory a leaf's feature is `n_features` and its right child is itself. Rows for
/// [`walk_to_leaves`] carry one extra value, NaN, at index `n_features`: `NaN <= v` is
/// false, so a walk that reached a leaf stays there, and rows walking in lockstep can take
/// more steps than their paths with no per-row branch. On disk leaves carry the [`LEAF`] code
/// instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    /// Private to this module: [`Walkable`] relies on the nodes staying as `from_stored`
    /// checked them.
    nodes: Vec<Node>,
    /// Longest root-to-leaf path, in edges.
    pub(crate) depth: u32,
    /// Steps every row takes in [`walk_to_leaves`] before the first look for rows that
    /// reached their leaf, see [`first_look`].
    pub(crate) first_look: u32,
    /// Number of leaves at each depth.
    leaves_by_depth: Vec<u64>,
    n_features: u32,
}

impl Tree {
    /// Builds the walking form from nodes in stored form (leaves marked [`LEAF`]); the nodes
    /// must have passed [`Tree::validate_stored`].
    pub(crate) fn from_stored(mut nodes: Vec<Node>, n_features: usize) -> Self {
        let nf = n_features as u32;
        let mut depth = vec![0u32; nodes.len()];
        let mut max_depth = 0;
        let mut leaves_by_depth = Vec::new();
        for i in 0..nodes.len() {
            let n = nodes[i];
            max_depth = max_depth.max(depth[i]);
            if n.feature() == LEAF {
                let d = depth[i] as usize;
                if leaves_by_depth.len() <= d {
                    leaves_by_depth.resize(d + 1, 0);
                }
                leaves_by_depth[d] += 1;
                nodes[i] = Node {
                    value: n.value,
                    meta: nf | ((i as u32) << FEATURE_BITS),
                };
            } else {
                // Children come after their parent in preorder.
                depth[i + 1] = depth[i] + 1;
                depth[n.right()] = depth[i] + 1;
            }
        }
        assert!(
            walking_form_is_valid(&nodes, n_features),
            "a stored tree must be validated (Tree::validate_stored) before it is walked"
        );
        Tree {
            nodes,
            depth: max_depth,
            first_look: first_look(&leaves_by_depth),
            leaves_by_depth,
            n_features: nf,
        }
    }

    /// The tree, ready for [`walk_to_leaves`].
    pub(crate) fn walkable(&self) -> Walkable<'_> {
        Walkable {
            nodes: &self.nodes,
            stride: self.n_features as usize + 1,
            depth: self.depth,
            first_look: self.first_look,
        }
    }

    /// Number of nodes.
    pub(crate) fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes in stored form.
    pub(crate) fn stored_nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.nodes.iter().map(move |n| {
            if n.feature() == self.n_features {
                Node::leaf(n.value)
            } else {
                *n
            }
        })
    }

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

    /// Checks the structure of a decoded tree so that walking it cannot go out of bounds or
    /// loop: right children point forward and inside the tree, features are in range, and a
    /// split's left child exists.
    pub(crate) fn validate_stored(nodes: &[Node], n_features: usize) -> Result<(), String> {
        let len = nodes.len();
        if len == 0 {
            return Err("empty tree".into());
        }
        for (i, n) in nodes.iter().enumerate() {
            let f = n.feature();
            if f == LEAF {
                if !n.value.is_finite() {
                    return Err(format!("node {i}: leaf value is not finite"));
                }
                continue;
            }
            if f as usize >= n_features {
                return Err(format!("node {i}: feature {f} out of range"));
            }
            if n.value.is_nan() {
                return Err(format!("node {i}: threshold is NaN"));
            }
            let r = n.right();
            if i + 1 >= len || r <= i + 1 || r >= len {
                return Err(format!("node {i}: child index out of range"));
            }
        }
        Ok(())
    }
}

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

/// Whether `nodes` is a tree in walking form for rows of `n_features` features: every leaf's
/// feature is `n_features` and its right child itself, every split's feature is below
/// `n_features` and its children lie inside `nodes`.
fn walking_form_is_valid(nodes: &[Node], n_features: usize) -> bool {
    !nodes.is_empty()
        && nodes.iter().enumerate().all(|(i, n)| {
            let f = n.feature() as usize;
            if f == n_features {
                n.right() == i
            } else {
                f < n_features && i + 1 < nodes.len() && n.right() < nodes.len()
            }
        })
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
const STEPS_PER_CHECK: u32 = 4;

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
fn first_look(leaves_by_depth: &[u64]) -> u32 {
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

/// A forest's trees, shared with the helpers of a batch prediction, with the first look of one
/// row's walk down all of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trees {
    all: Arc<[Tree]>,
    /// [`first_look_across`] the trees, for [`walk_trees_to_leaves`].
    pub(crate) row_first_look: u32,
}

impl From<Vec<Tree>> for Trees {
    fn from(trees: Vec<Tree>) -> Self {
        Trees {
            row_first_look: first_look_across(&trees),
            all: trees.into(),
        }
    }
}

impl std::ops::Deref for Trees {
    type Target = [Tree];
    fn deref(&self) -> &[Tree] {
        &self.all
    }
}

impl Trees {
    /// The trees, for a thread that may outlive the borrow of the forest.
    pub(crate) fn shared(&self) -> Arc<[Tree]> {
        Arc::clone(&self.all)
    }
}

/// The first round of [`walk_trees_to_leaves`] down `trees`: [`first_look`] over the leaves
/// of all of them (one row's walks end at the leaves of every tree).
fn first_look_across(trees: &[Tree]) -> u32 {
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
    fn value(&self, f: usize, row: u32) -> f32 {
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
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn data() -> Presorted {
        let n = 500;
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as f32 / (1u64 << 31) as f32
        };
        let cols: Vec<Vec<f32>> = (0..4).map(|_| (0..n).map(|_| next()).collect()).collect();
        let y = (0..n)
            .map(|i| f64::from(cols[0][i] * 10.0 + cols[1][i] * cols[2][i] + next()))
            .collect();
        Presorted::new(cols, y)
    }

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
            assert!(pruned.nodes.len() < grown.len());
        }
    }

    /// `1 / k` for k up to `max` (0 for k = 0), as `grow` needs.
    fn reciprocals(max: usize) -> Vec<f64> {
        (0..=max)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / k as f64 })
            .collect()
    }

    /// Few distinct values per feature (so features turn constant inside subtrees), one
    /// constant column, one duplicate column, integer targets and weights (so every sum is
    /// exact and the two growers below must agree bit for bit).
    fn discrete_data(n: usize) -> (Presorted, Vec<u32>) {
        let mut s = 99u64;
        let mut next = |m: u64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        let mut cols: Vec<Vec<f32>> = vec![Vec::new(); 6];
        let mut y = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b, c) = (next(2), next(3), next(4));
            cols[0].push(a as f32);
            cols[1].push(b as f32);
            cols[2].push(i as f32 / n as f32);
            cols[3].push(5.0);
            cols[4].push(c as f32);
            cols[5].push(a as f32);
            y.push((10 * a + 3 * b * c + next(5)) as f64);
            weights.push(next(4) as u32);
        }
        (Presorted::new(cols, y), weights)
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

    #[test]
    fn decoded_trees_are_checked_before_walking() {
        let bad = [Node::split(0, 0.5, 7), Node::leaf(1.0), Node::leaf(2.0)];
        assert!(Tree::validate_stored(&bad, 1)
            .unwrap_err()
            .contains("out of range"));
        let loops = [Node::split(0, 0.5, 0), Node::leaf(1.0)];
        assert!(Tree::validate_stored(&loops, 1).is_err());
        let ok = [Node::split(0, 0.5, 2), Node::leaf(1.0), Node::leaf(2.0)];
        assert!(Tree::validate_stored(&ok, 1).is_ok());
        assert!(Tree::validate_stored(&ok, 0).is_err());
    }

    /// Leaf value of one row, one node at a time: the definition the lockstep walks must match.
    fn leaf_by_plain_walk(nodes: &[Node], n_features: usize, row: &[f32]) -> f32 {
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
    fn longest_and_shortest_path(nodes: &[Node]) -> (u32, u32) {
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
    fn trees_of_several_shapes() -> (Presorted, Vec<Tree>) {
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

    fn padded_rows(d: &Presorted) -> Vec<f32> {
        let stride = d.n_features + 1;
        let mut rows = vec![f32::NAN; d.n_rows * stride];
        for r in 0..d.n_rows {
            for f in 0..d.n_features {
                rows[r * stride + f] = d.value(f, r as u32);
            }
        }
        rows
    }

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
    fn only_trees_in_walking_form_pass_the_walking_check() {
        let (leaf, right) = (
            |v, i: u32| Node {
                value: v,
                meta: 1 | (i << FEATURE_BITS),
            },
            2,
        );
        let ok = [Node::split(0, 0.5, right), leaf(1.0, 1), leaf(2.0, 2)];
        assert!(walking_form_is_valid(&ok, 1));
        assert!(!walking_form_is_valid(&[], 1), "empty");
        let not_looping = [Node::split(0, 0.5, 2), leaf(1.0, 0), leaf(2.0, 2)];
        assert!(!walking_form_is_valid(&not_looping, 1));
        let child_outside = [Node::split(0, 0.5, 3), leaf(1.0, 1), leaf(2.0, 2)];
        assert!(!walking_form_is_valid(&child_outside, 1));
        let feature_outside = [Node::split(1, 0.5, 2), leaf(1.0, 1), leaf(2.0, 2)];
        assert!(!walking_form_is_valid(&feature_outside, 1));
        let no_left_child = [leaf(1.0, 0), Node::split(0, 0.5, 1)];
        assert!(!walking_form_is_valid(&no_left_child, 1));
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
