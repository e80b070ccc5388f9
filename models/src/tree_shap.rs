//! Per-feature contributions of one tree to one row's margin: exact TreeSHAP
//! (Lundberg, Erion and Lee, "Consistent individualized feature attribution
//! for tree ensembles", algorithm 2), as XGBoost's `pred_contribs` and
//! LightGBM's `pred_contrib` compute it.
//!
//! Each node's *cover* (the training weight that reached it: XGBoost's
//! `sum_hessian`, LightGBM's counts) weighs the branch a row did not take.
//! The contributions of a tree add up to its leaf value for the row minus
//! the tree's expected value, which goes to the bias slot.

/// What TreeSHAP needs of a tree. Node 0 is the root.
pub(crate) trait ShapTree {
    /// The leaf value, or `None` for a split.
    fn leaf_value(&self, node: usize) -> Option<f64>;
    /// A split's feature index.
    fn split_feature(&self, node: usize) -> usize;
    /// A split's two children.
    fn children(&self, node: usize) -> [usize; 2];
    /// The child of a split that `row` takes.
    fn taken_child(&self, node: usize, row: &[f32]) -> usize;
    /// The training weight that reached the node.
    fn cover(&self, node: usize) -> f64;
}

#[derive(Debug, Clone, Copy)]
struct PathElement {
    /// The feature split on; `usize::MAX` for the root's placeholder.
    feature: usize,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

/// Adds the tree's contributions for `row` to `phi[feature]` and its
/// expected value to `phi[features]` (the bias, last).
pub(crate) fn add_contributions(tree: &impl ShapTree, row: &[f32], phi: &mut [f64]) {
    let bias = phi.len() - 1;
    phi[bias] += mean_value(tree, 0);
    walk(tree, row, phi, 0, &[], 0, 1.0, 1.0, usize::MAX);
}

/// The tree's expected value below `node`: children weighted by cover.
fn mean_value(tree: &impl ShapTree, node: usize) -> f64 {
    if let Some(value) = tree.leaf_value(node) {
        return value;
    }
    let [a, b] = tree.children(node);
    let total = tree.cover(node);
    if total <= 0.0 {
        return 0.0;
    }
    (mean_value(tree, a) * tree.cover(a) + mean_value(tree, b) * tree.cover(b)) / total
}

/// One step down: extends the parent's path (`parent[..depth]`) with the
/// split that led here, then adds a leaf's share or recurses into both
/// children (the taken one with the features' "one" fraction).
#[allow(clippy::too_many_arguments)]
fn walk(
    tree: &impl ShapTree,
    row: &[f32],
    phi: &mut [f64],
    node: usize,
    parent: &[PathElement],
    depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: usize,
) {
    let mut path = parent[..depth].to_vec();
    path.push(PathElement {
        feature,
        zero_fraction,
        one_fraction,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    });
    extend(&mut path, depth);

    if let Some(value) = tree.leaf_value(node) {
        for i in 1..=depth {
            let share = unwound_sum(&path, depth, i);
            let element = path[i];
            phi[element.feature] += share * (element.one_fraction - element.zero_fraction) * value;
        }
        return;
    }

    let split = tree.split_feature(node);
    let [left, right] = tree.children(node);
    let hot = tree.taken_child(node, row);
    let cold = if hot == left { right } else { left };
    let cover = tree.cover(node);
    let fraction = |child: usize| {
        if cover > 0.0 {
            tree.cover(child) / cover
        } else {
            0.0
        }
    };
    // A feature split on again higher up: undo that split first.
    let (mut incoming_zero, mut incoming_one, mut depth) = (1.0, 1.0, depth);
    if let Some(k) = (1..=depth).find(|&k| path[k].feature == split) {
        incoming_zero = path[k].zero_fraction;
        incoming_one = path[k].one_fraction;
        unwind(&mut path, depth, k);
        depth -= 1;
    }
    walk(
        tree,
        row,
        phi,
        hot,
        &path,
        depth + 1,
        fraction(hot) * incoming_zero,
        incoming_one,
        split,
    );
    walk(
        tree,
        row,
        phi,
        cold,
        &path,
        depth + 1,
        fraction(cold) * incoming_zero,
        0.0,
        split,
    );
}

/// Updates the permutation weights for the element just added at `depth`.
fn extend(path: &mut [PathElement], depth: usize) {
    let (zero, one) = (path[depth].zero_fraction, path[depth].one_fraction);
    let d = depth as f64;
    for i in (0..depth).rev() {
        let fi = i as f64;
        path[i + 1].weight += one * path[i].weight * (fi + 1.0) / (d + 1.0);
        path[i].weight = zero * path[i].weight * (d - fi) / (d + 1.0);
    }
}

/// Removes element `k` from the path, undoing its effect on the weights.
fn unwind(path: &mut [PathElement], depth: usize, k: usize) {
    let (zero, one) = (path[k].zero_fraction, path[k].one_fraction);
    let d = depth as f64;
    let mut next_one = path[depth].weight;
    for i in (0..depth).rev() {
        let fi = i as f64;
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next_one * (d + 1.0) / ((fi + 1.0) * one);
            next_one = kept - path[i].weight * zero * (d - fi) / (d + 1.0);
        } else {
            path[i].weight = path[i].weight * (d + 1.0) / (zero * (d - fi));
        }
    }
    for i in k..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// The total weight of the path with element `k` unwound, without changing it.
fn unwound_sum(path: &[PathElement], depth: usize, k: usize) -> f64 {
    let (zero, one) = (path[k].zero_fraction, path[k].one_fraction);
    let d = depth as f64;
    let mut next_one = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        let fi = i as f64;
        if one != 0.0 {
            let share = next_one * (d + 1.0) / ((fi + 1.0) * one);
            total += share;
            next_one = path[i].weight - share * zero * ((d - fi) / (d + 1.0));
        } else if zero != 0.0 {
            total += (path[i].weight / zero) / ((d - fi) / (d + 1.0));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 < 0.5 ? (x1 < 0.5 ? 1 : 2) : 4, covers 10 = 6 (3 + 3) + 4.
    struct Small;

    impl ShapTree for Small {
        fn leaf_value(&self, node: usize) -> Option<f64> {
            [None, None, Some(4.0), Some(1.0), Some(2.0)][node]
        }
        fn split_feature(&self, node: usize) -> usize {
            node
        }
        fn children(&self, node: usize) -> [usize; 2] {
            [[1, 2], [3, 4]][node]
        }
        fn taken_child(&self, node: usize, row: &[f32]) -> usize {
            let [l, r] = self.children(node);
            if row[node] < 0.5 { l } else { r }
        }
        fn cover(&self, node: usize) -> f64 {
            [10.0, 6.0, 4.0, 3.0, 3.0][node]
        }
    }

    #[test]
    fn contributions_add_up_to_the_prediction() {
        for row in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] {
            let mut phi = [0.0; 3];
            add_contributions(&Small, &row, &mut phi);
            let prediction = match (row[0] < 0.5, row[1] < 0.5) {
                (true, true) => 1.0,
                (true, false) => 2.0,
                _ => 4.0,
            };
            let total: f64 = phi.iter().sum();
            assert!((total - prediction).abs() < 1e-12, "{row:?}: {phi:?}");
            // The expected value: (1*3 + 2*3 + 4*4) / 10.
            assert!((phi[2] - 2.5).abs() < 1e-12);
        }
    }

    #[test]
    fn shares_are_the_shapley_values_of_the_path_dependent_expectations() {
        // Row (1, 0) lands on 4. Knowing nothing: 2.5; knowing x1 = 0 only:
        // 0.6 * 1 + 0.4 * 4 = 2.2; knowing x0 (alone or with x1): 4. So
        // x0 gets ((4 - 2.5) + (4 - 2.2)) / 2 = 1.65, x1 ((2.2 - 2.5) + 0) / 2.
        let mut phi = [0.0; 3];
        add_contributions(&Small, &[1.0, 0.0], &mut phi);
        assert!((phi[0] - 1.65).abs() < 1e-12, "{phi:?}");
        assert!((phi[1] + 0.15).abs() < 1e-12, "{phi:?}");
    }
}
