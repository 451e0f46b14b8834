//! One regression tree in its compact form: 8-byte nodes in preorder, so that a node's left
//! child is the next node, walked [`LANES`] rows (or trees) at a time or as sets of rows.
//!
//! A tree's nodes are private to this module, so nothing else in the crate can break what
//! [`Walkable`](walk::Walkable) relies on. Trees are grown in [`grow`](super::grow).

#[cfg(test)]
mod fixtures;
mod node;
mod rowset;
mod walk;

use std::sync::Arc;

pub(crate) use node::{Node, LEAF, MAX_FEATURES, MAX_NODES};
pub(crate) use rowset::{RowSets, SET_ROWS};
pub(crate) use walk::{walk_to_leaves, walk_trees_to_leaves, WalkScratch};

use node::{walking_form_is_valid, FEATURE_BITS};
use walk::{first_look, first_look_across};

/// Rows a tree walks in lockstep in batch prediction.
pub(crate) const LANES: usize = 8;

/// A fitted tree in its compact form, ready to walk.
///
/// In memory a leaf's feature is `n_features` and its right child is itself. Rows for
/// [`walk_to_leaves`] carry one extra value, NaN, at index `n_features`: `NaN <= v` is
/// false, so a walk that reached a leaf stays there, and rows walking in lockstep can take
/// more steps than their paths with no per-row branch. On disk leaves carry the [`LEAF`] code
/// instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    /// Private to this module: [`Walkable`](walk::Walkable) relies on the nodes staying as
    /// `from_stored` checked them.
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

    /// Number of nodes.
    pub(crate) fn n_nodes(&self) -> usize {
        self.nodes.len()
    }
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
    #[cfg(feature = "parallel")]
    /// The trees, for a thread that may outlive the borrow of the forest.
    pub(crate) fn shared(&self) -> Arc<[Tree]> {
        Arc::clone(&self.all)
    }
}
