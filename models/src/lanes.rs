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

use crate::category_set::CategorySet;

/// Rows walked together through one tree.
pub(crate) const ROW_LANES: usize = 64;
/// Trees walked together for one row when the batch is small.
#[cfg(not(target_arch = "wasm32"))]
const TREE_LANES: usize = 16;
#[cfg(target_arch = "wasm32")]
const TREE_LANES: usize = 8;
/// Lanes advanced per loop iteration.
const UNROLL: usize = 8;
/// Below this many rows, lanes run across trees instead of rows.
const MIN_ROWS_FOR_ROW_LANES: usize = 16;

/// One node of a flattened forest: how a family steps through its trees.
pub(crate) trait FlatNode: Copy + Sized {
    /// What a leaf holds and a row's sum accumulates.
    type Leaf: Copy + AddAssign;
    /// A feature value as the family compares it: `f32` for XGBoost (which
    /// casts its input), `f64` for LightGBM.
    type Input: Copy;

    /// The node after the one at `index` (which is `self`) for the row
    /// starting at `rows[row]`; a leaf returns its own index. `CATEGORICAL`
    /// is false when the forest has no categorical split, so that check can
    /// be compiled out.
    fn step<const CATEGORICAL: bool>(
        self,
        forest: &Forest<Self>,
        index: u32,
        rows: &[Self::Input],
        row: usize,
    ) -> u32;

    /// The value of this node as a leaf.
    fn leaf(self) -> Self::Leaf;
}

/// All trees of a model in one node array, where every leaf is its own successor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Forest<N> {
    nodes: Vec<N>,
    /// Index of each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Levels from each tree's root to its deepest leaf.
    depths: Vec<u32>,
    /// For a categorical node (by index in `nodes`), its set in `category_sets`.
    set_of_node: Vec<u32>,
    category_sets: Vec<CategorySet>,
    /// Where the tree being pushed starts in `nodes`.
    tree_start: usize,
    /// TreeSHAP's work for one row: each tree's leaves times its depth squared.
    contribution_steps: u64,
}

