//! The opset-5 `TreeEnsemble` (ai.onnx.ml 5) into an [`Ensemble`], as
//! onnxruntime 1.32 reads it: interior nodes and leaves in separate arrays,
//! trees from `tree_roots`; thresholds and weights as tensors of the input's
//! type; `aggregate_function` 0 AVERAGE, 1 SUM, 2 MIN, 3 MAX;
//! `post_transform` as onnxruntime numbers it (0 NONE, 1 LOGISTIC, 2 SOFTMAX,
//! 3 SOFTMAX_ZERO, 4 PROBIT; with one target only PROBIT applies).
//!
//! A `BRANCH_MEMBER` node with a small set (fewer than 31 members, all in
//! 0..=30) is a chain of `BRANCH_EQ` nodes sharing the true child, exactly
//! as onnxruntime unrolls it; larger sets, which onnxruntime tests after
//! truncating the input to an int32, are refused.

use super::{Aggregate, Ensemble, Head, MAX_TREE_NODES, Mode, Node, node_lengths_agree};
use crate::ModelError;
use crate::onnx::attributes::{self, Attributes};
use crate::onnx::import::{Builder, describe, invalid, unsupported};
use crate::onnx::program::{Elem, Instr, PostTransform};
use crate::onnx::proto::NodeProto;

/// onnxruntime's small-set bound for `BRANCH_MEMBER`.
const SMALL_SET: usize = 31;

