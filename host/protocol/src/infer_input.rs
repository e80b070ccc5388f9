//! A V2 request's one input tensor read as row-major `f64` rows: from JSON
//! numbers, flat or nested, or from the binary data after the JSON header
//! (little-endian FP32 or FP64).

use serde_json::Value;

use crate::ProtocolError;
use crate::infer_request::InferRequest;

/// Where an input tensor's values are.
enum Data<'a> {
    /// After the JSON header.
    Binary,
    /// In the JSON `data`, flat or nested.
    Json(&'a Value),
}

impl InferRequest {
    /// The one input tensor as row-major `f64` rows of `features.len()`
    /// values (the model's features, in order): FP64 values as they are,
    /// FP32 values widened exactly. `binary` is what followed the JSON
    /// header ([`crate::split_body`]).
    ///
    /// Nothing is allocated from the declared shape: it must first agree
    /// with the data actually sent (JSON numbers counted, or binary bytes,
    /// in overflow-checked arithmetic), and its rows must be within
    /// `max_rows` ([`ProtocolError::TooManyRows`] otherwise).
    pub fn feature_rows(
        &self,
        binary: &[u8],
        features: &[&str],
        max_rows: usize,
    ) -> Result<Vec<f64>, ProtocolError> {
        let width = features.len();
        let [input] = self.inputs.as_slice() else {
            return Err(ProtocolError::InputCount {
                width,
                count: self.inputs.len(),
            });
        };
        let name = &input.name;
        let rows = match input.shape.as_slice() {
            &[rows, columns] if columns == width as i64 => u64::try_from(rows).ok(),
            _ => None,
        }
        .ok_or_else(|| ProtocolError::Shape {
            name: name.clone(),
            shape: input.shape.clone(),
            width,
            features: features.iter().map(|&f| f.to_owned()).collect(),
        })?;
        let element: u64 = match input.datatype.as_str() {
            "FP32" => 4,
            "FP64" => 8,
            other => {
                return Err(ProtocolError::Datatype {
                    name: name.clone(),
                    datatype: other.to_owned(),
                });
            }
        };
        // `None` when the shape declares more values than a u64 can count:
        // no data can match it.
        let declared = rows.checked_mul(width as u64);
        let binary_size = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"));
        let data = match (binary_size, &input.data) {
            (Some(size), None) => {
                let size = size.as_u64().ok_or(ProtocolError::BinarySizeNotCount)?;
                if size != binary.len() as u64 {
                    return Err(ProtocolError::BinarySizeMismatch {
                        name: name.clone(),
                        size,
                        sent: binary.len(),
                    });
                }
                let needed = declared.and_then(|count| count.checked_mul(element));
                if needed != Some(size) {
                    return Err(ProtocolError::BinaryShape {
                        name: name.clone(),
                        rows,
                        width,
                        datatype: input.datatype.clone(),
                        needed,
                        size,
                    });
                }
                Data::Binary
            }
            (None, Some(data)) => {
                let sent = count_numbers(data);
                if declared != Some(sent) {
                    return Err(ProtocolError::JsonShape {
                        name: name.clone(),
                        rows,
                        width,
                        declared,
                        sent,
                    });
                }
                Data::Json(data)
            }
            (Some(_), Some(_)) => return Err(ProtocolError::BothData { name: name.clone() }),
            (None, None) => return Err(ProtocolError::NoData { name: name.clone() }),
        };
        // The shape matches data that fitted in the body; it may still hold
        // more rows than a request may.
        if rows > max_rows as u64 {
            return Err(ProtocolError::TooManyRows {
                limit: max_rows,
                what: "rows",
            });
        }
        match data {
            Data::Binary if element == 4 => Ok(binary
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect()),
            Data::Binary => Ok(binary
                .chunks_exact(8)
                .map(|b| {
                    let mut eight = [0u8; 8];
                    eight.copy_from_slice(b);
                    f64::from_le_bytes(eight)
                })
                .collect()),
            Data::Json(data) => {
                // At most `max_rows` rows: the capacity is bounded.
                let mut values = Vec::with_capacity(rows as usize * width);
                flatten_numbers(data, &mut values, name, element == 4)?;
                Ok(values)
            }
        }
    }
}

