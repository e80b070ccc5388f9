//! XGBoost `gbtree` models, evaluated the way XGBoost's CPU predictor does.
//!
//! The rules that make re-implementations drift, each kept here:
//! - each input value is cast to float32 first (`1e300` becomes `+inf`);
//! - a split goes left when `x < split_condition`, strictly, in float32;
//! - a missing value (NaN) follows `default_left`;
//! - a categorical split sends a category *in* its set to the right, and a
//!   negative code or one past the set's bitset to the left;
//! - the prediction starts at the base margin (`base_score` mapped through the
//!   objective's `ProbToMargin`, in float32) and adds the trees one by one in
//!   float32, in model order;
//! - the link function is XGBoost's float32 sigmoid.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod complete;
mod contributions;
mod forest;
mod json;

use crate::category_set::CategorySet;
use crate::link;
use crate::model::Schema;
use crate::{Format, ModelError, OutputKind};

use crate::lanes::ROW_LANES;
use complete::CompleteForest;
use forest::Forest;

/// Up to this many feature values (a row of 256 features, or 64 rows of 4)
/// are cast to `f32` on the stack rather than in a heap buffer.
const STACK_VALUES: usize = 256;

/// `row` as XGBoost reads it: each value cast to the nearest `f32`.
fn narrow(row: &[f64]) -> Vec<f32> {
    row.iter().map(|&x| x as f32).collect()
}

/// The XGBoost objectives edgescore scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Objective {
    BinaryLogistic,
    RegLogistic,
    BinaryLogitRaw,
    RegSquaredError,
}

impl Objective {
    pub(crate) const ALL: [Objective; 4] = [
        Objective::BinaryLogistic,
        Objective::RegLogistic,
        Objective::BinaryLogitRaw,
        Objective::RegSquaredError,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Objective::BinaryLogistic => "binary:logistic",
            Objective::RegLogistic => "reg:logistic",
            Objective::BinaryLogitRaw => "binary:logitraw",
            Objective::RegSquaredError => "reg:squarederror",
        }
    }

    /// Reads an objective name; `reg:linear` is XGBoost's old name for `reg:squarederror`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "reg:linear" => Some(Objective::RegSquaredError),
            _ => Self::ALL.into_iter().find(|o| o.name() == name),
        }
    }

    /// Whether `base_score` is a probability, mapped to a margin by the logit.
    fn base_score_is_probability(self) -> bool {
        matches!(self, Objective::BinaryLogistic | Objective::RegLogistic)
    }

    /// XGBoost's `ProbToMargin`: `base_score` is stored in response space.
    /// For `binary:logitraw` the response space *is* the margin (identity
    /// since XGBoost 2; 1.x files are refused when parsed).
    fn base_margin(self, base_score: f32) -> f32 {
        if self.base_score_is_probability() {
            link::xgboost_logit(base_score)
        } else {
            base_score
        }
    }
}

/// One node of an XGBoost tree. Child indices point into the same tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Node {
    Leaf {
        value: f32,
    },
    Numeric {
        feature: u32,
        threshold: f32,
        left: u32,
        right: u32,
        default_left: bool,
    },
    Categorical {
        feature: u32,
        /// Index into the tree's `category_sets`.
        set: u32,
        left: u32,
        right: u32,
        default_left: bool,
    },
}

/// One regression tree. Node 0 is the root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) category_sets: Vec<CategorySet>,
    /// Each node's cover (`sum_hessian`), or empty when the file has none.
    pub(crate) covers: Vec<f32>,
}

impl Tree {
    /// Node `i`'s children (left, right), or `None` for a leaf.
    pub(crate) fn children(&self, i: usize) -> Option<[usize; 2]> {
        match self.nodes[i] {
            Node::Leaf { .. } => None,
            Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                Some([left as usize, right as usize])
            }
        }
    }

    /// Levels from the root to the deepest leaf (0 for a lone leaf).
    pub(crate) fn depth(&self) -> u32 {
        crate::lanes::depth(|i| self.children(i))
    }

    fn validate(&self, num_features: usize) -> Result<(), String> {
        crate::tree_check::check_is_tree(self.nodes.len(), |i| self.children(i))?;
        if !self.covers.is_empty() && self.covers.len() != self.nodes.len() {
            return Err(format!(
                "sum_hessian has {} entries for {} nodes",
                self.covers.len(),
                self.nodes.len()
            ));
        }
        if let Some(i) = self
            .covers
            .iter()
            .position(|c| !(c.is_finite() && *c >= 0.0))
        {
            return Err(format!("node {i} has the cover {}", self.covers[i]));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            match *node {
                Node::Leaf { value } if !value.is_finite() => {
                    return Err(format!("leaf {i} has the non-finite value {value}"));
                }
                Node::Numeric {
                    feature, threshold, ..
                } => {
                    check_feature(i, feature, num_features)?;
                    if threshold.is_nan() {
                        return Err(format!("split {i} has a NaN threshold"));
                    }
                }
                Node::Categorical { feature, set, .. } => {
                    check_feature(i, feature, num_features)?;
                    if set as usize >= self.category_sets.len() {
                        return Err(format!("split {i} refers to a missing category set {set}"));
                    }
                }
                Node::Leaf { .. } => {}
            }
        }
        Ok(())
    }
}

