//! Walking many trees or many rows at once ("lanes"), shared by the tree families.
//!
//! A tree walk is a chain of dependent loads (node, then feature value, then
//! the next node), so one walk at a time leaves the CPU waiting on memory.
//! Advancing many independent walks one level at a time overlaps those
//! waits: a batch walks up to [`ROW_LANES`] rows through the same tree; a
//! single row walks [`TREE_LANES`] trees at once. In a flattened forest a
//! leaf points to itself, so a lane that reached its leaf stays there until
//! the deepest lane of its group arrives.
//!
//! Either way each row's leaves are added to its sum one tree at a time, in
//! model order, as the reference libraries add them.

use std::ops::AddAssign;

/// Rows walked together through one tree.
pub(crate) const ROW_LANES: usize = 64;
/// Trees walked together for one row when the batch is small.
const TREE_LANES: usize = 16;
/// Below this many rows, lanes run across trees instead of rows.
const MIN_ROWS_FOR_ROW_LANES: usize = 16;

/// A forest flattened into one node array, where every leaf is its own successor.
pub(crate) trait FlatForest {
    /// What a leaf holds and a row's sum accumulates.
    type Leaf: Copy + AddAssign;

    /// Index of each tree's root node.
    fn roots(&self) -> &[u32];
    /// Levels from each tree's root to its deepest leaf.
    fn depths(&self) -> &[u32];
    /// The node after `index` for the row starting at `rows[row]`; a leaf
    /// returns itself. `CATEGORICAL` is false when the forest has no
    /// categorical split, so the check can be compiled out.
    fn step<const CATEGORICAL: bool>(&self, index: u32, rows: &[f32], row: usize) -> u32;
    /// The value of the leaf at `index`.
    fn leaf(&self, index: u32) -> Self::Leaf;
}

/// Adds every tree's leaf to `acc[r]` for each row `r` of `rows` (row-major,
/// `width` values each, at most [`ROW_LANES`] rows), tree by tree in model order.
pub(crate) fn accumulate<F: FlatForest, const CATEGORICAL: bool>(
    forest: &F,
    rows: &[f32],
    width: usize,
    acc: &mut [F::Leaf],
) {
    if acc.len() >= MIN_ROWS_FOR_ROW_LANES {
        accumulate_row_lanes::<F, CATEGORICAL>(forest, rows, width, acc);
    } else {
        for (r, a) in acc.iter_mut().enumerate() {
            accumulate_tree_lanes::<F, CATEGORICAL>(forest, &rows[r * width..(r + 1) * width], a);
        }
    }
}

fn accumulate_row_lanes<F: FlatForest, const CATEGORICAL: bool>(
    forest: &F,
    rows: &[f32],
    width: usize,
    acc: &mut [F::Leaf],
) {
    let mut at = [0u32; ROW_LANES];
    let at = &mut at[..acc.len()];
    for (&root, &depth) in forest.roots().iter().zip(forest.depths()) {
        at.fill(root);
        for _ in 0..depth {
            for (r, node) in at.iter_mut().enumerate() {
                *node = forest.step::<CATEGORICAL>(*node, rows, r * width);
            }
        }
        for (a, &leaf) in acc.iter_mut().zip(at.iter()) {
            *a += forest.leaf(leaf);
        }
    }
}

fn accumulate_tree_lanes<F: FlatForest, const CATEGORICAL: bool>(
    forest: &F,
    row: &[f32],
    acc: &mut F::Leaf,
) {
    let mut at = [0u32; TREE_LANES];
    for (roots, depths) in forest
        .roots()
        .chunks(TREE_LANES)
        .zip(forest.depths().chunks(TREE_LANES))
    {
        let at = &mut at[..roots.len()];
        at.copy_from_slice(roots);
        let depth = depths.iter().copied().max().unwrap_or(0);
        for _ in 0..depth {
            for node in at.iter_mut() {
                *node = forest.step::<CATEGORICAL>(*node, row, 0);
            }
        }
        for &leaf in at.iter() {
            *acc += forest.leaf(leaf);
        }
    }
}

/// Levels from node 0 to the deepest leaf of a tree given by its children
/// (`None` for a leaf); 0 for a lone leaf. The tree was checked acyclic.
pub(crate) fn depth(children: impl Fn(usize) -> Option<[usize; 2]>) -> u32 {
    let mut deepest = 0;
    let mut stack = vec![(0usize, 0u32)];
    while let Some((i, d)) = stack.pop() {
        match children(i) {
            None => deepest = deepest.max(d),
            Some([left, right]) => {
                stack.push((left, d + 1));
                stack.push((right, d + 1));
            }
        }
    }
    deepest
}
