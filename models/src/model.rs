//! [`Model`]: a parsed model of any family, with one way to score rows.

use std::fmt;

use crate::lightgbm::LightGbmModel;
use crate::linear::LinearModel;
use crate::onnx::OnnxModel;
use crate::xgboost::{SimdWalk, XGBoostModel};
use crate::{Format, ModelError, ScoreError, encoding};

/// The family a model belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// Gradient-boosted trees from XGBoost (`gbtree`).
    XGBoost,
    /// Gradient-boosted trees from LightGBM (`gbdt`).
    LightGbm,
    /// Linear or logistic regression.
    Linear,
    /// An ONNX graph: tree ensembles, linear models, preprocessing, small networks.
    Onnx,
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::XGBoost => "xgboost",
            ModelKind::LightGbm => "lightgbm",
            ModelKind::Linear => "linear",
            ModelKind::Onnx => "onnx",
        })
    }
}

/// What a score means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// The probability of the positive class, in [0, 1].
    Probability,
    /// The raw margin (log-odds) of a binary classifier, e.g. XGBoost's `binary:logitraw`.
    Margin,
    /// A regression value.
    Regression,
}

impl OutputKind {
    /// The lower-case name used in manifests and the WIT contract.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Probability => "probability",
            OutputKind::Margin => "margin",
            OutputKind::Regression => "regression",
        }
    }
}

/// How a model reads one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureKind {
    /// A real number; NaN is a missing value.
    Numeric,
    /// A category code: a non-negative integer carried in an `f64`.
    Categorical,
}

impl FeatureKind {
    /// The lower-case name used in manifests and the WIT contract.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        }
    }
}

/// A model, parsed and validated, ready to score.
///
/// Construction checks the whole structure (every tree is a tree, every
/// index in range, every value finite), so scoring cannot fail on the model's
/// account: [`Model::score`] fails only for input of the wrong shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    evaluator: Evaluator,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Evaluator {
    XGBoost(XGBoostModel),
    LightGbm(LightGbmModel),
    Linear(LinearModel),
    Onnx(OnnxModel),
}

impl Model {
    /// Parses a model file. With `format` `None` the format is recognised
    /// from the bytes (see [`Format::detect`]).
    pub fn from_bytes(bytes: &[u8], format: Option<Format>) -> Result<Self, ModelError> {
        let format = match format {
            Some(f) => f,
            None => Format::detect(bytes)?,
        };
        let evaluator = match format {
            Format::XGBoostJson => Evaluator::XGBoost(XGBoostModel::from_json(bytes)?),
            Format::LightGbmText => Evaluator::LightGbm(LightGbmModel::from_text(bytes)?),
            Format::LinearJson => Evaluator::Linear(LinearModel::from_json(bytes)?),
            Format::Onnx => Evaluator::Onnx(OnnxModel::from_bytes(bytes)?),
            Format::Compact => encoding::decode(bytes)?,
        };
        Ok(Self { evaluator })
    }

    /// The model in edgescore's compact binary encoding; [`Model::from_bytes`]
    /// reads it back into an identical model.
    pub fn to_compact_bytes(&self) -> Vec<u8> {
        encoding::encode(&self.evaluator)
    }

    pub(crate) fn evaluator(&self) -> &Evaluator {
        &self.evaluator
    }

    /// The model's family.
    pub fn kind(&self) -> ModelKind {
        match &self.evaluator {
            Evaluator::XGBoost(_) => ModelKind::XGBoost,
            Evaluator::LightGbm(_) => ModelKind::LightGbm,
            Evaluator::Linear(_) => ModelKind::Linear,
            Evaluator::Onnx(_) => ModelKind::Onnx,
        }
    }

