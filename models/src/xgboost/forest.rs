//! XGBoost trees flattened for fast evaluation (see `crate::lanes`).

use super::{Node, Tree};
use crate::lanes::{self, FlatNode};

/// All trees of an XGBoost model, flattened.
pub(super) type Forest = lanes::Forest<XgbNode>;

const FEATURE_MASK: u32 = (1 << 28) - 1;
const DEFAULT_LEFT: u32 = 1 << 31;
const CATEGORICAL: u32 = 1 << 30;

/// One node, 16 bytes. A leaf has `left == right ==` its own index and its
/// value in `value`; a numeric split has its threshold there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct XgbNode {
    value: f32,
    /// The feature index in the low 28 bits, with the `DEFAULT_LEFT` and
    /// `CATEGORICAL` flags above it.
    feature: u32,
    left: u32,
    right: u32,
}

/// Flattens validated trees (indices in range, no cycles, features below 2^28).
pub(super) fn flatten(trees: &[Tree]) -> Forest {
    let total = trees.iter().map(|t| t.nodes.len()).sum();
    let mut forest = Forest::with_capacity(total, trees.len());
    for tree in trees {
        let first_set = forest.start_tree(&tree.category_sets);
        let base = forest.next_index();
        for node in &tree.nodes {
            let own = forest.next_index();
            let default_left = |yes: bool| if yes { DEFAULT_LEFT } else { 0 };
            let (flat, set) = match *node {
                Node::Leaf { value } => (
                    XgbNode {
                        value,
                        feature: 0,
                        left: own,
                        right: own,
                    },
                    None,
                ),
                Node::Numeric {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left: dl,
                } => (
                    XgbNode {
                        value: threshold,
                        feature: feature | default_left(dl),
                        left: base + left,
                        right: base + right,
                    },
                    None,
                ),
                Node::Categorical {
                    feature,
                    set,
                    left,
                    right,
                    default_left: dl,
                } => (
                    XgbNode {
                        value: 0.0,
                        feature: feature | CATEGORICAL | default_left(dl),
                        left: base + left,
                        right: base + right,
                    },
                    Some(first_set + set),
                ),
            };
            forest.push(flat, set);
        }
        let depth = lanes::depth(|i| match tree.nodes[i] {
            Node::Leaf { .. } => None,
            Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                Some([left as usize, right as usize])
            }
        });
        forest.finish_tree(base, depth);
    }
    forest
}

impl FlatNode for XgbNode {
    type Leaf = f32;

    #[inline(always)]
    fn step<const CATEGORICAL_SPLITS: bool>(
        self,
        forest: &Forest,
        index: u32,
        rows: &[f32],
        row: usize,
    ) -> u32 {
        let x = rows[row + (self.feature & FEATURE_MASK) as usize];
        if CATEGORICAL_SPLITS && self.feature & CATEGORICAL != 0 {
            return self.categorical_step(forest, index, x);
        }
        // x < threshold goes left, strictly; NaN fails the comparison and goes
        // left only when the node's default is left. Computed without
        // branches: the direction is data, and unpredictable.
        let go_left = (x < self.value) as u32 | (x.is_nan() as u32 & (self.feature >> 31));
        let mask = go_left.wrapping_neg();
        self.right ^ ((self.left ^ self.right) & mask)
    }

    fn leaf(self) -> f32 {
        self.value
    }
}

impl XgbNode {
    /// A category in the set goes right; NaN follows the default; a negative
    /// code or one past the set goes left (XGBoost's `Decision`).
    #[cold]
    fn categorical_step(self, forest: &Forest, index: u32, x: f32) -> u32 {
        if x.is_nan() {
            return if self.feature & DEFAULT_LEFT != 0 {
                self.left
            } else {
                self.right
            };
        }
        if x >= 0.0 && forest.category_set(index).contains(x as u32) {
            self.right
        } else {
            self.left
        }
    }
}
