//! From an ONNX file to a program: the graph's inputs become features, the
//! output that is "the score" is found, and only the nodes it depends on are
//! translated (a classifier's label branch — ArgMax, a class lookup — is
//! never run, so its operators need no support).

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::OnnxModel;
use super::attributes::{self, Attributes};
use super::nodes;
use super::program::{Elem, Instr, Slot, SlotId};
use super::proto::{GraphProto, ModelProto, NodeProto, TypeProto, Value, ValueInfoProto};
use crate::model::{Schema, declared_features};
use crate::{FeatureKind, Format, ModelError, OutputKind};

/// The largest ONNX file edgescore loads (models here are trees, linear
/// models and small networks; a larger file is almost surely not one).
pub(crate) const MAX_BYTES: usize = 256 << 20;
/// The most features an ONNX model's inputs may take together: 2^20
/// (1,048,576). One `[N, F]` input is at most `MAX_WIDTH` (65,536) wide,
/// but a graph may have thousands of inputs, and each of a multi-input
/// model's features gets a generated name: 4,095 inputs of 65,536 columns
/// (a 110 KB file) asked for 268 million names, 10 GiB. A fraud model has
/// tens to thousands of features; a million is far past any of them.
pub(crate) const MAX_INPUT_FEATURES: usize = 1 << 20;
/// The most bytes the generated feature names (`<input>_<j>`) may take
/// together: 64 MiB, 64 bytes a name at [`MAX_INPUT_FEATURES`]. An input's
/// name is repeated in each of its columns' names, so a long name on a wide
/// input would otherwise multiply.
const MAX_NAME_BYTES: usize = 64 << 20;
/// The values (float64, 8 bytes each) nodes may make beyond those of the
/// file's constants: 2^25, 256 MiB. A node makes its constant row, weights
/// or column list from a constant of the graph, which any number of nodes
/// may read, or from nothing (`ReduceSum`'s ones, a scalar Gemm bias spread
/// over its outputs): without a bound an 86 KB file of 2,000 `ReduceSum`
/// nodes over a 65,536-wide input made 1 GiB. A model reads each constant
/// once or a few times; the largest it may make is the file's constants
/// once over plus this.
const EXTRA_VALUES: usize = 1 << 25;
/// The standard operator set versions supported (`ai.onnx`).
const ONNX_OPSETS: std::ops::RangeInclusive<i64> = 1..=23;
/// The ONNX-ML operator set versions supported (`ai.onnx.ml`).
const ML_OPSETS: std::ops::RangeInclusive<i64> = 1..=5;

pub(crate) fn unsupported(what: impl Into<String>) -> ModelError {
    ModelError::unsupported(Format::Onnx, what)
}

pub(crate) fn invalid(reason: impl Into<String>) -> ModelError {
    ModelError::invalid(Format::Onnx, reason)
}

/// A constant of the graph: an initializer or a `Constant` node's value.
#[derive(Debug, Clone)]
pub(crate) struct Constant {
    pub(crate) dims: Vec<i64>,
    pub(crate) values: Vec<f64>,
}

/// The graph as it is being translated.
pub(crate) struct Builder {
    pub(crate) slots: Vec<Slot>,
    pub(crate) program: Vec<Instr>,
    pub(crate) values: HashMap<String, SlotId>,
    pub(crate) constants: HashMap<String, Constant>,
    /// For each slot a classifier wrote, its class labels (int or string, as text).
    pub(crate) labels: HashMap<SlotId, Vec<String>>,
    /// Slots holding probabilities (a classifier's, a sigmoid's, a softmax's).
    pub(crate) probabilities: HashSet<SlotId>,
    /// For a slot holding each row's sum of another slot's absolute
    /// values (`ReduceSum(Abs(v))`), that slot: dividing it by the sum makes
    /// each row sum to 1 (scikit-learn's float64 logistic regression).
    pub(crate) abs_row_sum_of: std::collections::HashMap<SlotId, SlotId>,
    /// For a slot holding `Abs(v)`, `v`.
    pub(crate) abs_of: std::collections::HashMap<SlotId, SlotId>,
    /// The tree nodes the program's ensembles have made, against their bound.
    pub(crate) tree_nodes: super::ensemble::NodeBudget,
    /// Values nodes have made from constants or from nothing, and how many
    /// they may: the file's constants' values plus [`EXTRA_VALUES`].
    made_values: usize,
    allowed_values: usize,
    /// The columns of all slots so far, against `MAX_TOTAL_WIDTH`.
    columns: usize,
}