    /// What [`Model::score`] returns.
    pub fn output_kind(&self) -> OutputKind {
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.output_kind(),
            Evaluator::LightGbm(m) => m.output_kind(),
            Evaluator::Linear(m) => m.output_kind(),
            Evaluator::Onnx(m) => m.output_kind(),
        }
    }

    /// The objective as the training library named it (`binary:logistic`, `binary`, `logistic`).
    pub fn objective(&self) -> &str {
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.objective_name(),
            Evaluator::LightGbm(m) => m.objective_name(),
            Evaluator::Linear(m) => m.objective_name(),
            Evaluator::Onnx(m) => m.objective_name(),
        }
    }

    /// How many values one row has.
    pub fn num_features(&self) -> usize {
        self.schema().kinds.len()
    }

    /// The feature names, when the model file has them (one per feature).
    pub fn feature_names(&self) -> Option<&[String]> {
        self.schema().names.as_deref()
    }

    /// How the model reads each feature.
    pub fn feature_kinds(&self) -> &[FeatureKind] {
        &self.schema().kinds
    }

    /// How many trees the model has (0 for a linear model).
    pub fn num_trees(&self) -> usize {
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.num_trees(),
            Evaluator::LightGbm(m) => m.num_trees(),
            Evaluator::Linear(_) => 0,
            Evaluator::Onnx(m) => m.num_trees(),
        }
    }

    /// The work of scoring one row, in steps (a tree level, or a linear
    /// term): what a host sizes its calls by, since a call into a component
    /// must finish inside its deadline. At least 1.
    pub fn steps_per_row(&self) -> u64 {
        let steps = match &self.evaluator {
            Evaluator::XGBoost(m) => m.steps_per_row(),
            Evaluator::LightGbm(m) => m.steps_per_row(),
            Evaluator::Linear(_) => self.num_features() as u64,
            Evaluator::Onnx(m) => m.steps_per_row(),
        };
        // Each tree also costs its leaf's addition.
        (steps + self.num_trees() as u64).max(1)
    }

    /// The work of one row's contributions, in steps: TreeSHAP visits every
    /// leaf of every tree and unwinds its path, about leaves x depth^2 per
    /// tree. At least [`Model::steps_per_row`].
    pub fn contribution_steps_per_row(&self) -> u64 {
        let steps = match &self.evaluator {
            Evaluator::XGBoost(m) => m.contribution_steps_per_row(),
            Evaluator::LightGbm(m) => m.contribution_steps_per_row(),
            Evaluator::Linear(_) | Evaluator::Onnx(_) => 0,
        };
        steps.max(self.steps_per_row())
    }

    fn schema(&self) -> &Schema {
        match &self.evaluator {
            Evaluator::XGBoost(m) => &m.schema,
            Evaluator::LightGbm(m) => &m.schema,
            Evaluator::Linear(m) => &m.schema,
            Evaluator::Onnx(m) => &m.schema,
        }
    }

    /// Scores a batch of rows, row-major with [`Model::num_features`] values
    /// each (NaN for missing), returning one score per row.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ScoreError> {
        let mut out = vec![0.0; self.row_count(rows)?];
        self.score_into(rows, &mut out)?;
        Ok(out)
    }

    /// Like [`Model::score`] but writes into `out`, which must have one slot per row.
    pub fn score_into(&self, rows: &[f64], out: &mut [f64]) -> Result<(), ScoreError> {
        self.raw_into(rows, out)?;
        self.apply_link(out);
        Ok(())
    }

    /// Turns raw outputs ([`Model::raw_scores`]) into scores in place: the
    /// link function, as [`Model::score`] applies it (an ONNX model's raw
    /// outputs are already its scores). For a backend that computes the raw
    /// outputs elsewhere (the GPU) and links them here, with edgescore's
    /// own `expf`/`exp`.
    pub fn apply_link(&self, raw: &mut [f64]) {
        match &self.evaluator {
            Evaluator::XGBoost(m) => raw.iter_mut().for_each(|v| *v = m.transform(*v)),
            Evaluator::LightGbm(m) => raw.iter_mut().for_each(|v| *v = m.transform(*v)),
            Evaluator::Linear(m) => raw.iter_mut().for_each(|v| *v = m.transform(*v)),
            // An ONNX graph's output is its score: there is no separate link.
            Evaluator::Onnx(_) => {}
        }
    }

    /// The model's trees as a GPU walks them (`edgescore-gpu`), or why this
    /// model has no GPU walk (XGBoost and LightGBM trees without
    /// categorical splits have one).
    pub fn gpu_forest(&self) -> Result<crate::gpu_forest::GpuTrees, String> {
        use crate::gpu_forest::GpuTrees;
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.gpu_forest().map(GpuTrees::Float32),
            Evaluator::LightGbm(m) => m.gpu_forest().map(GpuTrees::Float64),
            Evaluator::Linear(_) | Evaluator::Onnx(_) => Err(format!(
                "the GPU walk runs XGBoost and LightGBM trees, not {} models; score this model natively",
                self.kind()
            )),
        }
    }

    /// The raw outputs before the link function: XGBoost's `output_margin`,
    /// LightGBM's `raw_score`, a linear model's decision function. An ONNX
    /// model's are its scores (the graph's output has no separate margin).
    pub fn raw_scores(&self, rows: &[f64]) -> Result<Vec<f64>, ScoreError> {
        let mut out = vec![0.0; self.row_count(rows)?];
        self.raw_into(rows, &mut out)?;
        Ok(out)
    }

    /// The instruction set this model's batches are walked with on this
    /// CPU (`"avx512"`), or `None` for the portable walk. The scores are the
    /// same bits either way.
    pub fn simd(&self) -> Option<&'static str> {
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.simd().map(SimdWalk::name),
            _ => None,
        }
    }

    /// This model with the portable walk only: the reference the SIMD walks
    /// are tested against (the same bits).
    pub fn without_simd(self) -> Self {
        self.with_simd(None)
    }

    /// This model walking its batches with `walk` when this CPU runs it and
    /// the model has a SIMD walk (XGBoost trees); otherwise unchanged, or
    /// the portable walk for `None`. For tests of each walk.
    pub fn with_simd(self, walk: Option<SimdWalk>) -> Self {
        match self.evaluator {
            Evaluator::XGBoost(m) => Self {
                evaluator: Evaluator::XGBoost(m.with_simd(walk)),
            },
            _ => self,
        }
    }

    /// Per-feature contributions to each row's raw margin (XGBoost's
    /// `pred_contribs`, SHAP values): for each row, one value per feature and
    /// then the bias, `num_features() + 1` values, row-major. Each row's
    /// values add up to its raw margin.
    pub fn contributions(&self, rows: &[f64]) -> Result<Vec<f64>, ScoreError> {
        let n = self.row_count(rows)?;
        let width = self.num_features();
        let mut out = vec![0.0; n * (width + 1)];
        match &self.evaluator {
            Evaluator::XGBoost(m) if m.has_covers() => {
                for (row, phi) in rows.chunks(width).zip(out.chunks_mut(width + 1)) {
                    m.contributions_into(row, phi);
                }
                Ok(out)
            }
            Evaluator::XGBoost(_) => Err(ScoreError::NoContributions(
                "the model file has no sum_hessian (node covers); save it with XGBoost's save_model".into(),
            )),
            Evaluator::LightGbm(m) if m.has_counts() => {
                for (row, phi) in rows.chunks(width).zip(out.chunks_mut(width + 1)) {
                    m.contributions_into(row, phi);
                }
                Ok(out)
            }
            Evaluator::LightGbm(_) => Err(ScoreError::NoContributions(
                "the model file has no internal_count/leaf_count; save it with LightGBM's save_model".into(),
            )),
            Evaluator::Linear(m) => {
                for (r, (row, phi)) in rows.chunks(width).zip(out.chunks_mut(width + 1)).enumerate() {
                    m.contributions_into(r, row, phi)?;
                }
                Ok(out)
            }
            Evaluator::Onnx(_) => Err(ScoreError::NoContributions(
                "an ONNX model carries no node covers (the training counts TreeSHAP needs) nor a margin to explain; for contributions, score the model's XGBoost JSON or LightGBM text, which carry them".into(),
            )),
        }
    }

    fn raw_into(&self, rows: &[f64], out: &mut [f64]) -> Result<(), ScoreError> {
        let n = self.row_count(rows)?;
        if out.len() != n {
            return Err(ScoreError::OutputLength {
                rows: n,
                got: out.len(),
            });
        }
        match &self.evaluator {
            Evaluator::XGBoost(m) => m.raw_into(rows, out),
            Evaluator::LightGbm(m) => m.raw_into(rows, out),
            Evaluator::Linear(m) => m.raw_into(rows, out)?,
            Evaluator::Onnx(m) => m.score_into(rows, out)?,
        }
        Ok(())
    }

    fn row_count(&self, rows: &[f64]) -> Result<usize, ScoreError> {
        let features = self.num_features();
        if features == 0 {
            return Ok(0);
        }
        if !rows.len().is_multiple_of(features) {
            return Err(ScoreError::Shape {
                values: rows.len(),
                features,
            });
        }
        Ok(rows.len() / features)
    }
}

