//! XGBoost trees laid out complete, level by level, for the AVX-512 walk
//! (`avx512.rs`): every tree padded to the forest's deepest level, so a
//! node's children are found by arithmetic (`2p`, `2p + 1` within the next
//! level) and no child index is loaded. A leaf above the last level becomes
//! a pass-through node (threshold NaN: every value, missing or not, goes
//! right) over copies of itself. The walk makes the same comparisons as the
//! flattened forest and adds the leaves in the same order, so the scores are
//! the same bits.

use super::{Node, Tree};

/// Deeper forests keep the flattened walk: a complete tree of depth `d`
/// holds `2^(d+1) - 1` entries, which past this stops paying.
const MAX_DEPTH: u32 = 10;
/// Entries past the end of each array, so the walk may load a whole vector
/// of a level's first nodes without reading out of bounds.
const SLACK: usize = 32;
/// The layout may always take this many entries (12 bytes each: 48 MiB)...
const ALWAYS_ALLOWED_ENTRIES: usize = 1 << 22;
/// ...and beyond that at most this many times the trees' own nodes, so a
/// hostile mix of one deep tree and a million stumps cannot make it huge;
/// past both the flattened walk serves.
const MAX_GROWTH: usize = 4;

/// The complete layout of a forest without categorical splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CompleteForest {
    /// Levels of splits in every (padded) tree.
    pub(super) depth: u32,
    pub(super) trees: usize,
    /// One more than the highest feature a split reads: rows must be at
    /// least this wide (the walk's gathers rely on it).
    pub(super) min_width: usize,
    /// For each tree, `2^depth - 1` splits in level order: the feature index,
    /// with bit 31 set when a missing value goes left.
    pub(super) features: Vec<u32>,
    /// The splits' thresholds, as `f32` bits (NaN: pass through, right).
    pub(super) thresholds: Vec<u32>,
    /// For each tree, its `2^depth` leaf values, as `f32` bits.
    pub(super) leaves: Vec<u32>,
}

impl CompleteForest {
    /// The layout of `trees`, or `None` when they do not fit it: a
    /// categorical split, a depth of 0 or over [`MAX_DEPTH`], or more
    /// entries than a 32-bit gather index reaches.
    pub(super) fn new(trees: &[Tree]) -> Option<Self> {
        let mut depth = 0;
        for tree in trees {
            if tree
                .nodes
                .iter()
                .any(|n| matches!(n, Node::Categorical { .. }))
            {
                return None;
            }
            depth = depth.max(tree.depth());
        }
        if depth == 0 || depth > MAX_DEPTH {
            return None;
        }
        let splits = (1usize << depth) - 1;
        let leaves_per_tree = 1usize << depth;
        if trees.len().checked_mul(leaves_per_tree)? > (i32::MAX as usize) / 2 {
            return None;
        }
        let own_nodes: usize = trees.iter().map(|t| t.nodes.len()).sum();
        if trees.len() * (splits + leaves_per_tree)
            > ALWAYS_ALLOWED_ENTRIES.max(MAX_GROWTH * own_nodes)
        {
            return None;
        }
        let min_width = trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter_map(|n| match *n {
                Node::Numeric { feature, .. } => Some(feature as usize + 1),
                _ => None,
            })
            .max()
            .unwrap_or(1);
        let mut forest = Self {
            depth,
            trees: trees.len(),
            min_width,
            features: vec![0; trees.len() * splits + SLACK],
            thresholds: vec![f32::NAN.to_bits(); trees.len() * splits + SLACK],
            leaves: vec![0; trees.len() * leaves_per_tree + SLACK],
        };
        for (t, tree) in trees.iter().enumerate() {
            // (node, level, position within the level)
            let mut stack = vec![(0u32, 0u32, 0usize)];
            while let Some((node, level, pos)) = stack.pop() {
                let at = t * splits + (1 << level) - 1 + pos;
                match tree.nodes[node as usize] {
                    Node::Leaf { value } if level == depth => {
                        forest.leaves[t * leaves_per_tree + pos] = value.to_bits();
                    }
                    // Pass through (threshold NaN, feature 0) to copies below.
                    Node::Leaf { .. } => {
                        stack.push((node, level + 1, 2 * pos));
                        stack.push((node, level + 1, 2 * pos + 1));
                    }
                    Node::Numeric {
                        feature,
                        threshold,
                        left,
                        right,
                        default_left,
                    } => {
                        forest.features[at] = feature | (u32::from(default_left) << 31);
                        forest.thresholds[at] = threshold.to_bits();
                        stack.push((left, level + 1, 2 * pos));
                        stack.push((right, level + 1, 2 * pos + 1));
                    }
                    Node::Categorical { .. } => return None,
                }
            }
        }
        Some(forest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `depth` splits on feature `feature`, each with a leaf on
    /// its left.
    fn chain(depth: u32, feature: u32) -> Tree {
        let mut nodes = Vec::new();
        for d in 0..depth {
            let at = nodes.len() as u32;
            nodes.push(Node::Numeric {
                feature,
                threshold: d as f32,
                left: at + 1,
                right: at + 2,
                default_left: d % 2 == 0,
            });
            nodes.push(Node::Leaf { value: d as f32 });
        }
        nodes.push(Node::Leaf { value: -1.0 });
        Tree {
            nodes,
            category_sets: Vec::new(),
            covers: Vec::new(),
        }
    }

    #[test]
    fn the_layout_records_the_width_its_rows_need() {
        let forest = CompleteForest::new(&[chain(3, 0), chain(2, 6)]).expect("fits");
        assert_eq!((forest.depth, forest.trees, forest.min_width), (3, 2, 7));
    }

    #[test]
    fn one_deep_tree_among_many_stumps_keeps_the_flattened_walk() {
        // Padding 10,000 stumps to depth 10 would take ~31M entries for
        // ~10,000 nodes of their own.
        let mut trees = vec![chain(10, 0)];
        trees.extend((0..10_000).map(|_| chain(0, 0)));
        assert_eq!(CompleteForest::new(&trees), None);
        // Sparse trees pad a lot, but a model of ordinary size still fits.
        let forest = CompleteForest::new(&vec![chain(10, 0); 300]).expect("fits");
        assert_eq!(forest.trees, 300);
    }
}
