//! An ONNX `TreeEnsembleClassifier` / `TreeEnsembleRegressor` node (ai.onnx.ml
//! opset 1-3) into an [`Ensemble`]: trees by id, nodes by id, weights onto
//! their leaves, every attribute checked.

use std::collections::HashMap;

use super::{Aggregate, Ensemble, Head, Mode, Node, node_lengths_agree, round};
use crate::ModelError;
use crate::onnx::attributes::Attributes;
use crate::onnx::import::{Builder, describe, invalid, unsupported};
use crate::onnx::nodes::{class_labels, post_transform};
use crate::onnx::program::{Elem, PostTransform};
use crate::onnx::proto::NodeProto;

pub(crate) fn translate(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    if node.op_type == "TreeEnsemble" {
        return super::import_v5::translate(node, b);
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
    if !node_lengths_agree(
        n,
        &[
            node_ids.len(),
            feature_ids.len(),
            modes.len(),
            trues.len(),
            falses.len(),
            thresholds.len(),
        ],
        missing.len(),
    ) {
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

    // Trees by id, in order of first appearance, with the nodes each has:
    // a tree's node ids are 0 up to its node count, so an id is checked
    // against the count before it is used as an index.
    let mut tree_index: Vec<i64> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut position: HashMap<i64, usize> = HashMap::new();
    for &t in tree_ids {
        let at = *position.entry(t).or_insert_with(|| {
            tree_index.push(t);
            counts.push(0);
            tree_index.len() - 1
        });
        counts[at] += 1;
    }
    let tree_of = |t: i64| position.get(&t).copied();
    let mut trees: Vec<Vec<Option<Node>>> = counts.iter().map(|&c| vec![None; c]).collect();
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
        if id >= counts[t] {
            return Err(fail(format!(
                "tree {}: node id {id} is past the tree's node count {}",
                tree_ids[i], counts[t]
            )));
        }
        let nodes = &mut trees[t];
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
    b.tree_nodes.written(n);
    let trees = trees
        .iter()
        .enumerate()
        .map(|(t, nodes)| {
            super::unshare(nodes, &mut b.tree_nodes)
                .map_err(|e| refuse(format!("tree {}: {e}", tree_index[t])))
        })
        .collect::<Result<Vec<_>, _>>()?;
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
    .map_err(fail)?;
    b.program
        .push(crate::onnx::program::Instr::Ensemble(Box::new(ensemble)));
    if let Some(labels) = labels {
        b.labels.insert(y, labels);
        b.probabilities.insert(y);
    }
    b.define(node, if classifier { 1 } else { 0 }, y);
    Ok(())
}
