//! Per-feature contributions of a LightGBM model, as `pred_contrib=True`
//! gives them: TreeSHAP over each tree, weighted by the training counts
//! (`internal_count`, `leaf_count`). Splits are nodes `0..splits`, leaf `j`
//! is node `splits + j`.

use super::{Child, LightGbmModel, MissingType, Split, Tree, ZERO_THRESHOLD};
use crate::tree_shap::{ShapScratch, ShapTree, add_contributions};

impl Tree {
    fn node(&self, child: Child) -> usize {
        match child {
            Child::Split(i) => i as usize,
            Child::Leaf(j) => self.splits.len() + j as usize,
        }
    }
}

impl ShapTree for Tree {
    type Input = f64;

    fn leaf_value(&self, node: usize) -> Option<f64> {
        if self.splits.is_empty() {
            return self.leaves.first().copied();
        }
        node.checked_sub(self.splits.len())
            .map(|leaf| self.leaves[leaf])
    }

    fn split_feature(&self, node: usize) -> usize {
        match self.splits[node] {
            Split::Numeric { feature, .. } | Split::Categorical { feature, .. } => feature as usize,
        }
    }

    fn children(&self, node: usize) -> [usize; 2] {
        match self.splits[node] {
            Split::Numeric { left, right, .. } | Split::Categorical { left, right, .. } => {
                [self.node(left), self.node(right)]
            }
        }
    }

    /// The same rules as scoring (LightGBM's `NumericalDecision` on the row
    /// as its C API builds it, and `CategoricalDecision`).
    fn taken_child(&self, node: usize, row: &[f64]) -> usize {
        let go_left = match self.splits[node] {
            Split::Numeric {
                feature,
                threshold,
                missing,
                default_left,
                ..
            } => {
                let x = row[feature as usize];
                let nan = x.is_nan();
                let value = if nan || x.abs() <= ZERO_THRESHOLD {
                    0.0
                } else {
                    x
                };
                let is_missing = match missing {
                    MissingType::None => false,
                    MissingType::Zero => value == 0.0,
                    MissingType::NaN => nan,
                };
                if is_missing {
                    default_left
                } else {
                    value <= threshold
                }
            }
            Split::Categorical { feature, set, .. } => {
                let x = row[feature as usize];
                let code = x as i32;
                !(x.is_nan() || code < 0) && self.category_sets[set as usize].contains(code as u32)
            }
        };
        let [left, right] = self.children(node);
        if go_left { left } else { right }
    }

    fn cover(&self, node: usize) -> f64 {
        match node.checked_sub(self.splits.len()) {
            Some(leaf) => self.leaf_counts[leaf],
            None => self.split_counts[node],
        }
    }
}

impl LightGbmModel {
    /// Whether every tree carries its counts, which contributions need.
    pub(crate) fn has_counts(&self) -> bool {
        self.trees.iter().all(|t| {
            t.leaf_counts.len() == t.leaves.len() && t.split_counts.len() == t.splits.len()
        })
    }

    /// Adds one row's contributions into `phi` (features, then the bias).
    /// Needs [`LightGbmModel::has_counts`].
    pub(crate) fn contributions_into(&self, row: &[f64], phi: &mut [f64]) {
        let mut scratch = ShapScratch::default();
        for tree in &self.trees {
            if tree.splits.is_empty() {
                let bias = phi.len() - 1;
                phi[bias] += tree.leaves[0];
            } else {
                add_contributions(tree, row, phi, &mut scratch);
            }
        }
    }
}