impl Builder {
    pub(crate) fn slot(&mut self, width: usize, elem: Elem) -> Result<SlotId, ModelError> {
        check_width(width)?;
        self.columns += width;
        if self.columns > super::MAX_TOTAL_WIDTH {
            return Err(unsupported(format!(
                "the program's values would take {} columns per row in all (at most {} are supported)",
                self.columns,
                super::MAX_TOTAL_WIDTH
            )));
        }
        self.slots.push(Slot {
            width: width as u32,
            elem,
        });
        Ok(self.slots.len() as u32 - 1)
    }

    /// Counts `n` values (weights, a constant row, column indices) that
    /// `node` is about to make, before it allocates them; refuses the model
    /// once the program's values pass what it is allowed.
    pub(crate) fn make_values(&mut self, node: &NodeProto, n: usize) -> Result<(), ModelError> {
        self.made_values = self.made_values.saturating_add(n);
        if self.made_values > self.allowed_values {
            return Err(unsupported(format!(
                "{}: the program's nodes would make more than {} constant values (weights, \
                 constant rows, column lists, ReduceSum's ones; at most the {} values of the \
                 file's constants plus 2^25, 256 MiB of float64, are supported)",
                describe(node),
                self.allowed_values,
                self.allowed_values - EXTRA_VALUES
            )));
        }
        Ok(())
    }

    /// The slot of a node input, or an error naming the node.
    pub(crate) fn input(&self, node: &NodeProto, i: usize) -> Result<SlotId, ModelError> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid(format!("{} has no input {i}", describe(node))))?;
        self.values.get(name).copied().ok_or_else(|| {
            if self.constants.contains_key(name) {
                unsupported(format!(
                    "{} takes the constant '{name}' as its data input; only the row's values can be",
                    describe(node)
                ))
            } else {
                invalid(format!("{} reads '{name}', which nothing computes", describe(node)))
            }
        })
    }

    /// The constant named by a node input, if it is one.
    pub(crate) fn constant(&self, node: &NodeProto, i: usize) -> Option<&Constant> {
        node.input.get(i).and_then(|n| self.constants.get(n))
    }

    pub(crate) fn width(&self, slot: SlotId) -> usize {
        self.slots[slot as usize].width as usize
    }

    pub(crate) fn elem(&self, slot: SlotId) -> Elem {
        self.slots[slot as usize].elem
    }

    /// Names output `i` of `node` as `slot`.
    pub(crate) fn define(&mut self, node: &NodeProto, i: usize, slot: SlotId) {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            self.values.insert(name.clone(), slot);
        }
    }
}

/// Refuses a value of no columns or of more than `MAX_WIDTH`.
fn check_width(width: usize) -> Result<(), ModelError> {
    if width == 0 || width > super::MAX_WIDTH as usize {
        return Err(unsupported(format!(
            "a value of {width} columns per row (at most {} are supported)",
            super::MAX_WIDTH
        )));
    }
    Ok(())
}

/// "Scaler node 'scaler1'", for messages.
pub(crate) fn describe(node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!(
            "the {} node writing '{}'",
            node.op_type,
            node.output.first().map_or("", |s| s)
        )
    } else {
        format!("{} node '{}'", node.op_type, node.name)
    }
}

