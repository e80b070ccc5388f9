//! A V2 inference request: the body split into its JSON header and binary
//! tensor data, the JSON parsed, and what it asks of the answer.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{OUTPUT, ProtocolError};

/// The JSON of `POST /v2/models/<m>[/versions/<v>]/infer` (unknown fields
/// refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Option<Map<String, Value>>,
    pub(crate) inputs: Vec<InputTensor>,
    #[serde(default)]
    pub(crate) outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputTensor {
    pub(crate) name: String,
    pub(crate) shape: Vec<i64>,
    pub(crate) datatype: String,
    #[serde(default)]
    pub(crate) parameters: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) data: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestedOutput {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) parameters: Option<Map<String, Value>>,
}

/// The JSON header and the binary data after it. `header_length` is the
/// raw value of the [`crate::HEADER_LENGTH`] request header, if sent: without
/// it the whole body is JSON. Refused when the value is not a byte count
/// (visible ASCII, blanks around it allowed) or runs past the body.
pub fn split_body<'a>(
    header_length: Option<&[u8]>,
    body: &'a [u8],
) -> Result<(&'a [u8], &'a [u8]), ProtocolError> {
    let Some(value) = header_length else {
        return Ok((body, &[]));
    };
    let length: usize = visible_ascii(value)
        .and_then(|v| v.trim().parse().ok())
        .ok_or(ProtocolError::HeaderLength)?;
    if length > body.len() {
        return Err(ProtocolError::HeaderPastBody {
            length,
            body: body.len(),
        });
    }
    Ok(body.split_at(length))
}

/// A header value as text when it holds only visible ASCII and tabs (what
/// an HTTP header value's `to_str` accepts).
fn visible_ascii(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

impl InferRequest {
    /// Parses the request's JSON (the whole body, or the header of a
    /// binary one).
    pub fn from_json(json: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(json).map_err(ProtocolError::InferRequest)
    }

    /// The request's `id`, echoed in the answer.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The canary split's key: `parameters.key` (a string), else the `id`.
    pub fn key(&self) -> Option<&str> {
        self.parameters
            .as_ref()
            .and_then(|p| p.get("key"))
            .and_then(Value::as_str)
            .or(self.id.as_deref())
    }

    /// Whether the (first) input is FP64, so the answer is FP64 too.
    pub fn is_fp64(&self) -> bool {
        self.inputs
            .first()
            .is_some_and(|input| input.datatype == "FP64")
    }

    /// Whether the response's output goes as binary data (`binary_data`
    /// on a requested output, or `binary_data_output` on the request), and
    /// checks the requested outputs name only [`OUTPUT`].
    pub fn wants_binary_output(&self) -> Result<bool, ProtocolError> {
        let flag = |p: &Option<Map<String, Value>>, key: &str| {
            p.as_ref()
                .and_then(|p| p.get(key))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let mut binary = flag(&self.parameters, "binary_data_output");
        for output in self.outputs.iter().flatten() {
            if output.name != OUTPUT {
                return Err(ProtocolError::UnknownOutput {
                    name: output.name.clone(),
                });
            }
            binary |= flag(&output.parameters, "binary_data");
        }
        Ok(binary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_length_splits_the_body() {
        let body = b"{}abcd";
        assert_eq!(
            split_body(None, body).expect("no header"),
            (&body[..], &[][..])
        );
        let (json, binary) = split_body(Some(b" 2\t"), body).expect("splits");
        assert_eq!((json, binary), (&b"{}"[..], &b"abcd"[..]));
        for bad in [&b"x"[..], b"-1", b"", b"\xc2\xa02", b"2\n"] {
            let e = split_body(Some(bad), body).expect_err("refused");
            assert!(matches!(e, ProtocolError::HeaderLength), "{bad:?}: {e}");
        }
        let e = split_body(Some(b"7"), body).expect_err("past the body");
        assert_eq!(
            e.to_string(),
            "the inference-header-content-length header says 7 bytes of JSON, but the body has only 6"
        );
    }

    #[test]
    fn outputs_other_than_score_are_refused() {
        let request = InferRequest::from_json(
            br#"{"inputs": [], "outputs": [{"name": "score", "parameters": {"binary_data": true}}]}"#,
        )
        .expect("parses");
        assert!(request.wants_binary_output().expect("score"));
        let request = InferRequest::from_json(br#"{"inputs": [], "outputs": [{"name": "p"}]}"#)
            .expect("parses");
        let e = request.wants_binary_output().expect_err("unknown output");
        assert_eq!(
            e.to_string(),
            "unknown output 'p'; the only output is 'score'"
        );
    }

    #[test]
    fn the_key_is_the_parameter_else_the_id() {
        let request =
            InferRequest::from_json(br#"{"id": "i", "parameters": {"key": "k"}, "inputs": []}"#)
                .expect("parses");
        assert_eq!(request.key(), Some("k"));
        let request =
            InferRequest::from_json(br#"{"id": "i", "parameters": {"key": 3}, "inputs": []}"#)
                .expect("parses");
        assert_eq!(request.key(), Some("i"));
    }
}
