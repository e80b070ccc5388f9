//! Reading a node's attributes and constant tensors by name and type, with
//! errors that name the node.

use super::proto::{AttributeProto, NodeProto, TensorProto};

/// ONNX tensor element types edgescore reads (`TensorProto.DataType`).
pub(crate) const FLOAT: i32 = 1;
pub(crate) const UINT8: i32 = 2;
pub(crate) const INT32: i32 = 6;
pub(crate) const INT64: i32 = 7;
pub(crate) const DOUBLE: i32 = 11;

/// The name of an ONNX element type, for messages.
pub(crate) fn type_name(data_type: i32) -> &'static str {
    match data_type {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "an unknown type",
    }
}

/// The attributes of one node, looked up by name.
pub(crate) struct Attributes<'a> {
    node: &'a NodeProto,
}

impl<'a> Attributes<'a> {
    pub(crate) fn of(node: &'a NodeProto) -> Self {
        Self { node }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    pub(crate) fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    pub(crate) fn string(&self, name: &str, default: &str) -> Result<String, String> {
        match self.get(name) {
            None => Ok(default.to_owned()),
            Some(a) => String::from_utf8(a.s.clone())
                .map_err(|_| format!("attribute '{name}' is not UTF-8")),
        }
    }

    /// A tensor attribute.
    pub(crate) fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }

    pub(crate) fn ints(&self, name: &str) -> &'a [i64] {
        self.get(name).map_or(&[], |a| a.ints.as_slice())
    }

    pub(crate) fn floats(&self, name: &str) -> &'a [f32] {
        self.get(name).map_or(&[], |a| a.floats.as_slice())
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        self.get(name)
            .map_or(&[][..], |a| a.strings.as_slice())
            .iter()
            .map(|s| {
                String::from_utf8(s.clone())
                    .map_err(|_| format!("attribute '{name}' holds a string that is not UTF-8"))
            })
            .collect()
    }

    /// A float list given either as `name` (float32) or as the tensor
    /// attribute `<name>_as_tensor` (float32 or float64): the values as
    /// `f64`, and whether they are float64.
    pub(crate) fn reals(&self, name: &str) -> Result<(Vec<f64>, bool), String> {
        let tensor_name = format!("{name}_as_tensor");
        if let Some(tensor) = self.get(&tensor_name).and_then(|a| a.t.as_ref()) {
            let values =
                tensor_reals(tensor).map_err(|e| format!("attribute '{tensor_name}': {e}"))?;
            return Ok((values, tensor.data_type == DOUBLE));
        }
        Ok((
            self.floats(name).iter().map(|&v| f64::from(v)).collect(),
            false,
        ))
    }

    /// Refuses attributes that refer to an enclosing function's.
    pub(crate) fn check_no_references(&self) -> Result<(), String> {
        match self
            .node
            .attribute
            .iter()
            .find(|a| !a.ref_attr_name.is_empty())
        {
            Some(a) => Err(format!(
                "attribute '{}' refers to a function attribute; only plain graphs are supported",
                a.name
            )),
            None => Ok(()),
        }
    }
}

/// The values of a float, double or integer tensor as `f64` (integers
/// beyond 2^53 are refused, not rounded), exactly as many as its dims say.
pub(crate) fn tensor_reals(t: &TensorProto) -> Result<Vec<f64>, String> {
    if t.data_location == 1 {
        return Err("the tensor's data is in an external file; save the model with its data inside (onnx.save_model(..., save_as_external_data=False))".into());
    }
    let raw = &t.raw_data;
    let from_raw = !raw.is_empty();
    let values: Vec<f64> = match t.data_type {
        FLOAT if from_raw => chunks::<4>(raw)?
            .map(|b| f64::from(f32::from_le_bytes(b)))
            .collect(),
        FLOAT => t.float_data.iter().map(|&v| f64::from(v)).collect(),
        DOUBLE if from_raw => chunks::<8>(raw)?.map(f64::from_le_bytes).collect(),
        DOUBLE => t.double_data.clone(),
        INT64 => {
            let ints: Vec<i64> = if from_raw {
                chunks::<8>(raw)?.map(i64::from_le_bytes).collect()
            } else {
                t.int64_data.clone()
            };
            exact_ints(&ints)?
        }
        UINT8 if from_raw => raw.iter().map(|&b| f64::from(b)).collect(),
        INT32 | UINT8 => {
            if from_raw {
                chunks::<4>(raw)?
                    .map(|b| f64::from(i32::from_le_bytes(b)))
                    .collect()
            } else {
                t.int32_data.iter().map(|&v| f64::from(v)).collect()
            }
        }
        other => {
            return Err(format!(
                "a tensor of {} where numbers were expected",
                type_name(other)
            ));
        }
    };
    // Checked: hostile dims must not overflow into a product that matches.
    let expected = if t.dims.contains(&0) {
        Some(0)
    } else {
        t.dims.iter().try_fold(1_i64, |p, &d| p.checked_mul(d))
    };
    if t.dims.iter().any(|&d| d < 0) || expected != i64::try_from(values.len()).ok() {
        return Err(format!(
            "the tensor has {} values for the shape {:?}",
            values.len(),
            t.dims
        ));
    }
    Ok(values)
}

fn chunks<const N: usize>(raw: &[u8]) -> Result<impl Iterator<Item = [u8; N]> + '_, String> {
    if !raw.len().is_multiple_of(N) {
        return Err(format!(
            "raw data of {} bytes is not a whole number of {N}-byte values",
            raw.len()
        ));
    }
    Ok(raw.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

/// Integers as `f64`, refusing any that `f64` cannot hold exactly.
pub(crate) fn exact_ints(ints: &[i64]) -> Result<Vec<f64>, String> {
    const LIMIT: i64 = 1 << 53;
    match ints.iter().find(|v| v.abs() > LIMIT) {
        Some(v) => Err(format!(
            "the integer {v} is beyond 2^53 and cannot be carried exactly"
        )),
        None => Ok(ints.iter().map(|&v| v as f64).collect()),
    }
}
