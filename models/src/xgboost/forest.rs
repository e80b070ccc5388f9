//! XGBoost trees laid out for fast evaluation: every node of every tree in
//! one array, and many independent walks advanced level by level.
//!
//! A tree walk is a chain of dependent loads (node, then feature value, then
//! the next node), so one walk at a time leaves the CPU waiting on memory.
//! Advancing many walks ("lanes") one level at a time overlaps those waits:
//! a batch walks 64 rows through the same tree; a single row walks 16 trees
//! at once. Leaves point to themselves, so a lane that reached its leaf
//! simply stays there until the deepest lane of the group arrives.
//!
//! The leaves are still added to each row's float32 sum one tree at a time,
//! in model order, exactly as XGBoost adds them.

use super::{Node, Tree};
use crate::category_set::CategorySet;

/// Rows walked together through one tree in batch mode.
pub(super) const ROW_LANES: usize = 64;
/// Trees walked together for one row when the batch is small.
const TREE_LANES: usize = 16;
/// Below this many rows, lanes run across trees instead of rows.
const MIN_ROWS_FOR_ROW_LANES: usize = 16;

const FEATURE_MASK: u32 = (1 << 30) - 1;
const DEFAULT_LEFT: u32 = 1 << 31;
const CATEGORICAL: u32 = 1 << 30;

/// One node, 16 bytes. A leaf has `left == right ==` its own index and its
/// value in `value`; a numeric split has its threshold there.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FlatNode {
    value: f32,
    /// The feature index in the low 30 bits, with the `DEFAULT_LEFT` and
    /// `CATEGORICAL` flags above it.
    feature: u32,
    left: u32,
    right: u32,
}

/// All trees of a model, flattened.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Forest {
    nodes: Vec<FlatNode>,
    /// Index of each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Levels from each tree's root to its deepest leaf.
    depths: Vec<u32>,
    /// For a categorical node (by index in `nodes`), its set in `category_sets`.
    set_of_node: Vec<u32>,
    category_sets: Vec<CategorySet>,
    /// Whether any node is categorical; without, the walk skips that check.
    has_categorical: bool,
}

impl Forest {
    /// Flattens validated trees (indices in range, no cycles, features below
    /// 2^30 because a model with that many features could not be loaded).
    pub(super) fn new(trees: &[Tree]) -> Self {
        let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
        let mut forest = Forest {
            nodes: Vec::with_capacity(total),
            roots: Vec::with_capacity(trees.len()),
            depths: Vec::with_capacity(trees.len()),
            set_of_node: vec![u32::MAX; total],
            category_sets: Vec::new(),
            has_categorical: false,
        };
        for tree in trees {
            let base = forest.nodes.len() as u32;
            let set_base = forest.category_sets.len() as u32;
            forest
                .category_sets
                .extend(tree.category_sets.iter().cloned());
            for (i, node) in tree.nodes.iter().enumerate() {
                let own = base + i as u32;
                let flat = match *node {
                    Node::Leaf { value } => FlatNode {
                        value,
                        feature: 0,
                        left: own,
                        right: own,
                    },
                    Node::Numeric {
                        feature,
                        threshold,
                        left,
                        right,
                        default_left,
                    } => FlatNode {
                        value: threshold,
                        feature: feature | if default_left { DEFAULT_LEFT } else { 0 },
                        left: base + left,
                        right: base + right,
                    },
                    Node::Categorical {
                        feature,
                        set,
                        left,
                        right,
                        default_left,
                    } => {
                        forest.set_of_node[own as usize] = set_base + set;
                        FlatNode {
                            value: 0.0,
                            feature: feature
                                | CATEGORICAL
                                | if default_left { DEFAULT_LEFT } else { 0 },
                            left: base + left,
                            right: base + right,
                        }
                    }
                };
                forest.nodes.push(flat);
            }
            forest.has_categorical |= !tree.category_sets.is_empty();
            forest.roots.push(base);
            forest.depths.push(depth(tree));
        }
        forest
    }

    /// Adds every tree's leaf to `acc[r]` for each row `r` of `rows`
    /// (row-major, `width` values each), tree by tree in model order.
    pub(super) fn accumulate(&self, rows: &[f32], width: usize, acc: &mut [f32]) {
        if self.has_categorical {
            self.accumulate_with::<true>(rows, width, acc);
        } else {
            self.accumulate_with::<false>(rows, width, acc);
        }
    }

