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

use super::import::{Builder, describe, invalid, unsupported};
use super::nodes::{class_labels, post_transform};
use super::program::{Elem, PostTransform, SlotId};
use super::proto::NodeProto;
use super::{attributes::Attributes, post};
use crate::ModelError;
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
    /// A one-target regressor: one column.
    Regressor,
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

pub(crate) fn translate(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    if node.op_type == "TreeEnsemble" {
        return Err(unsupported(format!(
            "{}: the opset-5 TreeEnsemble is not supported yet; convert with ai.onnx.ml opset 3 (skl2onnx target_opset={{'ai.onnx.ml': 3}})",
            describe(node)
        )));
    }
    let x = b.input(node, 0)?;
    let features = b.width(x);
    let classifier = node.op_type == "TreeEnsembleClassifier";
    let attrs = Attributes::of(node);
    let fail = |why: String| invalid(format!("{}: {why}", describe(node)));
    let refuse = |why: String| unsupported(format!("{}: {why}", describe(node)));

    let (prefix, labels) = if classifier {
        let labels = class_labels(node)?;
        if labels.len() != 2 {
            return Err(refuse(format!(
                "{} classes; edgescore scores binary classifiers and regressors, one number per row",
                labels.len()
            )));
        }
        ("class", Some(labels))
    } else {
        if attrs.int("n_targets", 1) != 1 {
            return Err(refuse(
                "more than one target; edgescore scores one number per row".into(),
            ));
        }
        ("target", None)
    };
    let (thresholds, double_thresholds) = attrs.reals("nodes_values").map_err(fail)?;
    let (weights, double_weights) = attrs.reals(&format!("{prefix}_weights")).map_err(fail)?;
    let (base_values, double_base) = attrs.reals("base_values").map_err(fail)?;
    let double = double_thresholds || double_weights || double_base;
    let aggregate = match attrs
        .string("aggregate_function", "SUM")
        .map_err(fail)?
        .as_str()
    {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => return Err(fail(format!("unknown aggregate_function '{other}'"))),
    };
    let post = post_transform(node)?;

    let tree_ids = attrs.ints("nodes_treeids");
    let node_ids = attrs.ints("nodes_nodeids");
    let feature_ids = attrs.ints("nodes_featureids");
    let modes = attrs.strings("nodes_modes").map_err(fail)?;
    let trues = attrs.ints("nodes_truenodeids");
    let falses = attrs.ints("nodes_falsenodeids");
    let missing = attrs.ints("nodes_missing_value_tracks_true");
    let n = tree_ids.len();
    if [
        node_ids.len(),
        feature_ids.len(),
        modes.len(),
        trues.len(),
        falses.len(),
        thresholds.len(),
    ]
    .iter()
    .any(|&l| l != n)
        || !(missing.is_empty() || missing.len() == n)
    {
        return Err(fail("the nodes_* attributes have different lengths".into()));
    }
    let w_trees = attrs.ints(&format!("{prefix}_treeids"));
    let w_nodes = attrs.ints(&format!("{prefix}_nodeids"));
    let w_ids = attrs.ints(&format!("{prefix}_ids"));
    if w_trees.len() != weights.len()
        || w_nodes.len() != weights.len()
        || w_ids.len() != weights.len()
    {
        return Err(fail(format!(
            "the {prefix}_* attributes have different lengths"
        )));
    }

    // Trees by id, in order of first appearance; nodes by id within a tree.
    let mut tree_index: Vec<i64> = Vec::new();
    for &t in tree_ids {
        if !tree_index.contains(&t) {
            tree_index.push(t);
        }
    }
    let tree_of = |t: i64| tree_index.iter().position(|&x| x == t);
    let mut trees: Vec<Vec<Option<Node>>> = vec![Vec::new(); tree_index.len()];
    let mut targets_seen: Vec<i64> = w_ids.to_vec();
    targets_seen.sort_unstable();
    targets_seen.dedup();
    let targets = targets_seen.clone();
    if classifier && targets.len() != 1 {
        return Err(refuse(format!(
            "weights for {} classes; edgescore reads binary classifiers with one weighted class (as skl2onnx and onnxmltools write them)",
            targets.len()
        )));
    }
    if !classifier && targets != [0] {
        return Err(fail("the weights name targets other than 0".into()));
    }
    for i in 0..n {
        let t = tree_of(tree_ids[i]).unwrap_or_default();
        let id =
            usize::try_from(node_ids[i]).map_err(|_| fail(format!("node id {}", node_ids[i])))?;
        if id >= n {
            return Err(fail(format!("node id {id} is past the node count {n}")));
        }
        let nodes = &mut trees[t];
        if nodes.len() <= id {
            nodes.resize(id + 1, None);
        }
        if nodes[id].is_some() {
            return Err(fail(format!("tree {} has node {id} twice", tree_ids[i])));
        }
        nodes[id] = Some(if modes[i] == "LEAF" {
            Node::Leaf {
                weights: Vec::new(),
            }
        } else {
            let mode = Mode::parse(&modes[i])
                .ok_or_else(|| refuse(format!("the node mode '{}' is not supported", modes[i])))?;
            let feature = u32::try_from(feature_ids[i])
                .ok()
                .filter(|&f| (f as usize) < features)
                .ok_or_else(|| {
                    fail(format!(
                        "a split reads feature {} of {features}",
                        feature_ids[i]
                    ))
                })?;
            let child = |c: i64| u32::try_from(c).map_err(|_| fail(format!("child id {c}")));
            Node::Split {
                mode,
                feature,
                threshold: thresholds[i],
                missing_tracks_true: missing.get(i).is_some_and(|&m| m != 0),
                when_true: child(trues[i])?,
                when_false: child(falses[i])?,
            }
        });
    }
    for (k, &w) in weights.iter().enumerate() {
        let leaf = tree_of(w_trees[k])
            .and_then(|t| usize::try_from(w_nodes[k]).ok().map(|id| (t, id)))
            .and_then(|(t, id)| trees[t].get_mut(id))
            .and_then(Option::as_mut);
        match leaf {
            Some(Node::Leaf { weights }) => {
                // Several weights on one leaf: a classifier adds them, a
                // one-target regressor keeps the first.
                match weights.first_mut() {
                    Some(sum) if classifier => *sum = round(double, *sum + w),
                    Some(_) => {}
                    None => weights.push(w),
                }
            }
            _ => {
                return Err(fail(format!(
                    "a weight names tree {} node {}, which is not a leaf",
                    w_trees[k], w_nodes[k]
                )));
            }
        }
    }
    let trees: Vec<Vec<Node>> = trees
        .into_iter()
        .enumerate()
        .map(|(t, nodes)| {
            nodes
                .into_iter()
                .enumerate()
                .map(|(id, node)| {
                    node.ok_or_else(|| fail(format!("tree {} has no node {id}", tree_index[t])))
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let head = if classifier {
        if matches!(post, PostTransform::Probit) {
            return Err(refuse("PROBIT on a binary classifier with one weighted class writes one column only; it is not supported".into()));
        }
        let all_positive = weights.iter().all(|&w| w >= 0.0);
        Head::Binary { all_positive }
    } else {
        Head::Regressor
    };
    let y = b.slot(if classifier { 2 } else { 1 }, Elem::F32)?;
    let ensemble = Ensemble::new(
        x,
        y,
        trees,
        aggregate,
        base_values,
        post,
        head,
        double,
        features,
    )
    .map_err(|e| fail(e))?;
    b.program
        .push(super::program::Instr::Ensemble(Box::new(ensemble)));
    if let Some(labels) = labels {
        b.labels.insert(y, labels);
        b.probabilities.insert(y);
    }
    b.define(node, if classifier { 1 } else { 0 }, y);
    Ok(())
}

fn round(double: bool, v: f64) -> f64 {
    if double { v } else { f64::from(v as f32) }
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
        if base_values.len() > 2 || (matches!(head, Head::Regressor) && base_values.len() > 1) {
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
            Head::Regressor => 1,
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
                let mut acc = vec![L::ZERO; ROW_LANES];
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
            Head::Regressor => {
                let s = r(s + self.base_values.first().copied().unwrap_or(0.0));
                out[0] = f64::from(match self.post {
                    PostTransform::Probit => post::probit(s as f32),
                    _ => s as f32,
                });
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

/// The precision leaf weights are summed in.
pub(crate) trait Weight:
    Copy + std::ops::AddAssign + std::ops::Div<Output = Self> + PartialEq + std::fmt::Debug
{
    const ZERO: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Weight for f32 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Weight for f64 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
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

const FEATURE_MASK: u32 = (1 << 28) - 1;
const MODE_SHIFT: u32 = 28;
const MISSING_TRUE: u32 = 1 << 31;

/// A flattened node: a split's threshold or a leaf's weight; a leaf is its
/// own successor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OnnxNode<L> {
    value: f64,
    /// The feature in the low 28 bits, the mode in bits 28-30, bit 31 set
    /// when NaN takes the true branch.
    feature: u32,
    when_true: u32,
    when_false: u32,
    leaf: L,
}

fn flatten<L: Weight>(trees: &[Vec<Node>]) -> lanes::Forest<OnnxNode<L>> {
    let total = trees.iter().map(Vec::len).sum();
    let mut forest = lanes::Forest::with_capacity(total, trees.len());
    for tree in trees {
        forest.start_tree(&[]);
        let base = forest.next_index();
        for (i, node) in tree.iter().enumerate() {
            let own = base + i as u32;
            forest.push(
                match node {
                    Node::Split {
                        mode,
                        feature,
                        threshold,
                        missing_tracks_true,
                        when_true,
                        when_false,
                    } => OnnxNode {
                        value: *threshold,
                        feature: feature
                            | (*mode as u32) << MODE_SHIFT
                            | if *missing_tracks_true {
                                MISSING_TRUE
                            } else {
                                0
                            },
                        when_true: base + when_true,
                        when_false: base + when_false,
                        leaf: L::ZERO,
                    },
                    Node::Leaf { weights } => OnnxNode {
                        value: 0.0,
                        feature: 0,
                        when_true: own,
                        when_false: own,
                        leaf: L::from_f64(weights.first().copied().unwrap_or(0.0)),
                    },
                },
                None,
            );
        }
        let depth = lanes::depth(|i| match tree.get(i) {
            Some(Node::Split {
                when_true,
                when_false,
                ..
            }) => Some([*when_true as usize, *when_false as usize]),
            _ => None,
        });
        forest.finish_tree(base, depth);
    }
    forest
}

impl<L: Weight> FlatNode for OnnxNode<L> {
    type Leaf = L;
    type Input = f64;

    #[inline(always)]
    fn step<const CATEGORICAL: bool>(
        self,
        _forest: &lanes::Forest<Self>,
        _index: u32,
        rows: &[f64],
        row: usize,
    ) -> u32 {
        let x = rows[row + (self.feature & FEATURE_MASK) as usize];
        let t = self.value;
        // Every comparison at once, then the node's picked out by its mode
        // (bit k is mode k): no branch for the walk to mispredict.
        let (le, lt, eq) = ((x <= t) as u32, (x < t) as u32, (x == t) as u32);
        let (ge, gt) = ((x >= t) as u32, (x > t) as u32);
        let results = le | lt << 1 | ge << 2 | gt << 3 | eq << 4 | ((x != t) as u32) << 5;
        let hit = (results >> ((self.feature >> MODE_SHIFT) & 7)) & 1;
        let go_true = hit | ((x.is_nan() as u32) & (self.feature >> 31));
        let mask = go_true.wrapping_neg();
        self.when_false ^ ((self.when_true ^ self.when_false) & mask)
    }

    fn leaf(self) -> L {
        self.leaf
    }
}
