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
    /// A feature value as the family compares it (see `crate::lanes::FlatNode::Input`).
    type Input: Copy;
    /// The leaf value, or `None` for a split.
    fn leaf_value(&self, node: usize) -> Option<f64>;
    /// A split's feature index.
    fn split_feature(&self, node: usize) -> usize;
    /// A split's two children.
    fn children(&self, node: usize) -> [usize; 2];
    /// The child of a split that `row` takes.
    fn taken_child(&self, node: usize, row: &[Self::Input]) -> usize;
    /// The training weight that reached the node.
    fn cover(&self, node: usize) -> f64;
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    /// The feature split on; `usize::MAX` for the root's placeholder.
    feature: usize,
    zero_fraction: f64,
    /// 1 when the row goes this way at every split on the feature, else 0.
    one_fraction: f64,
    weight: f64,
}

/// Reusable working memory for [`add_contributions`]: the paths of every
/// level of the walk, one segment per level, so a tree costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct ShapScratch {
    paths: Vec<PathElement>,
    /// For each path depth `d` met so far, its factors.
    factors: Vec<DepthFactors>,
    /// Per leaf: the unwinding of each element the row followed.
    taken: Vec<Unwinding>,
}

/// For a path of depth `d` and each `i < d`: `(d + 1) / (i + 1)`,
/// `(d - i) / (d + 1)` and its inverse, so the inner loops only multiply.
#[derive(Debug, Default)]
struct DepthFactors {
    up: Vec<f64>,
    down: Vec<f64>,
    down_inverse: Vec<f64>,
}

impl DepthFactors {
    fn new(depth: usize) -> Self {
        let d = depth as f64;
        let mut f = Self::default();
        for i in 0..depth {
            let fi = i as f64;
            f.up.push((d + 1.0) / (fi + 1.0));
            f.down.push((d - fi) / (d + 1.0));
            f.down_inverse.push((d + 1.0) / (d - fi));
        }
        f
    }
}

/// One element being unwound from a leaf's path (see [`unwound_sums_taken`]).
#[derive(Debug, Clone, Copy)]
struct Unwinding {
    feature: usize,
    zero_fraction: f64,
    one_inverse: f64,
    next_one: f64,
    total: f64,
    /// `(one - zero) * leaf value`: what the total is multiplied by.
    scale: f64,
}

/// Adds the tree's contributions for `row` to `phi[feature]` and its
/// expected value to `phi[features]` (the bias, last).
pub(crate) fn add_contributions<T: ShapTree>(
    tree: &T,
    row: &[T::Input],
    phi: &mut [f64],
    scratch: &mut ShapScratch,
) {
    let bias = phi.len() - 1;
    phi[bias] += mean_value(tree, 0);
    let mut walk = Walk {
        tree,
        row,
        phi,
        scratch,
    };
    walk.visit(0, 0, 0, 1.0, 1.0, usize::MAX);
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

struct Walk<'a, T: ShapTree> {
    tree: &'a T,
    row: &'a [T::Input],
    phi: &'a mut [f64],
    scratch: &'a mut ShapScratch,
}