pub(crate) fn import(bytes: &[u8]) -> Result<OnnxModel, ModelError> {
    if bytes.len() > MAX_BYTES {
        return Err(unsupported(format!(
            "the file is {} MiB; ONNX models over {} MiB are refused",
            bytes.len() >> 20,
            MAX_BYTES >> 20
        )));
    }
    let model = ModelProto::decode(bytes)
        .map_err(|e| invalid(format!("the file is not an ONNX protobuf ({e})")))?;
    check_opsets(&model)?;
    if !model.functions.is_empty() {
        return Err(unsupported(
            "the model defines its own functions; export it without model-local functions",
        ));
    }
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| invalid("the model has no graph"))?;
    let constants = constants(graph)?;
    let constant_values = constants.values().map(|c| c.values.len()).sum::<usize>();
    let mut b = Builder {
        slots: Vec::new(),
        program: Vec::new(),
        values: HashMap::new(),
        constants,
        labels: HashMap::new(),
        probabilities: HashSet::new(),
        abs_row_sum_of: HashMap::new(),
        abs_of: HashMap::new(),
        tree_nodes: Default::default(),
        made_values: 0,
        allowed_values: constant_values.saturating_add(EXTRA_VALUES),
        columns: 0,
    };
    check_single_definitions(graph)?;
    let schema = bind_inputs(graph, &mut b)?;
    let producers: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let (score_value, zipmap_labels) = choose_output(graph, &producers)?;
    for i in needed_nodes(graph, &producers, &score_value, &b)? {
        let node = &graph.node[i];
        if node.op_type == "Constant" {
            continue;
        }
        nodes::translate(node, &mut b)?;
    }
    let slot = *b.values.get(&score_value).ok_or_else(|| {
        invalid(format!(
            "the output '{score_value}' is not computed by the graph"
        ))
    })?;
    let labels = zipmap_labels.or_else(|| b.labels.get(&slot).cloned());
    let (column, output) = score_column(&b, slot, &score_value, labels.as_deref())?;
    let inputs = graph
        .input
        .iter()
        .filter(|i| !b.constants.contains_key(&i.name))
        .map(|i| b.values[&i.name])
        .collect();
    OnnxModel::new(schema, inputs, b.slots, b.program, slot, column, output)
}

/// Every value is defined once: by a graph input, an initializer or one
/// node output (onnxruntime refuses a graph that defines one twice).
fn check_single_definitions(graph: &GraphProto) -> Result<(), ModelError> {
    let mut defined: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    defined.extend(graph.input.iter().map(|i| i.name.as_str()));
    for node in &graph.node {
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if !defined.insert(output.as_str()) {
                return Err(invalid(format!(
                    "{} writes '{output}', which is already defined (a value may be defined once)",
                    describe(node)
                )));
            }
        }
    }
    Ok(())
}

fn check_opsets(model: &ModelProto) -> Result<(), ModelError> {
    for set in &model.opset_import {
        let (range, name) = match set.domain.as_str() {
            "" | "ai.onnx" => (&ONNX_OPSETS, "ai.onnx"),
            "ai.onnx.ml" => (&ML_OPSETS, "ai.onnx.ml"),
            // Other domains are refused node by node, if a needed node uses one.
            _ => continue,
        };
        if !range.contains(&set.version) {
            return Err(unsupported(format!(
                "operator set {name} version {} (edgescore reads versions {}-{}); convert with a target_opset in that range",
                set.version,
                range.start(),
                range.end()
            )));
        }
    }
    Ok(())
}

fn constants(graph: &GraphProto) -> Result<HashMap<String, Constant>, ModelError> {
    let mut out = HashMap::new();
    let mut add = |name: &str, t: &super::proto::TensorProto| -> Result<(), ModelError> {
        // Strings and other non-numbers stay out; a node that needs one says so.
        if let Ok(values) = attributes::tensor_reals(t) {
            out.insert(
                name.to_owned(),
                Constant {
                    dims: t.dims.clone(),
                    values,
                },
            );
        } else if t.data_location == 1 {
            return Err(unsupported(format!(
                "the initializer '{name}' keeps its data in an external file; save the model with its data inside"
            )));
        }
        Ok(())
    };
    for t in &graph.initializer {
        add(&t.name, t)?;
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        let value = node.attribute.iter().find(|a| a.name == "value");
        if let (Some(t), Some(name)) = (value.and_then(|a| a.t.as_ref()), node.output.first()) {
            add(name, t)?;
        }
    }
    Ok(out)
}