/// One more than the number of features a model may have; the flattened
/// forests pack feature indices into 28 bits beside their flags.
pub(crate) const MAX_FEATURES: usize = 1 << 28;

/// The feature count a model file declares (`max_feature_idx + 1`,
/// `num_feature`, an ONNX model's input widths), checked against
/// [`MAX_FEATURES`] before anything is sized by it: the count as a `usize`,
/// or the [`ModelError::Unsupported`] that refuses the model. A parser calls
/// this on a declared count before it allocates one entry per feature, since
/// a failed allocation aborts the process. (A count of 0 is accepted here and
/// refused by [`Schema::validate`].)
pub(crate) fn declared_features(format: Format, declared: u64) -> Result<usize, ModelError> {
    usize::try_from(declared)
        .ok()
        .filter(|&n| n < MAX_FEATURES)
        .ok_or_else(|| too_many_features(format, declared))
}

fn too_many_features(format: Format, n: u64) -> ModelError {
    ModelError::unsupported(
        format,
        format!("{n} features (at most {} are supported)", MAX_FEATURES - 1),
    )
}

/// The input side of a model: how many features, their names and kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schema {
    /// One per feature, or `None` when the file names no features.
    pub(crate) names: Option<Vec<String>>,
    pub(crate) kinds: Vec<FeatureKind>,
}

impl Schema {
    /// Checks that there are 1 to `MAX_FEATURES - 1` features and that the
    /// names, when present, are one per feature and distinct. A parser checks
    /// a declared count with [`declared_features`] before it sizes `kinds`.
    pub(crate) fn validate(&self, format: Format) -> Result<(), ModelError> {
        if self.kinds.is_empty() {
            return Err(ModelError::invalid(format, "the model has no features"));
        }
        if self.kinds.len() >= MAX_FEATURES {
            return Err(too_many_features(format, self.kinds.len() as u64));
        }
        if let Some(names) = &self.names {
            if names.len() != self.kinds.len() {
                return Err(ModelError::invalid(
                    format,
                    format!(
                        "{} feature names for {} features",
                        names.len(),
                        self.kinds.len()
                    ),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
                return Err(ModelError::invalid(
                    format,
                    format!("feature name '{dup}' appears twice"),
                ));
            }
        }
        Ok(())
    }
}
