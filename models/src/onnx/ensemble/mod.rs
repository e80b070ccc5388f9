//! ONNX tree ensembles (`TreeEnsembleClassifier`, `TreeEnsembleRegressor`)
//! in edgescore's flattened forests, scored as onnxruntime scores them.
//!
//! onnxruntime's rules (onnxruntime/core/providers/cpu/ml/
//! tree_ensemble_common.h and tree_ensemble_aggregator.h), each kept here:
//! - a split compares the input value, as the input tensor holds it, with
//!   the threshold in the threshold type (float32 unless `nodes_values_as_tensor`
//!   is double): `x <= t` (BRANCH_LEQ), `<`, `>=`, `>`, `==`, `!=`; it takes
//!   the true branch when the comparison holds or when `x` is NaN and the
//!   node's `missing_value_tracks_true` is set (so NaN goes false otherwise,
//!   except under BRANCH_NEQ, where `NaN != t` holds);
//! - leaf weights are summed per class, tree by tree in model order, in the
//!   threshold type (float32 for float attributes);
//! - a one-target regressor adds its single base value and applies only
//!   PROBIT (LOGISTIC and SOFTMAX are ignored for one target); AVERAGE
//!   divides by the number of trees first; MIN and MAX keep the smallest or
//!   largest leaf;
//! - a binary classifier whose weights all go to one class (what skl2onnx
//!   and onnxmltools write) turns its score `s` into two columns: `[1 - s, s]`
//!   when every weight is non-negative (`[1 - logistic(s), logistic(s)]`
//!   under LOGISTIC, as onnxruntime 1.32 computes it), else
//!   `[logistic(-s), logistic(s)]` under LOGISTIC or `[-s, s]` (even under
//!   SOFTMAX);
//! - a one-target regressor's leaf with several weights counts its first.

mod forest;
mod import;
mod import_v5;

pub(crate) use import::translate;

use forest::{OnnxNode, Weight, flatten};

use super::post;
use super::program::{PostTransform, SlotId};
use crate::lanes::{self, FlatNode, ROW_LANES};

/// How a split compares (`nodes_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Leq = 0,
    Lt = 1,
    Gte = 2,
    Gt = 3,
    Eq = 4,
    Neq = 5,
}

impl Mode {
    pub(crate) const ALL: [Mode; 6] = [
        Mode::Leq,
        Mode::Lt,
        Mode::Gte,
        Mode::Gt,
        Mode::Eq,
        Mode::Neq,
    ];

    fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            _ => return None,
        })
    }
}

/// One node of a tree, children by index within the tree (0 is the root).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Split {
        mode: Mode,
        feature: u32,
        threshold: f64,
        missing_tracks_true: bool,
        when_true: u32,
        when_false: u32,
    },
    /// The leaf's weight for each scored target, in target order.
    Leaf { weights: Vec<f64> },
}

/// How trees combine (`aggregate_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// What the ensemble writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Head {
    /// A one-target regressor: one column, float32.
    Regressor,
    /// A one-target opset-5 ensemble on double input: one column, float64.
    RegressorDouble,
    /// A two-class classifier whose weights all go to one class: two columns.
    Binary { all_positive: bool },
}

/// A tree ensemble node, its trees and their flattened forest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ensemble {
    pub(crate) x: SlotId,
    pub(crate) y: SlotId,
    pub(crate) trees: Vec<Vec<Node>>,
    pub(crate) aggregate: Aggregate,
    pub(crate) base_values: Vec<f64>,
    pub(crate) post: PostTransform,
    pub(crate) head: Head,
    /// Sums are float64 (`*_as_tensor` attributes of type double), else float32.
    pub(crate) double: bool,
    forest: Forest,
}

#[derive(Debug, Clone, PartialEq)]
enum Forest {
    F32(lanes::Forest<OnnxNode<f32>>),
    F64(lanes::Forest<OnnxNode<f64>>),
}

