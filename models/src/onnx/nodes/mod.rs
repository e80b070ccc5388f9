//! One ONNX node into program instructions, or a refusal that names the
//! operator and the node.

mod ml;

use ml::{binarizer, imputer, linear, normalizer, one_hot, scaler};
pub(crate) use ml::{class_labels, post_transform};

use super::attributes::Attributes;
use super::ensemble;
use super::import::{Builder, Constant, describe, invalid, unsupported};
use super::program::{Binary, Elem, Instr, SlotId, Unary};
use super::proto::NodeProto;
use crate::ModelError;

const ML: &str = "ai.onnx.ml";

pub(crate) fn translate(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    Attributes::of(node)
        .check_no_references()
        .map_err(|e| unsupported(format!("{}: {e}", describe(node))))?;
    let ml = node.domain == ML;
    if !(ml || node.domain.is_empty() || node.domain == "ai.onnx") {
        return Err(unsupported(format!(
            "{} is from the operator domain '{}', which edgescore does not implement",
            describe(node),
            node.domain
        )));
    }
    match (ml, node.op_type.as_str()) {
        (false, "Identity" | "Dropout") => alias(node, b),
        (false, "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze") => reshape(node, b),
        (false, "Cast") => cast(node, b),
        (false, "Concat") | (true, "FeatureVectorizer") => concat(node, b),
        (false, "MatMul" | "Gemm") => dense(node, b),
        (false, "Add" | "Sub" | "Mul" | "Div") => binary(node, b),
        (false, "Relu" | "Sigmoid" | "Tanh" | "Abs" | "Neg" | "Exp" | "Sqrt") => unary(node, b),
        (false, "Softmax") => softmax(node, b),
        (false, "LeakyRelu") => leaky_relu(node, b),
        (false, "BatchNormalization") => batch_norm(node, b),
        (false, "ReduceSum") => reduce_sum(node, b),
        (false, "Gather") | (true, "ArrayFeatureExtractor") => columns(node, b),
        (true, "Scaler") => scaler(node, b),
        (true, "Normalizer") => normalizer(node, b),
        (true, "Imputer") => imputer(node, b),
        (true, "Binarizer") => binarizer(node, b),
        (true, "OneHotEncoder") => one_hot(node, b),
        (true, "LinearClassifier" | "LinearRegressor") => linear(node, b),
        (true, "TreeEnsembleClassifier" | "TreeEnsembleRegressor" | "TreeEnsemble") => {
            ensemble::translate(node, b)
        }
        _ => Err(unsupported(format!(
            "the operator {}{} ({}) is not supported; edgescore runs tree ensembles, linear models, scikit-learn's preprocessing and small dense networks",
            if ml { "ai.onnx.ml." } else { "" },
            node.op_type,
            describe(node)
        ))),
    }
}

/// Why input `what` (which must be a constant) is not one: it is computed
/// by the graph, or it is defined nowhere.
fn not_constant(node: &NodeProto, b: &Builder, what: &str) -> ModelError {
    let names: Vec<&String> = node.input.iter().skip(1).collect();
    match names
        .iter()
        .find(|n| !b.values.contains_key(n.as_str()) && !b.constants.contains_key(n.as_str()))
    {
        Some(missing) => invalid(format!(
            "{} reads '{missing}', which nothing defines",
            describe(node)
        )),
        None => err(
            node,
            format!("{what} must be a constant (an initializer), not a value the graph computes"),
        ),
    }
}

pub(super) fn err(node: &NodeProto, what: impl std::fmt::Display) -> ModelError {
    unsupported(format!("{}: {what}", describe(node)))
}

fn alias(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    b.define(node, 0, x);
    Ok(())
}

