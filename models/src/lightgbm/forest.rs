//! LightGBM trees flattened for fast evaluation (walked by `crate::lanes`).
//!
//! Each tree's splits come first, then its leaves; a leaf is a node that
//! points to itself and keeps its value where a split keeps its threshold.

use super::{Child, MissingType, Split, Tree, ZERO_THRESHOLD};
use crate::category_set::CategorySet;
use crate::lanes::{self, FlatForest};

const FEATURE_MASK: u32 = (1 << 28) - 1;
const DEFAULT_LEFT: u32 = 1 << 31;
const CATEGORICAL: u32 = 1 << 30;
/// NaN is missing (missing type NaN).
const NAN_MISSING: u32 = 1 << 29;
/// Zero, and NaN read as zero, is missing (missing type Zero).
const ZERO_MISSING: u32 = 1 << 28;

#[derive(Debug, Clone, Copy, PartialEq)]
struct FlatNode {
    /// The threshold of a numeric split, or a leaf's value.
    value: f64,
    /// The feature index in the low 28 bits, flags above it.
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
    /// Flattens validated trees (indices in range, no cycles, features below 2^28).
    pub(super) fn new(trees: &[Tree]) -> Self {
        let total: usize = trees.iter().map(|t| t.splits.len() + t.leaves.len()).sum();
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
            let first_leaf = base + tree.splits.len() as u32;
            let set_base = forest.category_sets.len() as u32;
            forest
                .category_sets
                .extend(tree.category_sets.iter().cloned());
            forest.has_categorical |= !tree.category_sets.is_empty();
            let index = |c: Child| match c {
                Child::Split(i) => base + i,
                Child::Leaf(j) => first_leaf + j,
            };
            for (i, split) in tree.splits.iter().enumerate() {
                forest.nodes.push(match *split {
                    Split::Numeric {
                        feature,
                        threshold,
                        missing,
                        default_left,
                        left,
                        right,
                    } => {
                        let flags = match missing {
                            MissingType::None => 0,
                            MissingType::Zero => ZERO_MISSING,
                            MissingType::NaN => NAN_MISSING,
                        } | if default_left { DEFAULT_LEFT } else { 0 };
                        FlatNode {
                            value: threshold,
                            feature: feature | flags,
                            left: index(left),
                            right: index(right),
                        }
                    }
                    Split::Categorical {
                        feature,
                        set,
                        left,
                        right,
                    } => {
                        forest.set_of_node[(base as usize) + i] = set_base + set;
                        FlatNode {
                            value: 0.0,
                            feature: feature | CATEGORICAL,
                            left: index(left),
                            right: index(right),
                        }
                    }
                });
            }
            for (j, &value) in tree.leaves.iter().enumerate() {
                let own = first_leaf + j as u32;
                forest.nodes.push(FlatNode {
                    value,
                    feature: 0,
                    left: own,
                    right: own,
                });
            }
            // A tree without splits is a lone leaf: its root is that leaf.
            forest.roots.push(if tree.splits.is_empty() {
                first_leaf
            } else {
                base
            });
            let flat = |c: Child| match c {
                Child::Split(i) => i as usize,
                Child::Leaf(j) => tree.splits.len() + j as usize,
            };
            forest.depths.push(if tree.splits.is_empty() {
                0
            } else {
                lanes::depth(|i| {
                    tree.splits.get(i).map(|s| match *s {
                        Split::Numeric { left, right, .. }
                        | Split::Categorical { left, right, .. } => [flat(left), flat(right)],
                    })
                })
            });
        }
        forest
    }

    /// Adds every tree's leaf to `acc[r]` for each row of `rows`, in float64, in tree order.
    pub(super) fn accumulate(&self, rows: &[f32], width: usize, acc: &mut [f64]) {
        if self.has_categorical {
            lanes::accumulate::<Self, true>(self, rows, width, acc);
        } else {
            lanes::accumulate::<Self, false>(self, rows, width, acc);
        }
    }

    /// LightGBM's `CategoricalDecision`: NaN and negative codes go right; the
    /// code truncates toward zero; a code in the bitset goes left.
    #[cold]
    fn categorical_step(&self, index: u32, node: FlatNode, x: f32) -> u32 {
        let code = x as i32;
        if x.is_nan() || code < 0 {
            return node.right;
        }
        let set = &self.category_sets[self.set_of_node[index as usize] as usize];
        if set.contains(code as u32) {
            node.left
        } else {
            node.right
        }
    }
}

impl FlatForest for Forest {
    type Leaf = f64;

    fn roots(&self) -> &[u32] {
        &self.roots
    }

    fn depths(&self) -> &[u32] {
        &self.depths
    }

    #[inline(always)]
    fn step<const CATEGORICAL_SPLITS: bool>(&self, index: u32, rows: &[f32], row: usize) -> u32 {
        let node = self.nodes[index as usize];
        let x32 = rows[row + (node.feature & FEATURE_MASK) as usize];
        if CATEGORICAL_SPLITS && node.feature & CATEGORICAL != 0 {
            return self.categorical_step(index, node, x32);
        }
        // LightGBM's `NumericalDecision` on the row as its C API builds it:
        // |x| <= 1e-35 is 0.0; NaN is 0.0 unless the missing type is NaN.
        let x = f64::from(x32);
        let nan = x.is_nan();
        let value = if nan || x.abs() <= ZERO_THRESHOLD {
            0.0
        } else {
            x
        };
        let missing =
            (nan as u32 & (node.feature >> 29)) | ((value == 0.0) as u32 & (node.feature >> 28));
        let by_value = (value <= node.value) as u32;
        let go_left = ((missing & (node.feature >> 31)) | (!missing & by_value)) & 1;
        let mask = go_left.wrapping_neg();
        node.right ^ ((node.left ^ node.right) & mask)
    }

    fn leaf(&self, index: u32) -> f64 {
        self.nodes[index as usize].value
    }
}
