//! LightGBM `gbdt` models, evaluated the way LightGBM's `Tree::Predict` does.
//!
//! The rules that make re-implementations drift, each kept here:
//! - a numeric split goes left when `x <= threshold`, in float64; thresholds
//!   are never narrowed to float32;
//! - an input with |x| <= 1e-35 reaches the trees as exactly 0.0: LightGBM's
//!   C API keeps only values above `kZeroThreshold` when it turns a dense row
//!   into (index, value) pairs, and absent features read as 0.0. A threshold
//!   of -1e-35 therefore sends -1e-35 to the right;
//! - `decision_type` bit 0 marks a categorical split, bit 1 default-left,
//!   bits 2-3 the missing type: `None` (NaN becomes 0.0, default-left is
//!   ignored), `Zero` (|x| <= 1e-35 is missing, NaN too) or `NaN`;
//! - a categorical split sends a category *in* its bitset to the left, and NaN
//!   or a negative code to the right;
//! - leaf values already include shrinkage; trees are summed in float64;
//! - the binary probability is `1 / (1 + exp(-sigmoid * raw))`.

mod contributions;
mod forest;
mod text;

use forest::Forest;

use crate::category_set::CategorySet;
use crate::lanes::ROW_LANES;
use crate::link;
use crate::model::Schema;
use crate::{Format, ModelError, OutputKind};

/// LightGBM's `kZeroThreshold`: a float literal `1e-35f`, compared in double.
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// The LightGBM objectives edgescore scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Objective {
    /// `binary sigmoid:<s>`.
    Binary { sigmoid: f64 },
    /// `regression` (L2): the raw score is the prediction.
    Regression,
}

/// What a numeric split does with a missing value (`decision_type` bits 2-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingType {
    /// No value is missing: NaN is read as 0.0 and compared with the threshold.
    None,
    /// Zero (|x| <= 1e-35) and NaN are missing and follow the default direction.
    Zero,
    /// NaN is missing and follows the default direction.
    NaN,
}

/// Where a split sends a row: another split or a leaf of the same tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Child {
    Split(u32),
    Leaf(u32),
}

/// One internal node of a LightGBM tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Split {
    Numeric {
        feature: u32,
        threshold: f64,
        missing: MissingType,
        default_left: bool,
        left: Child,
        right: Child,
    },
    Categorical {
        feature: u32,
        /// Index into the tree's `category_sets`.
        set: u32,
        left: Child,
        right: Child,
    },
}

/// One tree: split 0 is the root; a tree with a single leaf has no splits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub(crate) splits: Vec<Split>,
    pub(crate) leaves: Vec<f64>,
    pub(crate) category_sets: Vec<CategorySet>,
    /// Training rows that reached each split (`internal_count`) and each
    /// leaf (`leaf_count`), for contributions; empty when the file has none.
    pub(crate) split_counts: Vec<f64>,
    pub(crate) leaf_counts: Vec<f64>,
}

impl Tree {
    fn validate(&self, num_features: usize) -> Result<(), String> {
        let splits = self.splits.len();
        if self.leaves.len() != splits + 1 {
            return Err(format!(
                "{} leaves for {splits} splits (a binary tree has one more leaf than splits)",
                self.leaves.len()
            ));
        }
        if let Some(v) = self.leaves.iter().find(|v| !v.is_finite()) {
            return Err(format!("a leaf has the non-finite value {v}"));
        }
        let counted = !self.split_counts.is_empty() || !self.leaf_counts.is_empty();
        if counted
            && (self.split_counts.len() != splits || self.leaf_counts.len() != self.leaves.len())
        {
            return Err(format!(
                "{} internal counts and {} leaf counts for {splits} splits and {} leaves",
                self.split_counts.len(),
                self.leaf_counts.len(),
                self.leaves.len()
            ));
        }
        if let Some(c) = self
            .split_counts
            .iter()
            .chain(&self.leaf_counts)
            .find(|c| !(c.is_finite() && **c >= 0.0))
        {
            return Err(format!("a node has the count {c}"));
        }
        if splits == 0 {
            return Ok(());
        }
        // Splits and leaves share one index space for the check: leaf j is node splits + j.
        let flat = |c: Child| match c {
            Child::Split(i) => i as usize,
            Child::Leaf(j) => splits + j as usize,
        };
        let nodes = splits + self.leaves.len();
        let reached = crate::tree_check::check_is_tree(nodes, |i| {
            self.splits.get(i).map(|s| match *s {
                Split::Numeric { left, right, .. } | Split::Categorical { left, right, .. } => {
                    [flat(left), flat(right)]
                }
            })
        })?;
        // LightGBM never keeps a node off the tree, and flattening reads every
        // split's children, so an unreachable one is refused with the rest.
        if reached != nodes {
            return Err(format!(
                "{} of {nodes} nodes are not reachable from the root",
                nodes - reached
            ));
        }
        for (i, split) in self.splits.iter().enumerate() {
            let (feature, ok) = match *split {
                Split::Numeric {
                    feature, threshold, ..
                } => (feature, !threshold.is_nan()),
                Split::Categorical { feature, set, .. } => {
                    (feature, (set as usize) < self.category_sets.len())
                }
            };
            if feature as usize >= num_features {
                return Err(format!(
                    "split {i} uses feature {feature} but the model has {num_features} features"
                ));
            }
            if !ok {
                return Err(format!(
                    "split {i} has a NaN threshold or a missing category set"
                ));
            }
        }
        Ok(())
    }
}