fn check_feature(node: usize, feature: u32, num_features: usize) -> Result<(), String> {
    if feature as usize >= num_features {
        return Err(format!(
            "split {node} uses feature {feature} but the model has {num_features} features"
        ));
    }
    Ok(())
}

/// A SIMD walk of XGBoost trees, chosen at run time from what the CPU
/// runs. Each gives the portable walk's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdWalk {
    /// 16 lanes (batches of rows, or a single row's trees).
    Avx512,
    /// 8 lanes (batches of rows, or a single row's trees).
    Avx2,
}

impl SimdWalk {
    /// The instruction set's name, as `edgescore bench` reports it.
    pub fn name(self) -> &'static str {
        match self {
            SimdWalk::Avx512 => "avx512",
            SimdWalk::Avx2 => "avx2",
        }
    }

    /// The walks this CPU runs, fastest first (none off x86-64, and none
    /// inside a component, where the layout would cost memory for nothing).
    pub fn available() -> Vec<SimdWalk> {
        #[cfg(target_arch = "x86_64")]
        {
            [
                (SimdWalk::Avx512, avx512::available()),
                (SimdWalk::Avx2, avx2::available()),
            ]
            .into_iter()
            .filter_map(|(walk, runs)| runs.then_some(walk))
            .collect()
        }
        #[cfg(not(target_arch = "x86_64"))]
        Vec::new()
    }
}

/// A parsed XGBoost model. Two are equal when their parts are (the
/// evaluation layouts, derived from the trees, are not compared: a model
/// without its SIMD layout is the same model).
#[derive(Debug, Clone)]
pub(crate) struct XGBoostModel {
    pub(crate) schema: Schema,
    pub(crate) objective: Objective,
    /// `base_score` as stored in the file, in response space.
    pub(crate) base_score: f32,
    /// `base_score` mapped into margin space; every prediction starts here.
    pub(crate) base_margin: f32,
    pub(crate) trees: Vec<Tree>,
    /// The same trees laid out for evaluation; derived from `trees`.
    forest: Forest,
    /// The same trees laid out complete for the SIMD walk, when they fit
    /// it and the CPU runs one; derived from `trees`.
    complete: Option<CompleteForest>,
    /// The SIMD walk batches take (with `complete`).
    walk: Option<SimdWalk>,
}

impl PartialEq for XGBoostModel {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
            && self.objective == other.objective
            && self.base_score.to_bits() == other.base_score.to_bits()
            && self.base_margin.to_bits() == other.base_margin.to_bits()
            && self.trees == other.trees
    }
}

impl XGBoostModel {
    /// Builds a model from its parts, deriving the base margin and checking every tree.
    pub(crate) fn new(
        schema: Schema,
        objective: Objective,
        base_score: f32,
        trees: Vec<Tree>,
    ) -> Result<Self, ModelError> {
        let format = Format::XGBoostJson;
        schema.validate(format)?;
        if !base_score.is_finite() {
            return Err(ModelError::invalid(
                format,
                format!("base_score {base_score} is not finite"),
            ));
        }
        if objective.base_score_is_probability() && !(base_score > 0.0 && base_score < 1.0) {
            return Err(ModelError::invalid(
                format,
                format!(
                    "base_score {base_score} must be in (0, 1) for {}",
                    objective.name()
                ),
            ));
        }
        for (t, tree) in trees.iter().enumerate() {
            tree.validate(schema.kinds.len())
                .map_err(|reason| ModelError::invalid(format, format!("tree {t}: {reason}")))?;
        }
        Ok(Self {
            forest: forest::flatten(&trees),
            complete: SimdWalk::available()
                .first()
                .and_then(|_| CompleteForest::new(&trees)),
            walk: SimdWalk::available().first().copied(),
            base_margin: objective.base_margin(base_score),
            schema,
            objective,
            base_score,
            trees,
        })
    }