    fn accumulate_with<const CATEGORICAL_SPLITS: bool>(
        &self,
        rows: &[f32],
        width: usize,
        acc: &mut [f32],
    ) {
        if acc.len() >= MIN_ROWS_FOR_ROW_LANES {
            self.accumulate_row_lanes::<CATEGORICAL_SPLITS>(rows, width, acc);
        } else {
            for (a, row) in acc.iter_mut().zip(rows.chunks_exact(width)) {
                self.accumulate_tree_lanes::<CATEGORICAL_SPLITS>(row, a);
            }
        }
    }

    /// Up to [`ROW_LANES`] rows walk each tree together.
    fn accumulate_row_lanes<const CATEGORICAL_SPLITS: bool>(
        &self,
        rows: &[f32],
        width: usize,
        acc: &mut [f32],
    ) {
        let n = acc.len();
        let mut at = [0u32; ROW_LANES];
        let at = &mut at[..n];
        for (&root, &depth) in self.roots.iter().zip(&self.depths) {
            at.fill(root);
            for _ in 0..depth {
                for (r, node) in at.iter_mut().enumerate() {
                    *node = self.step::<CATEGORICAL_SPLITS>(*node, rows, r * width);
                }
            }
            for (a, &leaf) in acc.iter_mut().zip(at.iter()) {
                *a += self.nodes[leaf as usize].value;
            }
        }
    }

    /// One row walks up to [`TREE_LANES`] trees together; the leaves are then
    /// added in tree order.
    fn accumulate_tree_lanes<const CATEGORICAL_SPLITS: bool>(&self, row: &[f32], acc: &mut f32) {
        let mut at = [0u32; TREE_LANES];
        for (roots, depths) in self
            .roots
            .chunks(TREE_LANES)
            .zip(self.depths.chunks(TREE_LANES))
        {
            let at = &mut at[..roots.len()];
            at.copy_from_slice(roots);
            let depth = depths.iter().copied().max().unwrap_or(0);
            for _ in 0..depth {
                for node in at.iter_mut() {
                    *node = self.step::<CATEGORICAL_SPLITS>(*node, row, 0);
                }
            }
            for &leaf in at.iter() {
                *acc += self.nodes[leaf as usize].value;
            }
        }
    }

    /// The node after `index` for the row starting at `rows[row]`; a leaf returns itself.
    #[inline(always)]
    fn step<const CATEGORICAL_SPLITS: bool>(&self, index: u32, rows: &[f32], row: usize) -> u32 {
        let node = self.nodes[index as usize];
        let x = rows[row + (node.feature & FEATURE_MASK) as usize];
        if CATEGORICAL_SPLITS && node.feature & CATEGORICAL != 0 {
            return self.categorical_step(index, node, x);
        }
        // x < threshold goes left, strictly; NaN fails the comparison and
        // goes left only when the node's default is left.
        // Computed without branches: the direction is data and unpredictable.
        let go_left = (x < node.value) as u32 | (x.is_nan() as u32 & (node.feature >> 31));
        let mask = go_left.wrapping_neg();
        node.right ^ ((node.left ^ node.right) & mask)
    }

    /// A category in the set goes right; NaN follows the default; a negative
    /// code or one past the set goes left (XGBoost's `Decision`).
    #[cold]
    fn categorical_step(&self, index: u32, node: FlatNode, x: f32) -> u32 {
        if x.is_nan() {
            return if node.feature & DEFAULT_LEFT != 0 {
                node.left
            } else {
                node.right
            };
        }
        let set = &self.category_sets[self.set_of_node[index as usize] as usize];
        if x >= 0.0 && set.contains(x as u32) {
            node.right
        } else {
            node.left
        }
    }
}

/// Levels from the root to the deepest leaf (0 for a lone leaf).
fn depth(tree: &Tree) -> u32 {
    let mut deepest = 0;
    let mut stack = vec![(0usize, 0u32)];
    while let Some((i, d)) = stack.pop() {
        match tree.nodes[i] {
            Node::Leaf { .. } => deepest = deepest.max(d),
            Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                stack.push((left as usize, d + 1));
                stack.push((right as usize, d + 1));
            }
        }
    }
    deepest
}