/// Binds each graph input to consecutive features of a row; returns the schema.
fn bind_inputs(graph: &GraphProto, b: &mut Builder) -> Result<Schema, ModelError> {
    let inputs: Vec<&ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !b.constants.contains_key(&i.name))
        .collect();
    if inputs.is_empty() {
        return Err(invalid("the graph has no inputs"));
    }
    let mut shapes = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let (elem, width) = input_shape(input)?;
        check_width(width)?;
        shapes.push((elem, width));
    }
    let widths: Vec<usize> = shapes.iter().map(|&(_, w)| w).collect();
    // The widths are declared, not present: their sum is checked before a
    // name, a kind or a slot is made per feature (each width is at most
    // MAX_WIDTH, so the u64 sum cannot overflow).
    let total = declared_features(Format::Onnx, widths.iter().map(|&w| w as u64).sum())?;
    if total > MAX_INPUT_FEATURES {
        return Err(unsupported(format!(
            "{} inputs of {total} features in all (an ONNX model's inputs may take at most {MAX_INPUT_FEATURES})",
            inputs.len()
        )));
    }
    for (input, &(elem, width)) in inputs.iter().zip(&shapes) {
        let slot = b.slot(width, elem)?;
        b.values.insert(input.name.clone(), slot);
    }
    // One [N, F] input names no features: columns go by position.
    let named = inputs.len() > 1 || total == 1;
    if named {
        // At most `name_` and 7 digits (`total` is at most 2^20) per column.
        let bytes: usize = inputs
            .iter()
            .zip(&widths)
            .map(|(input, &w)| w.saturating_mul(input.name.len() + 8))
            .fold(0, usize::saturating_add);
        if bytes > MAX_NAME_BYTES {
            return Err(unsupported(format!(
                "the inputs' feature names (one per column, `<input>_<column>`) would take {} MiB; at most {} MiB are supported (give the inputs shorter names)",
                bytes >> 20,
                MAX_NAME_BYTES >> 20
            )));
        }
    }
    let names = named.then(|| {
        let mut names = Vec::with_capacity(total);
        for (input, &width) in inputs.iter().zip(&widths) {
            if width == 1 {
                names.push(input.name.clone());
            } else {
                names.extend((0..width).map(|j| format!("{}_{j}", input.name)));
            }
        }
        names
    });
    Ok(Schema {
        names,
        kinds: vec![FeatureKind::Numeric; total],
    })
}

/// The element type and the per-row width of a graph input.
fn input_shape(input: &ValueInfoProto) -> Result<(Elem, usize), ModelError> {
    let name = &input.name;
    let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => t,
        Some(Value::SequenceType(_)) | Some(Value::MapType(_)) => {
            return Err(unsupported(format!(
                "input '{name}' is a sequence or map; edgescore feeds numeric tensors (convert with a FloatTensorType input)"
            )));
        }
        _ => {
            return Err(unsupported(format!("input '{name}' is not a dense tensor")));
        }
    };
    let elem = match tensor.elem_type {
        attributes::FLOAT => Elem::F32,
        attributes::DOUBLE => Elem::F64,
        other => {
            return Err(unsupported(format!(
                "input '{name}' is a tensor of {}; edgescore feeds float or double features (convert string and integer columns to numbers before export, with FloatTensorType inputs)",
                attributes::type_name(other)
            )));
        }
    };
    let dims: Vec<Option<i64>> = tensor
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(super::proto::DimensionValue::DimValue(v)) => Some(v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let width = match dims.as_slice() {
        [_] => 1,
        // Past usize (a 32-bit target) is past MAX_WIDTH too: `slot` refuses it.
        [_, Some(w)] if *w > 0 => usize::try_from(*w).unwrap_or(usize::MAX),
        _ => {
            return Err(unsupported(format!(
                "input '{name}' has the shape {}; edgescore binds [N, F] with F fixed (or [N]); export with a fixed feature count",
                shape_text(&dims)
            )));
        }
    };
    Ok((elem, width))
}

