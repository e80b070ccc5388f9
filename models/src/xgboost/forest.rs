//! XGBoost trees flattened for fast evaluation (walked by `crate::lanes`).

use super::{Node, Tree};
use crate::category_set::CategorySet;
use crate::lanes::{self, FlatForest};

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

/// All trees of a model in one node array.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Forest {
    nodes: Vec<FlatNode>,
    roots: Vec<u32>,
    depths: Vec<u32>,
    /// For a categorical node (by index in `nodes`), its set in `category_sets`.
    set_of_node: Vec<u32>,
    category_sets: Vec<CategorySet>,
    has_categorical: bool,
}

impl Forest {
    /// Flattens validated trees (indices in range, no cycles, features below 2^30).
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
            forest.has_categorical |= !tree.category_sets.is_empty();
            for (i, node) in tree.nodes.iter().enumerate() {
                let own = base + i as u32;
                let default_left = |yes: bool| if yes { DEFAULT_LEFT } else { 0 };
                forest.nodes.push(match *node {
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
                        default_left: dl,
                    } => FlatNode {
                        value: threshold,
                        feature: feature | default_left(dl),
                        left: base + left,
                        right: base + right,
                    },
                    Node::Categorical {
                        feature,
                        set,
                        left,
                        right,
                        default_left: dl,
                    } => {
                        forest.set_of_node[own as usize] = set_base + set;
                        FlatNode {
                            value: 0.0,
                            feature: feature | CATEGORICAL | default_left(dl),
                            left: base + left,
                            right: base + right,
                        }
                    }
                });
            }
            forest.roots.push(base);
            forest.depths.push(lanes::depth(|i| match tree.nodes[i] {
                Node::Leaf { .. } => None,
                Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                    Some([left as usize, right as usize])
                }
            }));
        }
        forest
    }

    /// Adds every tree's leaf to `acc[r]` for each row of `rows`, in float32, in tree order.
    pub(super) fn accumulate(&self, rows: &[f32], width: usize, acc: &mut [f32]) {
        if self.has_categorical {
            lanes::accumulate::<Self, true>(self, rows, width, acc);
        } else {
            lanes::accumulate::<Self, false>(self, rows, width, acc);
        }
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

impl FlatForest for Forest {
    type Leaf = f32;

    fn roots(&self) -> &[u32] {
        &self.roots
    }

    fn depths(&self) -> &[u32] {
        &self.depths
    }

    #[inline(always)]
    fn step<const CATEGORICAL_SPLITS: bool>(&self, index: u32, rows: &[f32], row: usize) -> u32 {
        let node = self.nodes[index as usize];
        let x = rows[row + (node.feature & FEATURE_MASK) as usize];
        if CATEGORICAL_SPLITS && node.feature & CATEGORICAL != 0 {
            return self.categorical_step(index, node, x);
        }
        // x < threshold goes left, strictly; NaN fails the comparison and goes
        // left only when the node's default is left. Computed without
        // branches: the direction is data, and unpredictable.
        let go_left = (x < node.value) as u32 | (x.is_nan() as u32 & (node.feature >> 31));
        let mask = go_left.wrapping_neg();
        node.right ^ ((node.left ^ node.right) & mask)
    }

    fn leaf(&self, index: u32) -> f32 {
        self.nodes[index as usize].value
    }
}