impl<T: ShapTree> Walk<'_, T> {
    /// One step down: copies the parent's path (`depth` elements at
    /// `parent`) into this level's segment, extends it with the split that
    /// led here, then adds a leaf's share or visits both children (the taken
    /// one with the feature's "one" fraction).
    fn visit(
        &mut self,
        node: usize,
        parent: usize,
        depth: usize,
        zero_fraction: f64,
        one_fraction: f64,
        feature: usize,
    ) {
        let start = if depth == 0 { 0 } else { parent + depth };
        let paths = &mut self.scratch.paths;
        if paths.len() < start + depth + 1 {
            paths.resize(start + depth + 1, PathElement::default());
        }
        if depth > 0 {
            paths.copy_within(parent..parent + depth, start);
        }
        let path = &mut paths[start..start + depth + 1];
        path[depth] = PathElement {
            feature,
            zero_fraction,
            one_fraction,
            weight: if depth == 0 { 1.0 } else { 0.0 },
        };
        extend(path, depth);

        if let Some(value) = self.tree.leaf_value(node) {
            self.add_leaf(start, depth, value);
            return;
        }

        let tree = self.tree;
        let split = tree.split_feature(node);
        let [left, right] = tree.children(node);
        let hot = tree.taken_child(node, self.row);
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
        let path = &mut self.scratch.paths[start..start + depth + 1];
        let (mut incoming_zero, mut incoming_one, mut depth) = (1.0, 1.0, depth);
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == split) {
            incoming_zero = path[k].zero_fraction;
            incoming_one = path[k].one_fraction;
            unwind(path, depth, k);
            depth -= 1;
        }
        let hot_zero = fraction(hot) * incoming_zero;
        let cold_zero = fraction(cold) * incoming_zero;
        self.visit(hot, start, depth + 1, hot_zero, incoming_one, split);
        self.visit(cold, start, depth + 1, cold_zero, 0.0, split);
    }

    /// Adds each feature on the path its share of the leaf's value.
    fn add_leaf(&mut self, start: usize, depth: usize, value: f64) {
        let ShapScratch {
            paths,
            factors,
            taken,
        } = &mut *self.scratch;
        while factors.len() <= depth {
            factors.push(DepthFactors::new(factors.len()));
        }
        let DepthFactors {
            up,
            down,
            down_inverse,
        } = &factors[depth];
        let path = &paths[start..start + depth + 1];
        // Unwinding an element the row did not follow (one fraction 0)
        // gives this sum over its zero fraction, whichever element it is.
        let mut cold_sum = 0.0;
        for i in (0..depth).rev() {
            cold_sum += path[i].weight * down_inverse[i];
        }
        taken.clear();
        for element in &path[1..] {
            let scale = (element.one_fraction - element.zero_fraction) * value;
            if element.one_fraction != 0.0 {
                taken.push(Unwinding {
                    feature: element.feature,
                    zero_fraction: element.zero_fraction,
                    one_inverse: 1.0 / element.one_fraction,
                    next_one: path[depth].weight,
                    total: 0.0,
                    scale,
                });
            } else if element.zero_fraction != 0.0 {
                self.phi[element.feature] += cold_sum / element.zero_fraction * scale;
            }
        }
        unwound_sums_taken(path, depth, taken, up, down);
        for t in taken.iter() {
            self.phi[t.feature] += t.total * t.scale;
        }
    }
}

/// Updates the permutation weights for the element just added at `depth`.
fn extend(path: &mut [PathElement], depth: usize) {
    let (zero, one) = (path[depth].zero_fraction, path[depth].one_fraction);
    let inverse = 1.0 / (depth as f64 + 1.0);
    let d = depth as f64;
    // Element i + 1 gets what element i + 1 kept (carried in a register,
    // not through memory, so the steps do not wait on each other) plus
    // element i's share moving up.
    let mut kept = path[depth].weight;
    for i in (0..depth).rev() {
        let fi = i as f64;
        let weight = path[i].weight * inverse;
        path[i + 1].weight = kept + one * weight * (fi + 1.0);
        kept = zero * weight * (d - fi);
    }
    path[0].weight = kept;
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

/// The total weight of the path with each of `taken` (elements the row
/// follows: a non-zero one fraction) unwound, without changing the path,
/// into their `total`s. `up[i]` is `(d + 1) / (i + 1)`, `down[i]` is
/// `(d - i) / (d + 1)`. The elements advance in lockstep: each one's steps
/// depend on its previous step, so interleaving them keeps the multiplier
/// busy instead of waiting on one chain.
fn unwound_sums_taken(
    path: &[PathElement],
    depth: usize,
    taken: &mut [Unwinding],
    up: &[f64],
    down: &[f64],
) {
    for i in (0..depth).rev() {
        let (weight, up, down) = (path[i].weight, up[i], down[i]);
        for t in taken.iter_mut() {
            let share = t.next_one * up * t.one_inverse;
            t.total += share;
            t.next_one = weight - share * t.zero_fraction * down;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 < 0.5 ? (x1 < 0.5 ? 1 : 2) : 4, covers 10 = 6 (3 + 3) + 4.
    struct Small;

    impl ShapTree for Small {
        type Input = f64;
        fn leaf_value(&self, node: usize) -> Option<f64> {
            [None, None, Some(4.0), Some(1.0), Some(2.0)][node]
        }
        fn split_feature(&self, node: usize) -> usize {
            node
        }
        fn children(&self, node: usize) -> [usize; 2] {
            [[1, 2], [3, 4]][node]
        }
        fn taken_child(&self, node: usize, row: &[f64]) -> usize {
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
            add_contributions(&Small, &row, &mut phi, &mut ShapScratch::default());
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
        add_contributions(&Small, &[1.0, 0.0], &mut phi, &mut ShapScratch::default());
        assert!((phi[0] - 1.65).abs() < 1e-12, "{phi:?}");
        assert!((phi[1] + 0.15).abs() < 1e-12, "{phi:?}");
    }
}
