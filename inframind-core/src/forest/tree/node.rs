//! The 8-byte node, a tree's stored form (leaves marked [`LEAF`]) and its walking form
//! (leaves point at themselves), and the checks that keep walks in bounds.

use super::Tree;

/// Marks a leaf in [`Node::meta`]'s feature bits.
pub(crate) const LEAF: u32 = (1 << FEATURE_BITS) - 1;
/// Bits of [`Node::meta`] that hold the split feature.
pub(crate) const FEATURE_BITS: u32 = 10;
/// Most features a forest accepts (one value of the 10 bits marks leaves).
pub(crate) const MAX_FEATURES: usize = LEAF as usize;
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

impl Tree {
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

    /// Checks the structure of a decoded tree: read in preorder, the nodes must form exactly
    /// one binary tree. Every split's left child is the next node and its right child is where
    /// its left subtree ends, so each node has exactly one parent, children lie inside their
    /// parent's subtree, and nothing is left over. Features must be in range, thresholds and
    /// leaf values finite. A crafted file whose splits share children would otherwise walk into
    /// another subtree and return a threshold as a prediction.
    pub(crate) fn validate_stored(nodes: &[Node], n_features: usize) -> Result<(), String> {
        let len = nodes.len();
        if len == 0 {
            return Err("empty tree".into());
        }
        // Right children of the splits whose left subtree is being read, innermost last.
        let mut pending: Vec<usize> = Vec::new();
        let mut pos = 0;
        loop {
            let Some(n) = nodes.get(pos) else {
                return Err(format!(
                    "node {}: child index out of range (the tree ends at node {})",
                    pending.last().copied().unwrap_or(pos),
                    len - 1
                ));
            };
            let f = n.feature();
            if f != LEAF {
                if f as usize >= n_features {
                    return Err(format!("node {pos}: feature {f} out of range"));
                }
                if !n.value.is_finite() {
                    return Err(format!("node {pos}: threshold is not finite"));
                }
                let r = n.right();
                if r <= pos + 1 || r >= len {
                    return Err(format!("node {pos}: child index out of range"));
                }
                pending.push(r);
                pos += 1;
                continue;
            }
            if !n.value.is_finite() {
                return Err(format!("node {pos}: leaf value is not finite"));
            }
            pos += 1;
            match pending.pop() {
                // The innermost open left subtree ends here: its parent's right child must
                // start right after it.
                Some(r) if r == pos => {}
                Some(r) => {
                    return Err(format!(
                        "node {pos}: not a tree: a split's right child is node {r}, but its left \
                         subtree ends before node {pos}"
                    ))
                }
                None if pos == len => return Ok(()),
                None => {
                    return Err(format!(
                        "not a tree: the root's subtree ends at node {}, {} node(s) are left over",
                        pos - 1,
                        len - pos
                    ))
                }
            }
        }
    }
}

/// Whether `nodes` is a tree in walking form for rows of `n_features` features: every leaf's
/// feature is `n_features` and its right child itself, every split's feature is below
/// `n_features` and its children lie inside `nodes`.
pub(super) fn walking_form_is_valid(nodes: &[Node], n_features: usize) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn decoded_nodes_must_form_exactly_one_tree() {
        let deep = [
            Node::split(0, 0.5, 4),
            Node::split(0, 0.2, 3),
            Node::leaf(1.0),
            Node::leaf(2.0),
            Node::leaf(3.0),
        ];
        assert_eq!(Tree::validate_stored(&deep, 1), Ok(()));
        // Both splits point at node 3 for their right child: node 3 has two parents, and
        // node 4 none.
        let shared = [
            Node::split(0, 0.5, 3),
            Node::split(0, 0.2, 3),
            Node::leaf(1.0),
            Node::leaf(2.0),
            Node::leaf(3.0),
        ];
        let e = Tree::validate_stored(&shared, 1).unwrap_err();
        assert!(e.contains("not a tree"), "{e}");
        let left_over = [
            Node::split(0, 0.5, 2),
            Node::leaf(1.0),
            Node::leaf(2.0),
            Node::leaf(9.0),
        ];
        let e = Tree::validate_stored(&left_over, 1).unwrap_err();
        assert!(e.contains("left over"), "{e}");
        let missing_right = [
            Node::split(0, 0.5, 2),
            Node::split(0, 0.5, 3),
            Node::leaf(1.0),
        ];
        assert!(Tree::validate_stored(&missing_right, 1).is_err());
        let infinite = [
            Node::split(0, f32::INFINITY, 2),
            Node::leaf(1.0),
            Node::leaf(2.0),
        ];
        let e = Tree::validate_stored(&infinite, 1).unwrap_err();
        assert!(e.contains("threshold is not finite"), "{e}");
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
}
