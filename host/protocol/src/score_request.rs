//! The body of `POST /v1/models/<m>/score`: rows as objects of named
//! features, or as arrays in the model's feature order, read into
//! row-major `f64` rows.
//!
//! `{"rows": [{"amount": 950.0, "hour": 3, ...}, ...], "key": "c42",
//! "contributions": true}`: a missing key or `null` is a missing value
//! (NaN); `true`/`false` are 1 and 0; an unknown key is an error (it is
//! usually a typo). A row may also be an array of one value per feature
//! in order, which is how a model whose features have no names is scored.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ProtocolError;
use crate::bounded_json::{self, BoundedJsonError};

/// One row of a request: named features, or every feature in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Row {
    Named(Map<String, Value>),
    Positional(Vec<Value>),
}

/// A request's fields besides `rows` (read with a bound on their number,
/// see [`bounded_json`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreOptions {
    #[serde(default)]
    contributions: bool,
    #[serde(default)]
    key: Option<String>,
}

/// A parsed `/v1` score request.
#[derive(Debug)]
pub struct ScoreRequest {
    pub rows: Vec<Row>,
    /// Whether each row's contributions are asked for.
    pub contributions: bool,
    /// The canary split's key (a transaction or entity id); chance without one.
    pub key: Option<String>,
}

impl ScoreRequest {
    /// Parses `body`, refusing it as soon as a row past `max_rows` is read
    /// ([`ProtocolError::TooManyRows`]).
    pub fn parse(body: &[u8], max_rows: usize) -> Result<Self, ProtocolError> {
        let (rows, options): (Vec<Row>, ScoreOptions) = bounded_json::parse(body, "rows", max_rows)
            .map_err(|e| match e {
                BoundedJsonError::TooMany { limit } => ProtocolError::TooManyRows {
                    limit,
                    what: "rows",
                },
                BoundedJsonError::Json(e) => ProtocolError::ScoreBody(e),
            })?;
        Ok(Self {
            rows,
            contributions: options.contributions,
            key: options.key,
        })
    }

    /// Row-major values in the order of `features` (the model's feature
    /// names; empty names when it has none), NaN where missing.
    pub fn feature_rows(&self, features: &[&str]) -> Result<Vec<f64>, ProtocolError> {
        let mut values = Vec::with_capacity(self.rows.len() * features.len());
        for (r, row) in self.rows.iter().enumerate() {
            match row {
                Row::Named(_) if features.iter().all(|f| f.is_empty()) => {
                    return Err(ProtocolError::UnnamedFeatures {
                        row: r,
                        width: features.len(),
                    });
                }
                Row::Named(object) => {
                    if let Some(unknown) = object.keys().find(|k| !features.contains(&k.as_str())) {
                        return Err(ProtocolError::UnknownFeature {
                            row: r,
                            name: unknown.clone(),
                            features: features.iter().map(|&f| f.to_owned()).collect(),
                        });
                    }
                    for &feature in features {
                        values.push(feature_value(r, feature, object.get(feature))?);
                    }
                }
                Row::Positional(cells) => {
                    if cells.len() != features.len() {
                        return Err(ProtocolError::RowWidth {
                            row: r,
                            values: cells.len(),
                            width: features.len(),
                        });
                    }
                    for (j, (cell, &feature)) in cells.iter().zip(features).enumerate() {
                        let name = if feature.is_empty() {
                            format!("#{j}")
                        } else {
                            feature.to_owned()
                        };
                        values.push(feature_value(r, &name, Some(cell))?);
                    }
                }
            }
        }
        Ok(values)
    }
}

/// One feature's value: a number, `true`/`false` (1 and 0), or missing.
fn feature_value(r: usize, feature: &str, value: Option<&Value>) -> Result<f64, ProtocolError> {
    Ok(match value {
        None | Some(Value::Null) => f64::NAN,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        // JSON numbers are float64, as the model reads them (each
        // family narrows as its library does).
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| ProtocolError::UnreadableFeature {
            row: r,
            feature: feature.to_owned(),
            number: n.to_string(),
        })?,
        Some(other) => {
            return Err(ProtocolError::FeatureType {
                row: r,
                feature: feature.to_owned(),
                found: other.to_string(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, features: &[&str]) -> Result<Vec<f64>, ProtocolError> {
        ScoreRequest::parse(body.as_bytes(), 3)?.feature_rows(features)
    }

    #[test]
    fn rows_by_name_or_in_order() {
        let rows = check(
            r#"{"rows": [{"b": true, "a": 2}, [null, 1.5]], "key": "k"}"#,
            &["a", "b"],
        )
        .expect("reads");
        assert_eq!(rows[..2], [2.0, 1.0]);
        assert!(rows[2].is_nan());
        assert_eq!(rows[3], 1.5);
    }

    #[test]
    fn mistakes_name_the_row_and_the_feature() {
        for (body, features, says) in [
            (
                r#"{"rows": [{"c": 1}]}"#,
                &["a", "b"][..],
                "row 0: 'c' is not a feature of this model; its features are a, b",
            ),
            (
                r#"{"rows": [[1]]}"#,
                &["a", "b"],
                "row 0 has 1 values; the model has 2 features",
            ),
            (
                r#"{"rows": [[1, "x"]]}"#,
                &["", ""],
                "row 0, feature '#1': expected a number, true/false or null, found \"x\"",
            ),
            (
                r#"{"rows": [{}]}"#,
                &["", ""],
                "row 0: this model's features have no names; send each row as an array of its 2 values in order",
            ),
        ] {
            let e = check(body, features).expect_err(body);
            assert_eq!(e.to_string(), says);
        }
        let e = check(r#"{"rows": [[], [], [], []]}"#, &[]).expect_err("4 rows");
        assert!(
            matches!(
                e,
                ProtocolError::TooManyRows {
                    limit: 3,
                    what: "rows"
                }
            ),
            "{e}"
        );
        let e = check(r#"{"rows": 1}"#, &[]).expect_err("not rows");
        assert!(
            e.to_string().starts_with(
                "expected {\"rows\": [{\"<feature>\": <number>, ...}, ...]} (or rows as arrays of numbers in feature order): "
            ),
            "{e}"
        );
    }
}
