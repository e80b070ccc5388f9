//! Linear and logistic regression in edgescore's small JSON format.
//!
//! ```json
//! {
//!   "format": "edgescore-linear",
//!   "format_version": 1,
//!   "kind": "logistic",
//!   "feature_names": ["amount", "hour"],
//!   "coefficients": [0.8, -0.1],
//!   "intercept": -2.5,
//!   "standardize": {"mean": [42.0, 12.0], "scale": [30.0, 6.9]},
//!   "impute": [42.0, 12.0]
//! }
//! ```
//!
//! - `kind`: `"logistic"` (the score is the probability `1 / (1 + exp(-z))`)
//!   or `"linear"` (the score is `z`).
//! - `z = intercept + sum_i coefficients[i] * (x_i - mean[i]) / scale[i]`,
//!   in float64, in feature order. Without `standardize`, `mean` is 0 and
//!   `scale` is 1: exactly scikit-learn's `StandardScaler` then `decision_function`.
//! - `feature_names` (optional) lets inputs be matched by name.
//! - `impute` (optional) gives the value used for a missing input; without
//!   it a missing input is an error for that batch.

use serde::Deserialize;

use crate::link;
use crate::model::Schema;
use crate::{FeatureKind, Format, ModelError, OutputKind, ScoreError};

const FORMAT: Format = Format::LinearJson;

/// Whether the linear predictor is passed through the logistic function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LinearKind {
    Logistic,
    Linear,
}

/// A parsed linear model. `mean`, `scale` and `impute` have one entry per feature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinearModel {
    pub(crate) schema: Schema,
    pub(crate) kind: LinearKind,
    pub(crate) coefficients: Vec<f64>,
    pub(crate) intercept: f64,
    pub(crate) mean: Vec<f64>,
    pub(crate) scale: Vec<f64>,
    pub(crate) impute: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    format_version: u32,
    kind: LinearKind,
    #[serde(default)]
    feature_names: Option<Vec<String>>,
    coefficients: Vec<f64>,
    intercept: f64,
    #[serde(default)]
    standardize: Option<Standardize>,
    #[serde(default)]
    impute: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Standardize {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl LinearModel {
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let file: File = serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
            format: FORMAT,
            source,
        })?;
        if file.format != "edgescore-linear" {
            return Err(ModelError::invalid(
                FORMAT,
                format!(
                    "\"format\" is '{}', expected 'edgescore-linear'",
                    file.format
                ),
            ));
        }
        if file.format_version != 1 {
            return Err(ModelError::unsupported(
                FORMAT,
                format!(
                    "format_version {} (this edgescore reads version 1)",
                    file.format_version
                ),
            ));
        }
        let n = file.coefficients.len();
        let (mean, scale) = match file.standardize {
            Some(s) => (s.mean, s.scale),
            None => (vec![0.0; n], vec![1.0; n]),
        };
        Self::new(
            Schema {
                names: file.feature_names,
                kinds: vec![FeatureKind::Numeric; n],
            },
            file.kind,
            file.coefficients,
            file.intercept,
            mean,
            scale,
            file.impute,
        )
    }

    /// Builds a model from its parts, checking lengths and that every number is finite.
    pub(crate) fn new(
        schema: Schema,
        kind: LinearKind,
        coefficients: Vec<f64>,
        intercept: f64,
        mean: Vec<f64>,
        scale: Vec<f64>,
        impute: Option<Vec<f64>>,
    ) -> Result<Self, ModelError> {
        schema.validate(FORMAT)?;
        let n = coefficients.len();
        let vectors = [
            ("mean", Some(&mean)),
            ("scale", Some(&scale)),
            ("impute", impute.as_ref()),
        ];
        for (name, v) in vectors {
            if let Some(v) = v {
                if v.len() != n {
                    return Err(ModelError::invalid(
                        FORMAT,
                        format!("{name} has {} entries for {n} coefficients", v.len()),
                    ));
                }
                if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                    return Err(ModelError::invalid(
                        FORMAT,
                        format!("{name} holds the non-finite value {bad}"),
                    ));
                }
            }
        }
        if let Some(bad) = coefficients
            .iter()
            .chain([&intercept])
            .find(|x| !x.is_finite())
        {
            return Err(ModelError::invalid(
                FORMAT,
                format!("a coefficient or the intercept is {bad}"),
            ));
        }
        if let Some(i) = scale.iter().position(|&s| s == 0.0) {
            return Err(ModelError::invalid(
                FORMAT,
                format!("scale[{i}] is 0 (a constant feature has scale 1)"),
            ));
        }
        Ok(Self {
            schema,
            kind,
            coefficients,
            intercept,
            mean,
            scale,
            impute,
        })
    }

    pub(crate) fn output_kind(&self) -> OutputKind {
        match self.kind {
            LinearKind::Logistic => OutputKind::Probability,
            LinearKind::Linear => OutputKind::Regression,
        }
    }

    pub(crate) fn objective_name(&self) -> &str {
        match self.kind {
            LinearKind::Logistic => "logistic",
            LinearKind::Linear => "linear",
        }
    }

    /// The linear predictor `z` for each row.
    pub(crate) fn raw_into(&self, rows: &[f64], out: &mut [f64]) -> Result<(), ScoreError> {
        let width = self.coefficients.len();
        for (r, (o, row)) in out.iter_mut().zip(rows.chunks_exact(width)).enumerate() {
            let mut z = self.intercept;
            for (i, &x) in row.iter().enumerate() {
                z += self.term(r, i, x)?;
            }
            *o = z;
        }
        Ok(())
    }

    /// Feature `i`'s term of the decision function for value `x` (NaN
    /// imputed when the model says how): the coefficient times the
    /// standardized value. This is also the feature's contribution.
    fn term(&self, row: usize, i: usize, x: f64) -> Result<f64, ScoreError> {
        let x = if x.is_nan() {
            match &self.impute {
                Some(values) => values[i],
                None => return Err(self.missing(row, i)),
            }
        } else {
            x
        };
        Ok(self.coefficients[i] * ((x - self.mean[i]) / self.scale[i]))
    }

    /// One row's contributions into `phi`: each feature's term, then the
    /// intercept as the bias (the standardized features have mean zero).
    pub(crate) fn contributions_into(
        &self,
        row_index: usize,
        row: &[f64],
        phi: &mut [f64],
    ) -> Result<(), ScoreError> {
        for (i, &x) in row.iter().enumerate() {
            phi[i] = self.term(row_index, i, x)?;
        }
        phi[row.len()] = self.intercept;
        Ok(())
    }

    fn missing(&self, row: usize, feature: usize) -> ScoreError {
        let name = match &self.schema.names {
            Some(names) => names[feature].clone(),
            None => format!("#{feature}"),
        };
        ScoreError::Missing { row, feature: name }
    }

    pub(crate) fn transform(&self, raw: f64) -> f64 {
        match self.kind {
            LinearKind::Logistic => link::logistic(raw),
            LinearKind::Linear => raw,
        }
    }
}