impl Ensemble {
    /// Checks every tree and flattens them. `features` is the input width.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        x: SlotId,
        y: SlotId,
        trees: Vec<Vec<Node>>,
        aggregate: Aggregate,
        base_values: Vec<f64>,
        post: PostTransform,
        head: Head,
        double: bool,
        features: usize,
    ) -> Result<Self, String> {
        if trees.is_empty() {
            return Err("the ensemble has no trees".into());
        }
        for (t, tree) in trees.iter().enumerate() {
            check_tree(tree, features).map_err(|e| format!("tree {t}: {e}"))?;
        }
        if base_values.len() > 2 || (!matches!(head, Head::Binary { .. }) && base_values.len() > 1)
        {
            return Err(format!("{} base values", base_values.len()));
        }
        if let Some(v) = base_values.iter().find(|v| !v.is_finite()) {
            return Err(format!("the base value {v} is not finite"));
        }
        let forest = if double {
            Forest::F64(flatten(&trees))
        } else {
            Forest::F32(flatten(&trees))
        };
        Ok(Self {
            x,
            y,
            trees,
            aggregate,
            base_values,
            post,
            head,
            double,
            forest,
        })
    }

    /// The highest feature index a split reads.
    pub(crate) fn max_feature(&self) -> usize {
        self.trees
            .iter()
            .flatten()
            .map(|n| match n {
                Node::Split { feature, .. } => *feature as usize,
                Node::Leaf { .. } => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The columns the ensemble writes per row.
    pub(crate) fn columns(&self) -> usize {
        match self.head {
            Head::Regressor | Head::RegressorDouble => 1,
            Head::Binary { .. } => 2,
        }
    }

    /// The levels walked to score one row.
    pub(crate) fn steps_per_row(&self) -> u64 {
        match &self.forest {
            Forest::F32(f) => f.steps_per_row(),
            Forest::F64(f) => f.steps_per_row(),
        }
    }

    /// Scores `n` rows of `input` (row-major, `width` values each) into
    /// `out` (`n` rows of the head's columns).
    pub(crate) fn run(&self, input: &[f64], width: usize, n: usize, out: &mut [f64]) {
        let mut scores = vec![0.0; n];
        match &self.forest {
            Forest::F32(f) => self.combine(f, input, width, &mut scores),
            Forest::F64(f) => self.combine(f, input, width, &mut scores),
        }
        let columns = out.len() / n.max(1);
        for (s, o) in scores.into_iter().zip(out.chunks_mut(columns)) {
            self.finish(s, o);
        }
    }

    /// Each row's trees combined by the aggregate, in the sum's precision.
    fn combine<L: Weight>(
        &self,
        forest: &lanes::Forest<OnnxNode<L>>,
        input: &[f64],
        width: usize,
        scores: &mut [f64],
    ) {
        match self.aggregate {
            Aggregate::Sum | Aggregate::Average => {
                let mut acc = [L::ZERO; ROW_LANES];
                for (rows, block) in input
                    .chunks(width * ROW_LANES)
                    .zip(scores.chunks_mut(ROW_LANES))
                {
                    let acc = &mut acc[..block.len()];
                    acc.fill(L::ZERO);
                    forest.accumulate(rows, width, acc);
                    for (s, a) in block.iter_mut().zip(acc.iter()) {
                        *s = a.to_f64();
                    }
                }
                if self.aggregate == Aggregate::Average {
                    let trees = L::from_f64(self.trees.len() as f64);
                    scores
                        .iter_mut()
                        .for_each(|s| *s = (L::from_f64(*s) / trees).to_f64());
                }
            }
            Aggregate::Min | Aggregate::Max => {
                let min = self.aggregate == Aggregate::Min;
                for (row, s) in input.chunks(width).zip(scores.iter_mut()) {
                    let mut best: Option<f64> = None;
                    forest.for_each_leaf(row, |leaf| {
                        let v = leaf.leaf().to_f64();
                        best = Some(match best {
                            Some(b) if (min && b <= v) || (!min && b >= v) => b,
                            _ => v,
                        });
                    });
                    *s = best.unwrap_or(0.0);
                }
            }
        }
    }

    /// onnxruntime's FinalizeScores for one row's combined score `s`.
    fn finish(&self, s: f64, out: &mut [f64]) {
        let r = |v: f64| round(self.double, v);
        match self.head {
            Head::Regressor | Head::RegressorDouble => {
                let s = r(s + self.base_values.first().copied().unwrap_or(0.0));
                out[0] = match (self.post, self.head) {
                    (PostTransform::Probit, _) => f64::from(post::probit(s as f32)),
                    (_, Head::RegressorDouble) => s,
                    _ => f64::from(s as f32),
                };
            }
            Head::Binary { all_positive } => {
                // The weighted class is class 0; onnxruntime's binary case.
                let s = match self.base_values.as_slice() {
                    // Class 1 has no score and onnxruntime 1.32 leaves it
                    // at 0 (its base value unused); both are transformed.
                    [b0, _] => {
                        let pair = post::transform_pair(self.post, r(s + b0) as f32, 0.0);
                        out[0] = f64::from(pair.0);
                        out[1] = f64::from(pair.1);
                        return;
                    }
                    [b0] => r(s + b0),
                    _ => s,
                } as f32;
                let (neg, pos) = if all_positive {
                    // onnxruntime 1.32 (after its issue #27533) applies
                    // LOGISTIC here; earlier releases wrote [1 - s, s].
                    let p = if self.post == PostTransform::Logistic {
                        post::logistic(s)
                    } else {
                        s
                    };
                    (1.0 - p, p)
                } else if self.post == PostTransform::Logistic {
                    (post::logistic(-s), post::logistic(s))
                } else {
                    (-s, s)
                };
                out[0] = f64::from(neg);
                out[1] = f64::from(pos);
            }
        }
    }
}

/// Whether the parallel `nodes_*` attributes of an ensemble agree: each of
/// `lengths` is `n`, and `nodes_missing_value_tracks_true` (which may be
/// left out) is absent or `n` long.
pub(crate) fn node_lengths_agree(n: usize, lengths: &[usize], missing: usize) -> bool {
    lengths.iter().all(|&l| l == n) && (missing == 0 || missing == n)
}

/// The most nodes one tree may have once its shared nodes are copied.
pub(crate) const MAX_TREE_NODES: usize = 1 << 20;
/// A program's ensembles may always hold this many tree nodes once shared
/// nodes are copied and membership sets unrolled (2^22, about 300 MiB at
/// the most as trees and flattened forest)...
const ALWAYS_ALLOWED_NODES: usize = 1 << 22;
/// ...and beyond that at most this many times the nodes the file writes,
/// as the XGBoost complete layout bounds its padding (`xgboost/complete.rs`).
const MAX_GROWTH: usize = 4;

/// The tree nodes a program's ensembles have made, against
/// `max(2^22, 4 × the tree nodes its file writes)`, counted as they are
/// made. Copying shared nodes can double a tree per level, up to
/// [`MAX_TREE_NODES`] each, so without a program-wide bound a 17 KB file
/// of forty chains whose branches share their child made 40 million nodes
/// (2.9 GB). Converters share nodes only to write a category test as a
/// chain of equalities (a few copies of one subtree), and a large fraud
/// model (a thousand trees of 255 leaves) has half a million nodes: both
/// come nowhere near the bound.
#[derive(Debug, Default)]
pub(crate) struct NodeBudget {
    made: usize,
    written: usize,
}

impl NodeBudget {
    /// Counts `n` tree nodes (interior nodes and leaves) an ensemble writes
    /// in the file, before its trees are made.
    pub(crate) fn written(&mut self, n: usize) {
        self.written = self.written.saturating_add(n);
    }

    fn limit(&self) -> usize {
        ALWAYS_ALLOWED_NODES.max(MAX_GROWTH.saturating_mul(self.written))
    }

    /// Counts `n` nodes made, or refuses them once the program is past its limit.
    pub(crate) fn take(&mut self, n: usize) -> Result<(), String> {
        self.made = self.made.saturating_add(n);
        if self.made > self.limit() {
            return Err(format!(
                "the ensembles have more than {} tree nodes once shared nodes are copied \
                 (at most max(2^22, {MAX_GROWTH} × the {} tree nodes the file writes) \
                 are supported)",
                self.limit(),
                self.written
            ));
        }
        Ok(())
    }
}

/// `nodes` (root first) as a tree: a node reached from two parents gets a
/// copy per parent (onnxmltools writes a LightGBM category test as a chain
/// of `BRANCH_EQ` nodes sharing one true child; onnxruntime walks such a
/// graph as it is). A cycle, a child out of range, more than
/// [`MAX_TREE_NODES`] nodes once copied or more than `budget` allows is an
/// error.
pub(crate) fn unshare(nodes: &[Node], budget: &mut NodeBudget) -> Result<Vec<Node>, String> {
    let placeholder = Node::Leaf {
        weights: Vec::new(),
    };
    budget.take(1)?;
    let mut out = vec![placeholder.clone()];
    // (source node, slot in `out`, depth): a path longer than the node
    // count repeats a node, which is a cycle.
    let mut stack = vec![(0usize, 0usize, 0usize)];
    while let Some((src, slot, depth)) = stack.pop() {
        if depth > nodes.len() {
            return Err("the tree has a cycle".into());
        }
        if out.len() > MAX_TREE_NODES {
            return Err(format!(
                "the tree has more than {MAX_TREE_NODES} nodes once its shared nodes are copied"
            ));
        }
        let node = nodes
            .get(src)
            .ok_or_else(|| format!("a split points to node {src}, past the last node"))?;
        let mut copy = node.clone();
        if let Node::Split {
            when_true,
            when_false,
            ..
        } = &mut copy
        {
            for child in [when_true, when_false] {
                let at = out.len();
                budget.take(1)?;
                out.push(placeholder.clone());
                stack.push((*child as usize, at, depth + 1));
                *child = at as u32;
            }
        }
        out[slot] = copy;
    }
    Ok(out)
}

fn round(double: bool, v: f64) -> f64 {
    if double { v } else { f64::from(v as f32) }
}

fn check_tree(tree: &[Node], features: usize) -> Result<(), String> {
    crate::tree_check::check_is_tree(tree.len(), |i| match tree.get(i) {
        Some(Node::Split {
            when_true,
            when_false,
            ..
        }) => Some([*when_true as usize, *when_false as usize]),
        _ => None,
    })?;
    for node in tree {
        match node {
            Node::Split {
                feature, threshold, ..
            } => {
                if *feature as usize >= features {
                    return Err(format!("a split reads feature {feature} of {features}"));
                }
                if threshold.is_nan() {
                    return Err("a split has a NaN threshold".into());
                }
            }
            Node::Leaf { weights } => {
                if weights.len() > 1 || weights.iter().any(|w| !w.is_finite()) {
                    return Err("a leaf has a non-finite weight".into());
                }
            }
        }
    }
    Ok(())
}
