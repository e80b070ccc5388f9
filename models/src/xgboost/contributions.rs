//! Per-feature contributions of an XGBoost model, as `pred_contribs=True`
//! gives them: TreeSHAP over each tree, weighted by the nodes'
//! `sum_hessian`, with the base margin in the bias.

use super::{Node, Tree, XGBoostModel};
use crate::tree_shap::{ShapScratch, ShapTree, add_contributions};

impl ShapTree for Tree {
    type Input = f32;

    fn leaf_value(&self, node: usize) -> Option<f64> {
        match self.nodes[node] {
            Node::Leaf { value } => Some(f64::from(value)),
            _ => None,
        }
    }

    fn split_feature(&self, node: usize) -> usize {
        match self.nodes[node] {
            Node::Numeric { feature, .. } | Node::Categorical { feature, .. } => feature as usize,
            Node::Leaf { .. } => 0,
        }
    }

    fn children(&self, node: usize) -> [usize; 2] {
        match self.nodes[node] {
            Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                [left as usize, right as usize]
            }
            Node::Leaf { .. } => [node, node],
        }
    }

    /// The same rule as scoring: `x < threshold` left, NaN by the default,
    /// a category in the set right (on the row already cast to `f32`).
    fn taken_child(&self, node: usize, row: &[f32]) -> usize {
        match self.nodes[node] {
            Node::Numeric {
                feature,
                threshold,
                left,
                right,
                default_left,
            } => {
                let x = row[feature as usize];
                let go_left = if x.is_nan() {
                    default_left
                } else {
                    x < threshold
                };
                (if go_left { left } else { right }) as usize
            }
            Node::Categorical {
                feature,
                set,
                left,
                right,
                default_left,
            } => {
                let x = row[feature as usize];
                let go_right = if x.is_nan() {
                    !default_left
                } else {
                    x >= 0.0 && self.category_sets[set as usize].contains(x as u32)
                };
                (if go_right { right } else { left }) as usize
            }
            Node::Leaf { .. } => node,
        }
    }

    fn cover(&self, node: usize) -> f64 {
        f64::from(self.covers[node])
    }
}

impl XGBoostModel {
    /// Whether every tree carries covers, which contributions need.
    pub(crate) fn has_covers(&self) -> bool {
        self.trees.iter().all(|t| !t.covers.is_empty())
    }

    /// Adds one row's contributions into `phi` (features, then the bias).
    /// Needs [`XGBoostModel::has_covers`].
    pub(crate) fn contributions_into(&self, row: &[f64], phi: &mut [f64]) {
        let bias = phi.len() - 1;
        phi[bias] += f64::from(self.base_margin);
        let row = super::narrow(row);
        let mut scratch = ShapScratch::default();
        for tree in &self.trees {
            add_contributions(tree, &row, phi, &mut scratch);
        }
    }
}
