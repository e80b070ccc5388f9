//! The model file formats edgescore reads, and how a file's format is recognised.

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// A model file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// XGBoost's JSON model (`Booster.save_model("model.json")`).
    XGBoostJson,
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    LightGbmText,
    /// edgescore's linear / logistic regression JSON (see `linear.rs` for the fields).
    LinearJson,
    /// edgescore's compact binary encoding of an already parsed model.
    Compact,
    /// An ONNX model (`.onnx`, a protobuf `ModelProto`).
    Onnx,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Format; 5] = [
        Format::Compact,
        Format::Onnx,
        Format::LightGbmText,
        Format::XGBoostJson,
        Format::LinearJson,
    ];

    /// The short name used on the command line (`--format xgboost`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Format::XGBoostJson => "xgboost",
            Format::LightGbmText => "lightgbm",
            Format::LinearJson => "linear",
            Format::Compact => "compact",
            Format::Onnx => "onnx",
        }
    }

    /// Recognises the format from the first bytes of a model file.
    ///
    /// Looks only at the start of the file: the compact encoding's magic
    /// bytes, an ONNX protobuf's first field (`ir_version`), LightGBM's
    /// leading `tree` line, or a JSON object whose first keys say which JSON
    /// format it is.
    pub fn detect(bytes: &[u8]) -> Result<Format, ModelError> {
        if bytes.starts_with(crate::encoding::MAGIC) {
            return Ok(Format::Compact);
        }
        if looks_like_onnx(bytes) {
            return Ok(Format::Onnx);
        }
        let text = skip_bom_and_space(bytes);
        if text.starts_with(b"tree\n") || text.starts_with(b"tree\r\n") {
            return Ok(Format::LightGbmText);
        }
        if text.starts_with(b"{") {
            if contains(text, b"\"edgescore-linear\"") {
                return Ok(Format::LinearJson);
            }
            if contains(text, b"\"learner\"") {
                return Ok(Format::XGBoostJson);
            }
            let second = text.get(1).copied().unwrap_or(b'}');
            if !(second.is_ascii_whitespace() || second == b'"' || second == b'}') {
                return Err(ModelError::UnknownFormat {
                    hint:
                        "this looks like XGBoost's binary UBJSON; save the model as .json instead"
                            .into(),
                });
            }
            return Err(ModelError::UnknownFormat {
                hint: "a JSON object with neither an XGBoost \"learner\" nor \"format\": \"edgescore-linear\""
                    .into(),
            });
        }
        if bytes.is_empty() {
            return Err(ModelError::UnknownFormat {
                hint: "the file is empty".into(),
            });
        }
        Err(ModelError::UnknownFormat {
            hint: "the file starts with neither `{`, `tree`, an ONNX protobuf header nor the compact model magic".into(),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::XGBoostJson => "XGBoost JSON",
            Format::LightGbmText => "LightGBM text",
            Format::LinearJson => "edgescore linear JSON",
            Format::Compact => "edgescore compact",
            Format::Onnx => "ONNX",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.cli_name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown model format '{s}': expected xgboost, lightgbm, linear, onnx or compact")
            })
    }
}

/// An ONNX `ModelProto` starts with field 1 (`ir_version`, a small
/// varint): the byte 0x08 and a version in 1..=63. No text format starts so.
fn looks_like_onnx(bytes: &[u8]) -> bool {
    matches!(bytes, [0x08, v, ..] if (1..64).contains(v))
}

fn skip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