impl<N: FlatNode> Forest<N> {
    pub(crate) fn with_capacity(nodes: usize, trees: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
            roots: Vec::with_capacity(trees),
            depths: Vec::with_capacity(trees),
            set_of_node: Vec::new(),
            category_sets: Vec::new(),
            tree_start: 0,
            contribution_steps: 0,
        }
    }

    /// Starts a tree whose node `i` will be `first_node() + i` and whose
    /// category set `k` will be set `first_set + k`; returns `first_set`.
    pub(crate) fn start_tree(&mut self, category_sets: &[CategorySet]) -> u32 {
        let first_set = self.category_sets.len() as u32;
        self.category_sets.extend(category_sets.iter().cloned());
        self.tree_start = self.nodes.len();
        first_set
    }

    /// The index the next pushed node will have.
    pub(crate) fn next_index(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// Appends a node; `category_set` is the forest-wide set of a categorical split.
    pub(crate) fn push(&mut self, node: N, category_set: Option<u32>) {
        if let Some(set) = category_set {
            self.set_of_node.resize(self.nodes.len() + 1, u32::MAX);
            self.set_of_node[self.nodes.len()] = set;
        }
        self.nodes.push(node);
    }

    /// Ends the current tree: its root index and depth.
    pub(crate) fn finish_tree(&mut self, root: u32, depth: u32) {
        self.roots.push(root);
        self.depths.push(depth);
        // A binary tree of n nodes has (n + 1) / 2 leaves.
        let leaves = (self.nodes.len() - self.tree_start).div_ceil(2) as u64;
        let depth = u64::from(depth);
        self.contribution_steps += leaves * depth * depth;
    }

    /// Every node, trees one after another.
    pub(crate) fn nodes(&self) -> &[N] {
        &self.nodes
    }

    /// Each tree's root, in model order.
    pub(crate) fn roots(&self) -> &[u32] {
        &self.roots
    }

    /// Levels walked to score one row: the sum of the trees' depths.
    pub(crate) fn steps_per_row(&self) -> u64 {
        self.depths.iter().map(|&d| u64::from(d)).sum()
    }

    /// TreeSHAP's work for one row (see `Model::contribution_steps_per_row`).
    pub(crate) fn contribution_steps_per_row(&self) -> u64 {
        self.contribution_steps
    }

    /// The category set of the categorical node at `index`.
    pub(crate) fn category_set(&self, index: u32) -> &CategorySet {
        &self.category_sets[self.set_of_node[index as usize] as usize]
    }

    /// Calls `visit` with the leaf each tree sends `row` to, tree by tree in
    /// model order.
    pub(crate) fn for_each_leaf(&self, row: &[N::Input], mut visit: impl FnMut(N)) {
        let categorical = !self.category_sets.is_empty();
        for (&root, &depth) in self.roots.iter().zip(&self.depths) {
            let mut at = root;
            for _ in 0..depth {
                at = if categorical {
                    self.step::<true>(at, row, 0)
                } else {
                    self.step::<false>(at, row, 0)
                };
            }
            visit(self.nodes[at as usize]);
        }
    }

    /// Adds every tree's leaf to `acc[r]` for each row `r` of `rows`
    /// (row-major, `width` values each, at most [`ROW_LANES`] rows), tree by
    /// tree in model order.
    pub(crate) fn accumulate(&self, rows: &[N::Input], width: usize, acc: &mut [N::Leaf]) {
        if self.category_sets.is_empty() {
            self.accumulate_with::<false>(rows, width, acc);
        } else {
            self.accumulate_with::<true>(rows, width, acc);
        }
    }

    fn accumulate_with<const CATEGORICAL: bool>(
        &self,
        rows: &[N::Input],
        width: usize,
        acc: &mut [N::Leaf],
    ) {
        if acc.len() >= MIN_ROWS_FOR_ROW_LANES {
            self.accumulate_row_lanes::<CATEGORICAL>(rows, width, acc);
        } else {
            for (r, a) in acc.iter_mut().enumerate() {
                self.accumulate_tree_lanes::<CATEGORICAL>(&rows[r * width..(r + 1) * width], a);
            }
        }
    }

    #[inline(always)]
    fn step<const CATEGORICAL: bool>(&self, index: u32, rows: &[N::Input], row: usize) -> u32 {
        self.nodes[index as usize].step::<CATEGORICAL>(self, index, rows, row)
    }

    fn accumulate_row_lanes<const CATEGORICAL: bool>(
        &self,
        rows: &[N::Input],
        width: usize,
        acc: &mut [N::Leaf],
    ) {
        let mut at = [0u32; ROW_LANES];
        let at = &mut at[..acc.len()];
        for (&root, &depth) in self.roots.iter().zip(&self.depths) {
            at.fill(root);
            for _ in 0..depth {
                // Eight lanes per loop iteration, fully unrolled: fewer loop
                // back-edges, which matters inside a component, where each
                // back-edge carries a deadline (epoch) check.
                let mut chunks = at.chunks_exact_mut(UNROLL);
                for (c, chunk) in (&mut chunks).enumerate() {
                    for (k, node) in chunk.iter_mut().enumerate() {
                        *node = self.step::<CATEGORICAL>(*node, rows, (c * UNROLL + k) * width);
                    }
                }
                let done = acc.len() - chunks.into_remainder().len();
                for (r, node) in at.iter_mut().enumerate().skip(done) {
                    *node = self.step::<CATEGORICAL>(*node, rows, r * width);
                }
            }
            for (a, &leaf) in acc.iter_mut().zip(at.iter()) {
                *a += self.nodes[leaf as usize].leaf();
            }
        }
    }

    fn accumulate_tree_lanes<const CATEGORICAL: bool>(&self, row: &[N::Input], acc: &mut N::Leaf) {
        let mut at = [0u32; TREE_LANES];
        for (roots, depths) in self
            .roots
            .chunks(TREE_LANES)
            .zip(self.depths.chunks(TREE_LANES))
        {
            let depth = depths.iter().copied().max().unwrap_or(0);
            // Always all lanes, so the loop has a fixed length the compiler
            // unrolls (one back-edge, one deadline check, per level). In the
            // last, partial group the idle lanes repeat the first tree; their
            // leaves are not added.
            let n = roots.len();
            at[..n].copy_from_slice(roots);
            at[n..].fill(roots[0]);
            // Two levels per iteration (a leaf is its own successor, so a
            // spare level is harmless): half the loop back-edges, each of
            // which carries a deadline check inside a component.
            for _ in 0..depth {
                for node in at.iter_mut() {
                    *node = self.step::<CATEGORICAL>(*node, row, 0);
                }
            }
            for &leaf in &at[..roots.len()] {
                *acc += self.nodes[leaf as usize].leaf();
            }
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
