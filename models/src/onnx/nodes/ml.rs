//! The ONNX-ML operators: scikit-learn's preprocessing and linear models.

use super::{carry_meaning, err};
use crate::ModelError;
use crate::onnx::attributes::Attributes;
use crate::onnx::import::{Builder, describe, invalid};
use crate::onnx::program::{Elem, Instr, Norm, PostTransform};
use crate::onnx::proto::NodeProto;

pub(super) fn scaler(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    let width = b.width(x);
    let per_column = |name: &str| -> Result<Vec<f64>, ModelError> {
        let v: Vec<f64> = attrs.floats(name).iter().map(|&f| f64::from(f)).collect();
        match v.len() {
            1 => Ok(v),
            n if n == width => Ok(v),
            n => Err(err(
                node,
                format!("{n} values of '{name}' for {width} columns"),
            )),
        }
    };
    let (offset, scale) = (per_column("offset")?, per_column("scale")?);
    // Scaler's output is float whatever its input.
    let y = b.slot(width, Elem::F32)?;
    b.program.push(Instr::Scaler {
        x,
        y,
        offset,
        scale,
    });
    b.define(node, 0, y);
    Ok(())
}

pub(super) fn normalizer(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let norm = match Attributes::of(node)
        .string("norm", "MAX")
        .map_err(|e| err(node, e))?
        .as_str()
    {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        other => return Err(err(node, format!("unknown norm '{other}'"))),
    };
    let y = b.slot(b.width(x), Elem::F32)?;
    b.program.push(Instr::Normalizer { x, y, norm });
    if norm == Norm::L1 && b.probabilities.contains(&x) {
        b.probabilities.insert(y);
    }
    carry_meaning(b, x, y);
    b.define(node, 0, y);
    Ok(())
}

pub(super) fn imputer(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    if !attrs.ints("imputed_value_int64s").is_empty() {
        return Err(err(
            node,
            "integer imputation is not supported (the features are numbers)",
        ));
    }
    let values: Vec<f64> = attrs
        .floats("imputed_value_floats")
        .iter()
        .map(|&f| f64::from(f))
        .collect();
    let width = b.width(x);
    if !(values.len() == 1 || values.len() == width) {
        return Err(err(
            node,
            format!("{} imputed values for {width} columns", values.len()),
        ));
    }
    let replaced =
        Some(f64::from(attrs.float("replaced_value_float", f32::NAN))).filter(|v| !v.is_nan());
    let y = b.slot(width, b.elem(x))?;
    b.program.push(Instr::Imputer {
        x,
        y,
        values,
        replaced,
    });
    b.define(node, 0, y);
    Ok(())
}

pub(super) fn binarizer(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let threshold = f64::from(Attributes::of(node).float("threshold", 0.0));
    let y = b.slot(b.width(x), b.elem(x))?;
    b.program.push(Instr::Binarizer { x, y, threshold });
    b.define(node, 0, y);
    Ok(())
}

pub(super) fn one_hot(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    if !attrs
        .strings("cats_strings")
        .map_err(|e| err(node, e))?
        .is_empty()
    {
        return Err(err(
            node,
            "string categories are not supported (edgescore's features are numbers); encode them as integers before export",
        ));
    }
    if b.width(x) != 1 {
        return Err(err(node, "only one input column is supported"));
    }
    let categories: Vec<f64> = attrs
        .ints("cats_int64s")
        .iter()
        .map(|&c| c as f64)
        .collect();
    if categories.is_empty() {
        return Err(err(node, "no categories"));
    }
    let y = b.slot(categories.len(), Elem::F32)?;
    let refuse_unknown = attrs.int("zeros", 1) == 0;
    b.program.push(Instr::OneHot {
        x,
        y,
        categories,
        refuse_unknown,
    });
    b.define(node, 0, y);
    Ok(())
}

pub(crate) fn post_transform(node: &NodeProto) -> Result<PostTransform, ModelError> {
    match Attributes::of(node)
        .string("post_transform", "NONE")
        .map_err(|e| err(node, e))?
        .as_str()
    {
        "NONE" => Ok(PostTransform::None),
        "LOGISTIC" => Ok(PostTransform::Logistic),
        "SOFTMAX" => Ok(PostTransform::Softmax),
        "SOFTMAX_ZERO" => Ok(PostTransform::SoftmaxZero),
        "PROBIT" => Ok(PostTransform::Probit),
        other => Err(invalid(format!(
            "{}: unknown post_transform '{other}'",
            describe(node)
        ))),
    }
}

/// A classifier's class labels, as text.
pub(crate) fn class_labels(node: &NodeProto) -> Result<Vec<String>, ModelError> {
    let attrs = Attributes::of(node);
    let ints = attrs.ints("classlabels_ints");
    let ints = if ints.is_empty() {
        attrs.ints("classlabels_int64s")
    } else {
        ints
    };
    if !ints.is_empty() {
        return Ok(ints.iter().map(i64::to_string).collect());
    }
    attrs
        .strings("classlabels_strings")
        .map_err(|e| err(node, e))
}

pub(super) fn linear(node: &NodeProto, b: &mut Builder) -> Result<(), ModelError> {
    let x = b.input(node, 0)?;
    let attrs = Attributes::of(node);
    let classifier = node.op_type == "LinearClassifier";
    let coefficients: Vec<f64> = attrs
        .floats("coefficients")
        .iter()
        .map(|&f| f64::from(f))
        .collect();
    let mut intercepts: Vec<f64> = attrs
        .floats("intercepts")
        .iter()
        .map(|&f| f64::from(f))
        .collect();
    let features = b.width(x);
    if coefficients.is_empty() || !coefficients.len().is_multiple_of(features) {
        return Err(invalid(format!(
            "{}: {} coefficients for {features} features",
            describe(node),
            coefficients.len()
        )));
    }
    let targets = coefficients.len() / features;
    if intercepts.is_empty() {
        intercepts = vec![0.0; targets];
    }
    if intercepts.len() != targets {
        return Err(invalid(format!(
            "{}: {} intercepts for {targets} targets",
            describe(node),
            intercepts.len()
        )));
    }
    let post = post_transform(node)?;
    let (labels, binary) = if classifier {
        let labels = class_labels(node)?;
        if attrs.int("multi_class", 0) != 0 && labels.len() > 2 {
            return Err(err(
                node,
                "multi_class = 1 (one-vs-rest over many classes) is not supported",
            ));
        }
        let binary = targets == 1 && labels.len() == 2;
        (Some(labels), binary)
    } else {
        if attrs.int("targets", 1) as usize != targets {
            return Err(invalid(format!(
                "{}: 'targets' differs from the coefficients",
                describe(node)
            )));
        }
        (None, false)
    };
    let width = if binary { 2 } else { targets };
    // A classifier's scores come out as float whatever its input.
    let y = b.slot(width, Elem::F32)?;
    b.program.push(Instr::Linear {
        x,
        y,
        coefficients,
        intercepts,
        post,
        binary,
    });
    if let Some(labels) = labels {
        b.labels.insert(y, labels);
        b.probabilities.insert(y);
    }
    b.define(node, if classifier { 1 } else { 0 }, y);
    Ok(())
}
