//! XGBoost trees flattened for fast evaluation (see `crate::lanes`).

use super::{Node, Tree};
use crate::lanes::{self, FlatNode};

/// All trees of an XGBoost model, flattened.
pub(super) type Forest = lanes::Forest<XgbNode>;

const FEATURE_MASK: u32 = (1 << 28) - 1;
const DEFAULT_LEFT: u32 = 1 << 31;
const CATEGORICAL: u32 = 1 << 30;

/// One node, 16 bytes. The two children of a split are adjacent: `left`
/// and `left + 1` (flattening lays each tree out breadth first, siblings
/// together), so a step is `left + (goes right)`. A leaf must lead to itself:
/// it has threshold NaN (no value is less, so every row "goes right") and
/// `left` one below its own index.
#[derive(Debug, Clone, Copy)]
pub(super) struct XgbNode {
    threshold: f32,
    /// The feature index in the low 28 bits, with the `DEFAULT_LEFT` and
    /// `CATEGORICAL` flags above it.
    feature: u32,
    left: u32,
    /// A leaf's value (0 for a split).
    leaf: f32,
}

/// Bitwise, so leaves (threshold NaN) equal themselves.
impl PartialEq for XgbNode {
    fn eq(&self, other: &Self) -> bool {
        self.threshold.to_bits() == other.threshold.to_bits()
            && self.feature == other.feature
            && self.left == other.left
            && self.leaf.to_bits() == other.leaf.to_bits()
    }
}

/// Flattens validated trees (indices in range, no cycles, features below 2^28).
pub(super) fn flatten(trees: &[Tree]) -> Forest {
    let total = trees.iter().map(|t| t.nodes.len()).sum();
    let mut forest = Forest::with_capacity(total, trees.len());
    for tree in trees {
        let first_set = forest.start_tree(&tree.category_sets);
        let base = forest.next_index();
        // Breadth first from the root: `order[k]` is the tree node that
        // becomes flat node `base + k`; a split's children are appended
        // together, so they get adjacent indices.
        let mut order = vec![0u32];
        let mut k = 0;
        while k < order.len() {
            let own = forest.next_index();
            let default_left = |yes: bool| if yes { DEFAULT_LEFT } else { 0 };
            let children_at = base + order.len() as u32;
            let (flat, set) = match tree.nodes[order[k] as usize] {
                Node::Leaf { value } => (
                    XgbNode {
                        threshold: f32::NAN,
                        feature: 0,
                        left: own.wrapping_sub(1),
                        leaf: value,
                    },
                    None,
                ),
                Node::Numeric {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left: dl,
                } => {
                    order.extend([left, right]);
                    (
                        XgbNode {
                            threshold,
                            feature: feature | default_left(dl),
                            left: children_at,
                            leaf: 0.0,
                        },
                        None,
                    )
                }
                Node::Categorical {
                    feature,
                    set,
                    left,
                    right,
                    default_left: dl,
                } => {
                    order.extend([left, right]);
                    (
                        XgbNode {
                            threshold: 0.0,
                            feature: feature | CATEGORICAL | default_left(dl),
                            left: children_at,
                            leaf: 0.0,
                        },
                        Some(first_set + set),
                    )
                }
            };
            forest.push(flat, set);
            k += 1;
        }
        forest.finish_tree(base, tree.depth());
    }
    forest
}

impl FlatNode for XgbNode {
    type Leaf = f32;
    type Input = f32;

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
        let go_left = (x < self.threshold) as u32 | (x.is_nan() as u32 & (self.feature >> 31));
        self.left.wrapping_add(go_left ^ 1)
    }

    fn leaf(self) -> f32 {
        self.leaf
    }
}

impl XgbNode {
    /// The node at `index` as the GPU walk reads it (`crate::gpu_forest`):
    /// the threshold's order key, the feature with its flags, the left
    /// child (a leaf's: one below its own index), the leaf's bits. A
    /// categorical split's set is appended to `sets`, and its first and
    /// last words stand in the key's and the leaf's places.
    pub(super) fn gpu_words(self, forest: &Forest, index: u32, sets: &mut Vec<u32>) -> [u32; 4] {
        if self.feature & CATEGORICAL != 0 {
            let (first, len) = crate::gpu_forest::append_set(sets, forest.category_set(index));
            return [first, self.feature, self.left, len];
        }
        let is_leaf = self.threshold.is_nan();
        [
            if is_leaf {
                0
            } else {
                crate::gpu_forest::order_key(self.threshold)
            },
            self.feature,
            self.left,
            self.leaf.to_bits(),
        ]
    }

    /// A category in the set goes right; NaN follows the default; a negative
    /// code or one past the set goes left (XGBoost's `Decision`).
    #[cold]
    fn categorical_step(self, forest: &Forest, index: u32, x: f32) -> u32 {
        let right = self.left + 1;
        if x.is_nan() {
            return if self.feature & DEFAULT_LEFT != 0 {
                self.left
            } else {
                right
            };
        }
        if x >= 0.0 && forest.category_set(index).contains(x as u32) {
            right
        } else {
            self.left
        }
    }
}