/// How many values a JSON `data` holds: its leaves, at any depth (a leaf
/// that is not a number is refused when the values are read).
fn count_numbers(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.iter().map(count_numbers).sum(),
        _ => 1,
    }
}

/// Appends every number of a flat or nested JSON array; for an FP32
/// tensor each number is read as the float32 it declares itself to be (and
/// one beyond the float32 range is refused).
fn flatten_numbers(
    value: &Value,
    out: &mut Vec<f64>,
    input: &str,
    fp32: bool,
) -> Result<(), ProtocolError> {
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| flatten_numbers(item, out, input, fp32)),
        Value::Number(n) => {
            let v = n.as_f64().ok_or_else(|| ProtocolError::UnreadableNumber {
                input: input.to_owned(),
                number: n.to_string(),
            })?;
            if !fp32 {
                out.push(v);
                return Ok(());
            }
            let narrowed = v as f32;
            if narrowed.is_infinite() {
                return Err(ProtocolError::BeyondFloat32 {
                    input: input.to_owned(),
                    number: n.to_string(),
                });
            }
            out.push(f64::from(narrowed));
            Ok(())
        }
        other => Err(ProtocolError::NotNumber {
            input: input.to_owned(),
            found: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURES: [&str; 2] = ["a", "b"];

    fn check(json: &str, binary: &[u8]) -> Result<Vec<f64>, ProtocolError> {
        InferRequest::from_json(json.as_bytes())
            .expect("parses")
            .feature_rows(binary, &FEATURES, 4)
    }

    #[test]
    fn json_data_flat_or_nested_and_fp32_narrowed() {
        let rows = check(
            r#"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[0.1, 2], [3, 4]]}]}"#,
            &[],
        )
        .expect("reads");
        assert_eq!(rows, [f64::from(0.1f32), 2.0, 3.0, 4.0]);
    }

    #[test]
    fn binary_data_is_little_endian() {
        let mut bytes = Vec::new();
        for v in [1.5f64, f64::NAN] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let rows = check(
            r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "parameters": {"binary_data_size": 16}}]}"#,
            &bytes,
        )
        .expect("reads");
        assert_eq!(rows[0], 1.5);
        assert!(rows[1].is_nan());
    }

    #[test]
    fn shapes_that_disagree_with_their_data_say_so() {
        for (json, binary, says) in [
            (
                r#"{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
                &[][..],
                "input 'x' has shape [3, 2] (6 values) but its data has 2: the shape must match the data",
            ),
            (
                r#"{"inputs": [{"name": "x", "shape": [9223372036854775807, 2], "datatype": "FP32", "data": [1, 2]}]}"#,
                &[],
                "input 'x' has shape [9223372036854775807, 2] (18446744073709551614 values) but its data has 2: the shape must match the data",
            ),
            (
                r#"{"inputs": [{"name": "x", "shape": [9223372036854775807, 2], "datatype": "FP64", "parameters": {"binary_data_size": 8}}]}"#,
                &[0; 8],
                "input 'x' of shape [9223372036854775807, 2] FP64 needs more bytes than can exist of binary data, but 8 bytes were sent: the shape must match the data",
            ),
            (
                r#"{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"#,
                &[],
                "input 'x' has shape [1, 3]; this model takes [rows, 2] (2 features: a, b)",
            ),
            (
                r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, "n"]}]}"#,
                &[],
                "input 'x': data must be numbers, found \"n\"; JSON has no NaN, so send missing values as binary tensor data or use POST /v1/models/<model>/score",
            ),
            (
                r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 1e39]}]}"#,
                &[],
                "input 'x': 1e+39 is beyond the float32 range of an FP32 tensor; send the tensor as FP64",
            ),
        ] {
            let e = check(json, binary).expect_err(json);
            assert_eq!(e.to_string(), says);
        }
    }

    #[test]
    fn more_rows_than_a_request_may_carry_are_refused_after_the_shape_check() {
        let e = check(
            r#"{"inputs": [{"name": "x", "shape": [5, 2], "datatype": "FP64", "data": [0,0,0,0,0,0,0,0,0,0]}]}"#,
            &[],
        )
        .expect_err("5 rows > 4");
        assert!(
            matches!(
                e,
                ProtocolError::TooManyRows {
                    limit: 4,
                    what: "rows"
                }
            ),
            "{e}"
        );
    }
}