pub(crate) fn translate(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let features = b.width(x);
    let attrs = Attributes::of(node);
    let fail = |why: String| invalid(format!("{}: {why}", describe(node)));
    let refuse = |why: String| unsupported(format!("{}: {why}", describe(node)));
    if attrs.int("n_targets", 1) != 1 {
        return Err(refuse(
            "more than one target; edgescore scores one number per row".into(),
        ));
    }
    let tensor = |name: &str| -> Result<(Vec<f64>, bool), ModelError> {
        match attrs.tensor(name) {
            Some(t) => attributes::tensor_reals(t)
                .map(|v| (v, t.data_type == attributes::DOUBLE))
                .map_err(|e| fail(format!("attribute '{name}': {e}"))),
            None => Ok((Vec::new(), false)),
        }
    };
    let (splits, double_splits) = tensor("nodes_splits")?;
    let (leaf_weights, double_weights) = tensor("leaf_weights")?;
    let (modes, _) = tensor("nodes_modes")?;
    let (members, _) = tensor("membership_values")?;
    let double = double_splits || double_weights;
    let aggregate = match attrs.int("aggregate_function", 1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => return Err(fail(format!("unknown aggregate_function {other}"))),
    };
    let post = match attrs.int("post_transform", 0) {
        0 => PostTransform::None,
        1 => PostTransform::Logistic,
        2 => PostTransform::Softmax,
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        other => return Err(fail(format!("unknown post_transform {other}"))),
    };
    let feature_ids = attrs.ints("nodes_featureids");
    let trues = attrs.ints("nodes_truenodeids");
    let falses = attrs.ints("nodes_falsenodeids");
    let true_leafs = attrs.ints("nodes_trueleafs");
    let false_leafs = attrs.ints("nodes_falseleafs");
    let missing = attrs.ints("nodes_missing_value_tracks_true");
    let targets = attrs.ints("leaf_targetids");
    let n = feature_ids.len();
    if !node_lengths_agree(
        n,
        &[
            splits.len(),
            modes.len(),
            trues.len(),
            falses.len(),
            true_leafs.len(),
            false_leafs.len(),
        ],
        missing.len(),
    ) || targets.len() != leaf_weights.len()
    {
        return Err(fail(
            "the nodes_* or leaf_* attributes have different lengths".into(),
        ));
    }
    if targets.iter().any(|&t| t != 0) {
        return Err(fail("a leaf names a target other than 0".into()));
    }
    // The members of each MEMBER node, in node order, each set ended by NaN.
    let mut sets = members.split(|v| v.is_nan());
    let mut member_sets = vec![Vec::new(); n];
    for (i, &mode) in modes.iter().enumerate() {
        if mode == 6.0 {
            let set = sets
                .next()
                .ok_or_else(|| fail("fewer membership sets than MEMBER nodes".into()))?;
            if set.is_empty()
                || set.len() >= SMALL_SET
                || set.iter().any(|&m| !(0.0..=30.0).contains(&m))
            {
                return Err(refuse(format!(
                    "a BRANCH_MEMBER set of {} members{} (onnxruntime tests such sets on the input truncated to an int32); sets of fewer than {SMALL_SET} members within 0-30 are supported",
                    set.len(),
                    if set.iter().any(|&m| !(0.0..=30.0).contains(&m)) {
                        " outside 0-30"
                    } else {
                        ""
                    }
                )));
            }
            member_sets[i] = set.to_vec();
        }
    }
    let index = |v: i64, what: &str, len: usize| -> Result<usize, ModelError> {
        usize::try_from(v)
            .ok()
            .filter(|&i| i < len)
            .ok_or_else(|| fail(format!("{what} {v} is out of range")))
    };
    // The program-wide bound on the nodes the trees are made into: each
    // iteration below makes at most 2 + 2 × 30 nodes, counted at the next.
    b.tree_nodes.written(n.saturating_add(leaf_weights.len()));
    let mut trees = Vec::new();
    let mut is_root = vec![false; n];
    for &root in attrs.ints("tree_roots") {
        let root = index(root, "tree root", n)?;
        if std::mem::replace(&mut is_root[root], true) {
            return Err(fail(format!(
                "tree_roots lists node {root} twice (each tree has a root of its own)"
            )));
        }
        let mut tree: Vec<Node> = Vec::new();
        // A tree that is one leaf: a root whose branches are the same leaf,
        // read (as onnxruntime reads it) at the root's own index.
        if true_leafs[root] != 0 && false_leafs[root] != 0 && trues[root] == falses[root] {
            let w = leaf_weights
                .get(root)
                .copied()
                .ok_or_else(|| fail("a lone leaf has no weight".into()))?;
            b.tree_nodes.take(1).map_err(&refuse)?;
            trees.push(vec![Node::Leaf { weights: vec![w] }]);
            continue;
        }
        // Depth-first from the root: (ONNX node, slot in `tree` to fill).
        tree.push(Node::Leaf {
            weights: Vec::new(),
        });
        let mut counted = 0;
        let mut stack = vec![(root, 0usize)];
        while let Some((i, at)) = stack.pop() {
            if tree.len() > MAX_TREE_NODES {
                return Err(refuse(format!(
                    "a tree grows past {MAX_TREE_NODES} nodes once its membership sets are unrolled (or it reaches a node twice)"
                )));
            }
            b.tree_nodes.take(tree.len() - counted).map_err(&refuse)?;
            counted = tree.len();
            let feature = u32::try_from(feature_ids[i])
                .ok()
                .filter(|&f| (f as usize) < features)
                .ok_or_else(|| {
                    fail(format!(
                        "a split reads feature {} of {features}",
                        feature_ids[i]
                    ))
                })?;
            let child = |is_leaf: i64,
                         id: i64,
                         tree: &mut Vec<Node>,
                         stack: &mut Vec<(usize, usize)>|
             -> Result<u32, ModelError> {
                let slot = tree.len();
                if is_leaf != 0 {
                    let leaf = index(id, "leaf", leaf_weights.len())?;
                    tree.push(Node::Leaf {
                        weights: vec![leaf_weights[leaf]],
                    });
                } else {
                    tree.push(Node::Leaf {
                        weights: Vec::new(),
                    });
                    stack.push((index(id, "node", n)?, slot));
                }
                Ok(slot as u32)
            };
            let missing_tracks_true = missing.get(i).is_some_and(|&m| m != 0);
            if modes[i] == 6.0 {
                // x == m1, else x == m2, ..., else the false child; each
                // equality gets its own copy of the true subtree, so the
                // result stays a tree.
                let when_false = child(false_leafs[i], falses[i], &mut tree, &mut stack)?;
                let mut next_false = when_false;
                for (k, &m) in member_sets[i].iter().enumerate().rev() {
                    let when_true = child(true_leafs[i], trues[i], &mut tree, &mut stack)?;
                    let split = Node::Split {
                        mode: Mode::Eq,
                        feature,
                        threshold: m,
                        missing_tracks_true,
                        when_true,
                        when_false: next_false,
                    };
                    if k == 0 {
                        tree[at] = split;
                    } else {
                        tree.push(split);
                        next_false = tree.len() as u32 - 1;
                    }
                }
                continue;
            }
            let when_true = child(true_leafs[i], trues[i], &mut tree, &mut stack)?;
            let when_false = child(false_leafs[i], falses[i], &mut tree, &mut stack)?;
            let mode = match modes[i] as u8 {
                0 => Mode::Leq,
                1 => Mode::Lt,
                2 => Mode::Gte,
                3 => Mode::Gt,
                4 => Mode::Eq,
                5 => Mode::Neq,
                other => return Err(refuse(format!("the node mode {other} is not supported"))),
            };
            tree[at] = Node::Split {
                mode,
                feature,
                threshold: splits[i],
                missing_tracks_true,
                when_true,
                when_false,
            };
        }
        b.tree_nodes.take(tree.len() - counted).map_err(&refuse)?;
        trees.push(tree);
    }
    let output_elem = if b.elem(x) == Elem::F64 {
        Elem::F64
    } else {
        Elem::F32
    };
    let head = if output_elem == Elem::F64 {
        Head::RegressorDouble
    } else {
        Head::Regressor
    };
    let y = b.slot(1, output_elem)?;
    let ensemble = Ensemble::new(
        x,
        y,
        trees,
        aggregate,
        Vec::new(),
        post,
        head,
        double,
        features,
    )
    .map_err(fail)?;
    b.program.push(Instr::Ensemble(Box::new(ensemble)));
    b.define(node, 0, y);
    Ok(())
}