    pub(crate) fn output_kind(&self) -> OutputKind {
        match self.objective {
            Objective::BinaryLogistic | Objective::RegLogistic => OutputKind::Probability,
            Objective::BinaryLogitRaw => OutputKind::Margin,
            Objective::RegSquaredError => OutputKind::Regression,
        }
    }

    pub(crate) fn objective_name(&self) -> &str {
        self.objective.name()
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
    pub(crate) fn split_thresholds(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter_map(|n| match *n {
                Node::Numeric {
                    feature, threshold, ..
                } => Some((feature as usize, threshold)),
                _ => None,
            })
    }

    /// Margins for `rows` (row-major, `out.len()` rows), summed in float32.
    /// Each value is first cast to `f32`, as XGBoost casts its input (so
    /// `1e300` is `+inf`), one block of rows at a time.
    pub(crate) fn raw_into(&self, rows: &[f64], out: &mut [f64]) {
        let width = self.schema.kinds.len();
        let block_values = width * ROW_LANES.min(out.len());
        let mut stack = [0.0_f32; STACK_VALUES];
        let mut heap = Vec::new();
        let narrowed: &mut [f32] = if block_values <= STACK_VALUES {
            &mut stack[..block_values]
        } else {
            heap.resize(block_values, 0.0);
            &mut heap
        };
        let mut acc = [0.0_f32; ROW_LANES];
        for (block, out_block) in rows
            .chunks(width * ROW_LANES)
            .zip(out.chunks_mut(ROW_LANES))
        {
            let narrowed = &mut narrowed[..block.len()];
            for (n, &x) in narrowed.iter_mut().zip(block) {
                *n = x as f32;
            }
            let acc = &mut acc[..out_block.len()];
            acc.fill(self.base_margin);
            if !self.accumulate_simd(narrowed, width, acc) {
                self.forest.accumulate(narrowed, width, acc);
            }
            for (o, a) in out_block.iter_mut().zip(acc.iter()) {
                *o = f64::from(*a);
            }
        }
    }

    /// The SIMD walk of a block, when the CPU and the forest allow it; false
    /// (nothing added) otherwise.
    fn accumulate_simd(&self, rows: &[f32], width: usize, acc: &mut [f32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(complete) = &self.complete {
            return match self.walk {
                Some(SimdWalk::Avx512) if acc.len() >= 16 => {
                    avx512::accumulate(complete, rows, width, acc)
                }
                Some(SimdWalk::Avx512) => avx512::accumulate_by_trees(complete, rows, width, acc),
                Some(SimdWalk::Avx2) if acc.len() >= 8 => {
                    avx2::accumulate(complete, rows, width, acc)
                }
                Some(SimdWalk::Avx2) => avx2::accumulate_by_trees(complete, rows, width, acc),
                None => false,
            };
        }
        let _ = (rows, width, acc);
        false
    }

    /// The SIMD walk batches take on this CPU, or `None` for the portable walk.
    pub(crate) fn simd(&self) -> Option<SimdWalk> {
        self.complete.as_ref().and(self.walk)
    }

    /// The model scoring with `walk` (`None`: the portable walk only, the
    /// SIMD walks' reference in tests). A walk this CPU does not run, or
    /// trees that do not fit the layout, leave the portable walk.
    pub(crate) fn with_simd(mut self, walk: Option<SimdWalk>) -> Self {
        self.walk = walk.filter(|w| SimdWalk::available().contains(w));
        if self.walk.is_none() {
            self.complete = None;
        } else if self.complete.is_none() {
            self.complete = CompleteForest::new(&self.trees);
        }
        self
    }

    /// The objective's prediction transform, applied to a margin from [`Self::raw_into`].
    pub(crate) fn transform(&self, margin: f64) -> f64 {
        match self.objective {
            Objective::BinaryLogistic | Objective::RegLogistic => {
                f64::from(link::xgboost_sigmoid(margin as f32))
            }
            Objective::BinaryLogitRaw | Objective::RegSquaredError => margin,
        }
    }

    /// The trees as the GPU walk reads them, or why they cannot be.
    pub(crate) fn gpu_forest(&self) -> Result<crate::gpu_forest::GpuForest, String> {
        let mut category_words = Vec::new();
        let nodes = self
            .forest
            .nodes()
            .iter()
            .zip(0u32..)
            .map(|(n, index)| n.gpu_words(&self.forest, index, &mut category_words))
            .collect();
        Ok(crate::gpu_forest::GpuForest {
            nodes,
            category_words,
            roots: self.forest.roots().to_vec(),
            base_margin: self.base_margin,
            num_features: self.schema.kinds.len(),
        })
    }

    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        json::parse(bytes)
    }
}