/// Reshapes that keep one row per row and its values in order are aliases.
fn reshape(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let width = b.width(x) as f64;
    let attrs = Attributes::of(node);
    match node.op_type.as_str() {
        "Flatten" if !matches!(attrs.int("axis", 1), 1 | -1) => {
            return Err(err(
                node,
                "only flattening from axis 1 (each row into one row) is supported",
            ));
        }
        "Squeeze" | "Unsqueeze" => {
            // Axes: an attribute before opset 13, an input from then on.
            let axes: Vec<f64> = match b.constant(node, 1) {
                Some(c) => c.values.clone(),
                None => attrs.ints("axes").iter().map(|&a| a as f64).collect(),
            };
            if axes.is_empty() || axes.contains(&0.0) {
                return Err(err(
                    node,
                    "only squeezing or unsqueezing axes after the first (the rows) is supported; give axes that exclude 0",
                ));
            }
        }
        _ => {}
    }
    if node.op_type == "Reshape" {
        let shape = b.constant(node, 1).ok_or_else(|| {
            not_constant(
                node,
                b,
                "the target shape (a shape computed from the input, as `x.view(x.size(0), -1)` exports, is not supported; export with `x.flatten(1)` or `nn.Flatten()`)",
            )
        })?;
        let keeps_rows = match shape.values.as_slice() {
            [rows, w] => (*rows == -1.0 || *rows == 0.0) && *w == width,
            [-1.0] => width == 1.0,
            _ => false,
        };
        if !keeps_rows {
            return Err(err(
                node,
                format!(
                    "reshaping [N, {width}] to [{}] mixes rows; only shapes that keep each row are supported",
                    shape
                        .values
                        .iter()
                        .map(|v| format!("{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    alias(node, b)
}

fn cast(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let to = match Attributes::of(node).int("to", 0) {
        1 => Elem::F32,
        11 => Elem::F64,
        6 | 7 => Elem::I64,
        other => {
            return Err(err(
                node,
                format!(
                    "a cast to {} is not supported",
                    super::attributes::type_name(other as i32)
                ),
            ));
        }
    };
    if to == b.elem(x) {
        b.define(node, 0, x);
        return Ok(());
    }
    let y = b.slot(b.width(x), to)?;
    b.program.push(Instr::Cast { x, y });
    carry_meaning(b, x, y);
    b.define(node, 0, y);
    Ok(())
}

/// A cast or copy of probabilities is still probabilities.
pub(super) fn carry_meaning(b: &mut Builder, from: SlotId, to: SlotId) {
    if b.probabilities.contains(&from) {
        b.probabilities.insert(to);
    }
    if let Some(labels) = b.labels.get(&from).cloned() {
        b.labels.insert(to, labels);
    }
}

fn concat(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let attrs = Attributes::of(node);
    if node.op_type == "Concat" && !matches!(attrs.int("axis", 1), 1 | -1) {
        return Err(err(
            node,
            "only concatenation along axis 1 (columns) is supported",
        ));
    }
    let mut xs = Vec::new();
    let mut elem = None;
    for i in 0..node.input.len() {
        if b.constant(node, i).is_some() {
            return Err(err(node, "concatenating a constant is not supported"));
        }
        let x = b.input(node, i)?;
        if *elem.get_or_insert(b.elem(x)) != b.elem(x) {
            return Err(err(node, "its inputs have different element types"));
        }
        xs.push(x);
    }
    let width = xs.iter().map(|&x| b.width(x)).sum();
    let y = b.slot(width, elem.unwrap_or(Elem::F32))?;
    if xs.len() == 2 && xs.iter().all(|x| b.probabilities.contains(x)) {
        b.probabilities.insert(y);
    }
    b.program.push(Instr::Concat { xs, y });
    b.define(node, 0, y);
    Ok(())
}

/// A constant as one value or one per column of a `width`-wide value.
fn row_constant(node: &NodeProto, c: &Constant, width: usize) -> Result<Vec<f64>, ModelError> {
    let n = c.values.len();
    let leading_ones = c.dims.iter().rev().skip(1).all(|&d| d == 1);
    if n == 1 || (n == width && leading_ones) {
        Ok(c.values.clone())
    } else {
        Err(err(
            node,
            format!(
                "a constant of shape {:?} does not broadcast over rows of {width} values",
                c.dims
            ),
        ))
    }
}

fn binary(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let op = match node.op_type.as_str() {
        "Add" => Binary::Add,
        "Sub" => Binary::Sub,
        "Mul" => Binary::Mul,
        _ => Binary::Div,
    };
    let (first, second) = (b.constant(node, 0).cloned(), b.constant(node, 1).cloned());
    let y_elem;
    let instr = match (first, second) {
        (None, Some(c)) => {
            let a = b.input(node, 0)?;
            y_elem = b.elem(a);
            b.make_values(node, c.values.len())?;
            let constant = row_constant(node, &c, b.width(a))?;
            (a, None, constant, false)
        }
        // `1 - p`, as scikit-learn writes the negative class.
        (Some(c), None) => {
            let a = b.input(node, 1)?;
            y_elem = b.elem(a);
            b.make_values(node, c.values.len())?;
            let constant = row_constant(node, &c, b.width(a))?;
            (a, None, constant, true)
        }
        (None, None) => {
            let (a, c) = (b.input(node, 0)?, b.input(node, 1)?);
            if b.width(c) != 1 && b.width(c) != b.width(a) {
                return Err(err(node, "its inputs have widths that do not broadcast"));
            }
            y_elem = b.elem(a);
            (a, Some(c), Vec::new(), false)
        }
        (Some(_), Some(_)) => return Err(err(node, "both inputs are constants")),
    };
    let (a, second, constant, swapped) = instr;
    let y = b.slot(b.width(a), y_elem)?;
    let op = if swapped {
        match op {
            Binary::Sub => {
                // c - a as (-a) + c.
                let neg = b.slot(b.width(a), y_elem)?;
                b.program.push(Instr::Unary {
                    x: a,
                    y: neg,
                    op: Unary::Neg,
                });
                b.program.push(Instr::Binary {
                    a: neg,
                    b: None,
                    constant,
                    y,
                    op: Binary::Add,
                });
                if constant_is_one(b, node) && b.probabilities.contains(&a) {
                    b.probabilities.insert(y);
                }
                b.define(node, 0, y);
                return Ok(());
            }
            Binary::Add | Binary::Mul => op,
            Binary::Div => {
                return Err(err(node, "dividing a constant by a value is not supported"));
            }
        }
    } else {
        op
    };
    b.program.push(Instr::Binary {
        a,
        b: second,
        constant,
        y,
        op,
    });
    // v / sum|v| over a row of non-negative values: each row sums to 1.
    if op == Binary::Div
        && second.is_some()
        && b.abs_row_sum_of.get(&second.unwrap_or_default()) == Some(&a)
    {
        b.probabilities.insert(y);
    }
    b.define(node, 0, y);
    Ok(())
}

fn constant_is_one(b: &Builder, node: &NodeProto) -> bool {
    b.constant(node, 0).is_some_and(|c| c.values == [1.0])
}

fn unary(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let op = match node.op_type.as_str() {
        "Relu" => Unary::Relu,
        "Sigmoid" => Unary::Sigmoid,
        "Tanh" => Unary::Tanh,
        "Abs" => Unary::Abs,
        "Neg" => Unary::Neg,
        "Exp" => Unary::Exp,
        _ => Unary::Sqrt,
    };
    let y = b.slot(b.width(x), b.elem(x))?;
    b.program.push(Instr::Unary { x, y, op });
    // One sigmoid column is a probability; several are independent ones (a
    // multi-label head), which is not one binary classifier's pair.
    if op == Unary::Sigmoid && b.width(x) == 1 {
        b.probabilities.insert(y);
    }
    if op == Unary::Abs {
        b.abs_of.insert(y, x);
    }
    b.define(node, 0, y);
    Ok(())
}

fn softmax(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    if !matches!(Attributes::of(node).int("axis", -1), 1 | -1) {
        return Err(err(
            node,
            "only a softmax over each row (axis 1) is supported",
        ));
    }
    let x = b.input(node, 0)?;
    let y = b.slot(b.width(x), b.elem(x))?;
    b.program.push(Instr::Softmax { x, y });
    b.probabilities.insert(y);
    b.define(node, 0, y);
    Ok(())
}

fn leaky_relu(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let alpha = f64::from(Attributes::of(node).float("alpha", 0.01));
    let y = b.slot(b.width(x), b.elem(x))?;
    b.program.push(Instr::LeakyRelu { x, y, alpha });
    b.define(node, 0, y);
    Ok(())
}

/// `BatchNormalization` in inference mode, as onnxruntime computes it: per
/// column `s = scale / sqrt(var + epsilon)` and `t = B - mean * s`, each
/// step rounded to the input's type, then `y = x * s + t` (two
/// instructions, each rounded).
fn batch_norm(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    if attrs.int("training_mode", 0) != 0 {
        return Err(err(
            node,
            "training_mode = 1 computes batch statistics; export the model in eval mode (`model.eval()`)",
        ));
    }
    if attrs.int("spatial", 1) != 1 {
        return Err(err(node, "spatial = 0 is not supported"));
    }
    if node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(err(
            node,
            "it writes running statistics, which only training computes",
        ));
    }
    let width = b.width(x);
    let elem = b.elem(x);
    // The scale and the shift it keeps, one per column each.
    b.make_values(node, 2 * width)?;
    let mut params = Vec::with_capacity(4);
    for (i, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        let c = b
            .constant(node, i)
            .ok_or_else(|| not_constant(node, b, what))?;
        if c.values.len() != width {
            return Err(err(
                node,
                format!("'{what}' has {} values for {width} columns", c.values.len()),
            ));
        }
        params.push(c.values.clone());
    }
    let epsilon = elem.round(f64::from(attrs.float("epsilon", 1e-5)));
    let (scale, bias, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
    // Each step in f64 then rounded: for one +, *, / or sqrt that is the
    // correctly rounded float32 result, as onnxruntime's float kernel gets.
    let r = |v: f64| elem.round(v);
    let s: Vec<f64> = (0..width)
        .map(|c| r(r(1.0 / r(r(var[c] + epsilon).sqrt())) * scale[c]))
        .collect();
    let t: Vec<f64> = (0..width).map(|c| r(bias[c] - r(mean[c] * s[c]))).collect();
    let scaled = b.slot(width, elem)?;
    b.program.push(Instr::Binary {
        a: x,
        b: None,
        constant: s,
        y: scaled,
        op: Binary::Mul,
    });
    let y = b.slot(width, elem)?;
    b.program.push(Instr::Binary {
        a: scaled,
        b: None,
        constant: t,
        y,
        op: Binary::Add,
    });
    b.define(node, 0, y);
    Ok(())
}

/// `ReduceSum` over each row's columns, as a dense layer of ones.
fn reduce_sum(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let attrs = Attributes::of(node);
    let axes: Vec<f64> = match b.constant(node, 1) {
        Some(c) => c.values.clone(),
        None => attrs.ints("axes").iter().map(|&a| a as f64).collect(),
    };
    if !(axes == [1.0] || axes == [-1.0]) || attrs.int("keepdims", 1) != 1 {
        return Err(err(
            node,
            "only a sum over each row's columns, keeping dims, is supported",
        ));
    }
    let x = b.input(node, 0)?;
    let y = b.slot(1, b.elem(x))?;
    b.make_values(node, b.width(x))?;
    let weights = vec![1.0; b.width(x)];
    b.program.push(Instr::Dense {
        x,
        y,
        weights,
        bias: Vec::new(),
    });
    if let Some(&source) = b.abs_of.get(&x) {
        b.abs_row_sum_of.insert(y, source);
    }
    b.define(node, 0, y);
    Ok(())
}

/// `MatMul` by a constant, or `Gemm` (`alpha * A * op(B) + beta * C`).
fn dense(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    let w = b
        .constant(node, 1)
        .cloned()
        .ok_or_else(|| not_constant(node, b, "the weights"))?;
    let inputs = b.width(x);
    let [rows, cols] = w.dims[..] else {
        return Err(err(
            node,
            format!("weights of shape {:?}; a matrix was expected", w.dims),
        ));
    };
    let (trans_b, alpha, beta) = if node.op_type == "Gemm" {
        if attrs.int("transA", 0) != 0 {
            return Err(err(node, "transA = 1 is not supported"));
        }
        (
            attrs.int("transB", 0) != 0,
            f64::from(attrs.float("alpha", 1.0)),
            f64::from(attrs.float("beta", 1.0)),
        )
    } else {
        (false, 1.0, 1.0)
    };
    let (k, outputs) = if trans_b { (cols, rows) } else { (rows, cols) };
    if k as usize != inputs {
        return Err(err(
            node,
            format!("weights for {k} inputs applied to {inputs} values"),
        ));
    }
    // The matrix is sized by its dims only once they describe the values
    // present (as a constant's dims do: see `tensor_reals`).
    let outputs = usize::try_from(outputs)
        .ok()
        .filter(|&o| inputs.checked_mul(o) == Some(w.values.len()))
        .ok_or_else(|| {
            invalid(format!(
                "{}: weights of shape {:?} hold {} values",
                describe(node),
                w.dims,
                w.values.len()
            ))
        })?;
    // The weights, and a bias per output.
    b.make_values(node, w.values.len() + outputs)?;
    // Stored as [inputs, outputs].
    let mut weights = vec![0.0; inputs * outputs];
    for i in 0..inputs {
        for o in 0..outputs {
            let v = if trans_b {
                w.values[o * inputs + i]
            } else {
                w.values[i * outputs + o]
            };
            weights[i * outputs + o] = alpha * v;
        }
    }
    let bias = match b.constant(node, 2) {
        Some(c) if node.op_type == "Gemm" => {
            let c = row_constant(node, c, outputs)?;
            let c = if c.len() == 1 { vec![c[0]; outputs] } else { c };
            c.into_iter().map(|v| beta * v).collect()
        }
        None if node.input.get(2).is_none_or(String::is_empty) => Vec::new(),
        _ => return Err(not_constant(node, b, "the bias")),
    };
    let y = b.slot(outputs, b.elem(x))?;
    b.program.push(Instr::Dense {
        x,
        y,
        weights,
        bias,
    });
    b.define(node, 0, y);
    Ok(())
}

/// Picks constant columns (`ArrayFeatureExtractor`, `Gather` on axis 1).
fn columns(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    if node.op_type == "Gather" && !matches!(Attributes::of(node).int("axis", 0), 1 | -1) {
        return Err(err(node, "only gathering columns (axis 1) is supported"));
    }
    let n = b
        .constant(node, 1)
        .map(|c| c.values.len())
        .ok_or_else(|| not_constant(node, b, "the indices"))?;
    b.make_values(node, n)?;
    let indices = b
        .constant(node, 1)
        .expect("the indices are a constant (checked above)");
    let width = b.width(x) as f64;
    let columns = indices
        .values
        .iter()
        .map(|&i| {
            let i = if i < 0.0 { i + width } else { i };
            if i >= 0.0 && i < width {
                Ok(i as u32)
            } else {
                Err(err(
                    node,
                    format!("the column index {i} is outside 0..{width}"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let y = b.slot(columns.len(), b.elem(x))?;
    b.program.push(Instr::Columns { x, y, columns });
    b.define(node, 0, y);
    Ok(())
}
