//! LightGBM trees flattened for fast evaluation (see `crate::lanes`).
//!
//! Each tree's splits come first, then its leaves; a leaf is a node that
//! points to itself and keeps its value where a split keeps its threshold.

use super::{Child, MissingType, Split, Tree, ZERO_THRESHOLD};
use crate::lanes::{self, FlatNode};

/// All trees of a LightGBM model, flattened.
pub(super) type Forest = lanes::Forest<LgbNode>;

const FEATURE_MASK: u32 = (1 << 28) - 1;
const DEFAULT_LEFT: u32 = 1 << 31;
const CATEGORICAL: u32 = 1 << 30;
/// NaN is missing (missing type NaN).
const NAN_MISSING: u32 = 1 << 29;
/// Zero, and NaN read as zero, is missing (missing type Zero).
const ZERO_MISSING: u32 = 1 << 28;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LgbNode {
    /// The threshold of a numeric split, or a leaf's value.
    value: f64,
    /// The feature index in the low 28 bits, flags above it.
    feature: u32,
    left: u32,
    right: u32,
}

/// Flattens validated trees (indices in range, no cycles, features below 2^28).
pub(super) fn flatten(trees: &[Tree]) -> Forest {
    let total = trees.iter().map(|t| t.splits.len() + t.leaves.len()).sum();
    let mut forest = Forest::with_capacity(total, trees.len());
    for tree in trees {
        let first_set = forest.start_tree(&tree.category_sets);
        let base = forest.next_index();
        let first_leaf = base + tree.splits.len() as u32;
        let index = |c: Child| match c {
            Child::Split(i) => base + i,
            Child::Leaf(j) => first_leaf + j,
        };
        for split in &tree.splits {
            let (node, set) = match *split {
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
                    (
                        LgbNode {
                            value: threshold,
                            feature: feature | flags,
                            left: index(left),
                            right: index(right),
                        },
                        None,
                    )
                }
                Split::Categorical {
                    feature,
                    set,
                    left,
                    right,
                } => (
                    LgbNode {
                        value: 0.0,
                        feature: feature | CATEGORICAL,
                        left: index(left),
                        right: index(right),
                    },
                    Some(first_set + set),
                ),
            };
            forest.push(node, set);
        }
        for &value in &tree.leaves {
            let own = forest.next_index();
            forest.push(
                LgbNode {
                    value,
                    feature: 0,
                    left: own,
                    right: own,
                },
                None,
            );
        }
        // A tree without splits is a lone leaf: its root is that leaf.
        let root = if tree.splits.is_empty() {
            first_leaf
        } else {
            base
        };
        let local = |c: Child| (index(c) - base) as usize;
        let depth = lanes::depth(|i| {
            tree.splits.get(i).map(|s| match *s {
                Split::Numeric { left, right, .. } | Split::Categorical { left, right, .. } => {
                    [local(left), local(right)]
                }
            })
        });
        forest.finish_tree(root, if tree.splits.is_empty() { 0 } else { depth });
    }
    forest
}

impl FlatNode for LgbNode {
    type Leaf = f64;
    type Input = f64;

    #[inline(always)]
    fn step<const CATEGORICAL_SPLITS: bool>(
        self,
        forest: &Forest,
        index: u32,
        rows: &[f64],
        row: usize,
    ) -> u32 {
        let x = rows[row + (self.feature & FEATURE_MASK) as usize];
        if CATEGORICAL_SPLITS && self.feature & CATEGORICAL != 0 {
            return self.categorical_step(forest, index, x);
        }
        // LightGBM's `NumericalDecision` on the row as its C API builds it,
        // in float64: |x| <= 1e-35 is 0.0; NaN is 0.0 unless the missing
        // type is NaN. The flags are picked out bit by bit so the step has
        // no branches.
        let nan = x.is_nan();
        let value = if nan || x.abs() <= ZERO_THRESHOLD {
            0.0
        } else {
            x
        };
        let missing =
            (nan as u32 & (self.feature >> 29)) | ((value == 0.0) as u32 & (self.feature >> 28));
        let by_value = (value <= self.value) as u32;
        let go_left = ((missing & (self.feature >> 31)) | (!missing & by_value)) & 1;
        let mask = go_left.wrapping_neg();
        self.right ^ ((self.left ^ self.right) & mask)
    }

    fn leaf(self) -> f64 {
        self.value
    }
}

impl LgbNode {
    /// The node at `own` as the GPU walk reads it (`crate::gpu_forest`),
    /// and its leaf value (0 for a split). A categorical split's set is
    /// appended to `sets`; its first word and length are words 5 and 6.
    pub(super) fn gpu_words(
        self,
        forest: &Forest,
        own: u32,
        sets: &mut Vec<u32>,
    ) -> ([u32; 8], f64) {
        if self.feature & CATEGORICAL != 0 {
            let (first, len) = crate::gpu_forest::append_set(sets, forest.category_set(own));
            return (
                [0, 0, self.feature, self.left, self.right, first, len, 0],
                0.0,
            );
        }
        let is_leaf = self.left == own && self.right == own;
        let key = if is_leaf {
            0
        } else {
            crate::gpu_forest::order_key64(self.value)
        };
        (
            [
                (key >> 32) as u32,
                key as u32,
                self.feature,
                self.left,
                self.right,
                0,
                0,
                0,
            ],
            if is_leaf { self.value } else { 0.0 },
        )
    }

    /// LightGBM's `CategoricalDecision`: NaN and negative codes go right; the
    /// code truncates toward zero (one too large for an `i32` is outside
    /// every bitset); a code in the bitset goes left.
    #[cold]
    fn categorical_step(self, forest: &Forest, index: u32, x: f64) -> u32 {
        let code = x as i32;
        if x.is_nan() || code < 0 {
            return self.right;
        }
        if forest.category_set(index).contains(code as u32) {
            self.left
        } else {
            self.right
        }
    }
}