fn shape_text(dims: &[Option<i64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_owned(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The graph output that is the score: a ZipMap's probabilities (with the
/// ZipMap's labels), else the one numeric output that is not a label.
fn choose_output(
    graph: &GraphProto,
    producers: &HashMap<&str, usize>,
) -> Result<(String, Option<Vec<String>>), ModelError> {
    let mut candidates = Vec::new();
    for output in &graph.output {
        if let Some(&p) = producers.get(output.name.as_str()) {
            let node = &graph.node[p];
            if node.op_type == "ZipMap" {
                let attrs = Attributes::of(node);
                let labels = zipmap_labels(&attrs).map_err(invalid)?;
                let input = node.input.first().cloned().unwrap_or_default();
                return Ok((input, Some(labels)));
            }
        }
        if is_numeric_tensor(output.r#type.as_ref()) {
            candidates.push(output.name.clone());
        }
    }
    // A classifier's label output is an integer or string tensor; what is
    // left is its probabilities, a regressor's value or a network's output.
    match candidates.as_slice() {
        [one] => Ok((one.clone(), None)),
        [] => Err(unsupported(
            "the graph has no float output to score with (its outputs are labels, strings or maps)",
        )),
        many => Err(unsupported(format!(
            "the graph has {} float outputs ({}); edgescore scores models with one (a classifier converted with skl2onnx's zipmap='columns' option has one per class: convert it with the default options or zipmap=False)",
            many.len(),
            many.join(", ")
        ))),
    }
}

fn zipmap_labels(attrs: &Attributes<'_>) -> Result<Vec<String>, String> {
    let ints = attrs.ints("classlabels_int64s");
    if !ints.is_empty() {
        return Ok(ints.iter().map(i64::to_string).collect());
    }
    attrs.strings("classlabels_strings")
}

fn is_numeric_tensor(t: Option<&TypeProto>) -> bool {
    matches!(
        t.and_then(|t| t.value.as_ref()),
        Some(Value::TensorType(t)) if t.elem_type == attributes::FLOAT || t.elem_type == attributes::DOUBLE
    )
}

/// The nodes the value `target` depends on, each after the nodes it reads
/// (onnxruntime accepts a graph listed out of order; a cycle is refused).
/// Iterative, so a hostile file's deep chain cannot overflow the stack.
fn needed_nodes(
    graph: &GraphProto,
    producers: &HashMap<&str, usize>,
    target: &str,
    b: &Builder,
) -> Result<Vec<usize>, ModelError> {
    // `false` while a node's inputs are being visited, `true` once it is placed.
    let mut placed: HashMap<usize, bool> = HashMap::new();
    let mut order = Vec::new();
    let Some(&root) = producers.get(target) else {
        return Ok(order);
    };
    placed.insert(root, false);
    // Each entry: a node and the index of the next input to visit.
    let mut stack = vec![(root, 0usize)];
    while let Some((p, next)) = stack.last_mut() {
        let node = &graph.node[*p];
        let Some(input) = node.input.get(*next) else {
            placed.insert(*p, true);
            order.push(*p);
            stack.pop();
            continue;
        };
        *next += 1;
        if input.is_empty() || b.values.contains_key(input) {
            continue;
        }
        let Some(&q) = producers.get(input.as_str()) else {
            continue;
        };
        match placed.get(&q) {
            Some(true) => {}
            Some(false) => {
                return Err(invalid(format!(
                    "{} reads '{input}', which depends on the node's own output: the graph has a cycle",
                    describe(node)
                )));
            }
            None => {
                placed.insert(q, false);
                stack.push((q, 0));
            }
        }
    }
    Ok(order)
}

/// Which column of the output slot is the score, and what it means.
fn score_column(
    b: &Builder,
    slot: SlotId,
    name: &str,
    labels: Option<&[String]>,
) -> Result<(u32, OutputKind), ModelError> {
    let width = b.width(slot);
    let probability = b.probabilities.contains(&slot) || labels.is_some();
    let kind = if probability {
        OutputKind::Probability
    } else {
        OutputKind::Regression
    };
    match (width, labels) {
        (1, _) => Ok((0, kind)),
        (2, Some(labels)) if labels.len() == 2 => {
            // The positive class: label 1 among integer labels, else the
            // second label (scikit-learn's classes_ are sorted).
            let column = labels.iter().position(|l| l == "1").unwrap_or(1);
            Ok((column as u32, OutputKind::Probability))
        }
        (2, None) if probability => Ok((1, OutputKind::Probability)),
        (w, Some(labels)) if labels.len() > 2 || w > 2 => Err(unsupported(format!(
            "'{name}' holds {w} class probabilities ({}); edgescore scores binary classifiers and regressors, one number per row",
            labels.join(", ")
        ))),
        (w, _) => Err(unsupported(format!(
            "the output '{name}' has {w} columns per row; edgescore scores one number per row (a regression value, or a binary classifier's two probabilities)"
        ))),
    }
}