/// A parsed LightGBM model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LightGbmModel {
    pub(crate) schema: Schema,
    pub(crate) objective: Objective,
    pub(crate) trees: Vec<Tree>,
    /// The same trees laid out for evaluation; derived from `trees`.
    forest: Forest,
}

impl LightGbmModel {
    /// Builds a model from its parts, checking every tree.
    pub(crate) fn new(
        schema: Schema,
        objective: Objective,
        trees: Vec<Tree>,
    ) -> Result<Self, ModelError> {
        let format = Format::LightGbmText;
        schema.validate(format)?;
        if let Objective::Binary { sigmoid } = objective
            && !(sigmoid.is_finite() && sigmoid > 0.0)
        {
            return Err(ModelError::invalid(
                format,
                format!("sigmoid {sigmoid} must be positive"),
            ));
        }
        for (t, tree) in trees.iter().enumerate() {
            tree.validate(schema.kinds.len())
                .map_err(|reason| ModelError::invalid(format, format!("tree {t}: {reason}")))?;
        }
        Ok(Self {
            forest: forest::flatten(&trees),
            schema,
            objective,
            trees,
        })
    }

    pub(crate) fn output_kind(&self) -> OutputKind {
        match self.objective {
            Objective::Binary { .. } => OutputKind::Probability,
            Objective::Regression => OutputKind::Regression,
        }
    }

    pub(crate) fn objective_name(&self) -> &str {
        match self.objective {
            Objective::Binary { .. } => "binary",
            Objective::Regression => "regression",
        }
    }

    pub(crate) fn num_trees(&self) -> usize {
        self.trees.len()
    }

    /// The levels walked to score one row (see `Model::steps_per_row`).
    pub(crate) fn steps_per_row(&self) -> u64 {
        self.forest.steps_per_row()
    }

    /// TreeSHAP's work for one row (see `Model::contribution_steps_per_row`).
    pub(crate) fn contribution_steps_per_row(&self) -> u64 {
        self.forest.contribution_steps_per_row()
    }

    /// Every numeric split as (feature, threshold).
    pub(crate) fn split_thresholds(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.trees
            .iter()
            .flat_map(|t| &t.splits)
            .filter_map(|s| match *s {
                Split::Numeric {
                    feature, threshold, ..
                } => Some((feature as usize, threshold)),
                Split::Categorical { .. } => None,
            })
    }

    /// Raw scores for `rows`, each the float64 sum of its leaves in tree order.
    pub(crate) fn raw_into(&self, rows: &[f64], out: &mut [f64]) {
        let width = self.schema.kinds.len();
        for (block, out_block) in rows
            .chunks(width * ROW_LANES)
            .zip(out.chunks_mut(ROW_LANES))
        {
            out_block.fill(0.0);
            self.forest.accumulate(block, width, out_block);
        }
    }

    /// The objective's `ConvertOutput`, applied to a raw score.
    pub(crate) fn transform(&self, raw: f64) -> f64 {
        match self.objective {
            Objective::Binary { sigmoid } => link::lightgbm_sigmoid(sigmoid, raw),
            Objective::Regression => raw,
        }
    }

    /// The trees as the GPU walk reads them, or why they cannot be.
    pub(crate) fn gpu_forest(&self) -> Result<crate::gpu_forest::GpuForest64, String> {
        let mut category_words = Vec::new();
        let (nodes, leaves): (Vec<[u32; 8]>, Vec<f64>) = self
            .forest
            .nodes()
            .iter()
            .zip(0u32..)
            .map(|(n, own)| n.gpu_words(&self.forest, own, &mut category_words))
            .unzip();
        // The walk reads codes of 2^24 and above as outside every set.
        if nodes
            .iter()
            .any(|n| n[6] > crate::gpu_forest::MAX_SET_WORDS)
        {
            return Err(
                "a categorical split's bitset reaches past category 2^24, which the GPU walk does not read; score this model natively".into(),
            );
        }
        Ok(crate::gpu_forest::GpuForest64 {
            nodes,
            leaves,
            category_words,
            roots: self.forest.roots().to_vec(),
            num_features: self.schema.kinds.len(),
            zero_threshold: ZERO_THRESHOLD,
        })
    }

    pub(crate) fn from_text(bytes: &[u8]) -> Result<Self, ModelError> {
        text::parse(bytes)
    }
}
