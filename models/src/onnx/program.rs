//! An imported ONNX graph as a straight-line program over per-row vectors.
//!
//! Every value of the graph is a *slot*: for each row, `width` numbers of
//! one element type. A block of rows runs instruction by instruction, each
//! over every row of the block, so a tree ensemble walks many rows at once
//! (see `crate::lanes`). Values are carried as `f64`; a `float` value holds
//! only float32 numbers, because every instruction on one rounds each
//! elementary result to float32 (for `+ - * /` and `sqrt` on float32
//! operands this is exactly float32 arithmetic).

use super::ensemble::Ensemble;

/// Where a value lives: an index into the program's slots.
pub(crate) type SlotId = u32;

/// The element type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    F64,
    /// Integers (labels, indices), carried exactly in `f64`.
    I64,
}

impl Elem {
    /// `v` as this type holds it: rounded to float32, or truncated toward
    /// zero for integers (ONNX `Cast` from float to int).
    #[inline(always)]
    pub(crate) fn round(self, v: f64) -> f64 {
        match self {
            Elem::F32 => f64::from(v as f32),
            Elem::F64 => v,
            // As onnxruntime's cast on x86-64 (cvttsd2si): NaN and values
            // outside the int64 range become INT64_MIN.
            Elem::I64
                if v.is_nan()
                    || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) =>
            {
                -9.223_372_036_854_776e18
            }
            Elem::I64 => v.trunc(),
        }
    }
}

/// One value of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) width: u32,
    pub(crate) elem: Elem,
}

/// `Normalizer`'s norms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    Max,
    L1,
    L2,
}

/// A transform applied to a whole output vector (`post_transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// An element-wise function of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Abs,
    Neg,
    Exp,
    Sqrt,
}

/// An element-wise function of two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// One step of the program. `x` are inputs, `y` the output slot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Instr {
    /// `y = (x - offset) * scale`, each a single value or one per column.
    Scaler {
        x: SlotId,
        y: SlotId,
        offset: Vec<f64>,
        scale: Vec<f64>,
    },
    Normalizer {
        x: SlotId,
        y: SlotId,
        norm: Norm,
    },
    /// Replaces `replaced` by the column's value; `None` replaces NaN.
    Imputer {
        x: SlotId,
        y: SlotId,
        values: Vec<f64>,
        replaced: Option<f64>,
    },
    /// `y = x > threshold ? 1 : 0`.
    Binarizer {
        x: SlotId,
        y: SlotId,
        threshold: f64,
    },
    /// Converts to `y`'s element type.
    Cast {
        x: SlotId,
        y: SlotId,
    },
    /// Columns of each input side by side.
    Concat {
        xs: Vec<SlotId>,
        y: SlotId,
    },
    /// Picks columns of `x` (`ArrayFeatureExtractor`, `Gather` on axis 1).
    Columns {
        x: SlotId,
        y: SlotId,
        columns: Vec<u32>,
    },
    /// One 0/1 column per category; `x` has one column. A value in no
    /// category is all zeros, or with `refuse_unknown` (`zeros = 0`, as
    /// scikit-learn's `handle_unknown='error'` converts) refuses the row.
    OneHot {
        x: SlotId,
        y: SlotId,
        categories: Vec<f64>,
        refuse_unknown: bool,
    },
    /// `y[t] = intercepts[t] + sum_f x[f] * coefficients[t * F + f]`, then
    /// the post-transform; with `binary` a single score `s` becomes the two
    /// columns `[-s, s]` before it (LinearClassifier with one coefficient row).
    Linear {
        x: SlotId,
        y: SlotId,
        coefficients: Vec<f64>,
        intercepts: Vec<f64>,
        post: PostTransform,
        binary: bool,
    },
    /// `y = alpha * x . B + beta * C` with `B` given as `[inputs, outputs]`
    /// (MatMul, Gemm) and `C` one value per output column (or empty).
    Dense {
        x: SlotId,
        y: SlotId,
        weights: Vec<f64>,
        bias: Vec<f64>,
    },
    Unary {
        x: SlotId,
        y: SlotId,
        op: Unary,
    },
    /// `y = a op b`, where `b` is a slot or, when `constant` is not empty,
    /// a constant row (one value, or one per column).
    Binary {
        a: SlotId,
        b: Option<SlotId>,
        constant: Vec<f64>,
        y: SlotId,
        op: Binary,
    },
    /// Softmax over each row's columns.
    Softmax {
        x: SlotId,
        y: SlotId,
    },
    /// `y = x >= 0 ? x : alpha * x` (`LeakyRelu`).
    LeakyRelu {
        x: SlotId,
        y: SlotId,
        alpha: f64,
    },
    Ensemble(Box<Ensemble>),
}

impl Instr {
    /// The slot the instruction writes.
    pub(crate) fn output(&self) -> SlotId {
        match self {
            Instr::Scaler { y, .. }
            | Instr::Normalizer { y, .. }
            | Instr::Imputer { y, .. }
            | Instr::Binarizer { y, .. }
            | Instr::Cast { y, .. }
            | Instr::Concat { y, .. }
            | Instr::Columns { y, .. }
            | Instr::OneHot { y, .. }
            | Instr::Linear { y, .. }
            | Instr::Dense { y, .. }
            | Instr::Unary { y, .. }
            | Instr::Binary { y, .. }
            | Instr::Softmax { y, .. }
            | Instr::LeakyRelu { y, .. } => *y,
            Instr::Ensemble(e) => e.y,
        }
    }

    /// The slots the instruction reads.
    pub(crate) fn inputs(&self) -> Vec<SlotId> {
        match self {
            Instr::Scaler { x, .. }
            | Instr::Normalizer { x, .. }
            | Instr::Imputer { x, .. }
            | Instr::Binarizer { x, .. }
            | Instr::Cast { x, .. }
            | Instr::Columns { x, .. }
            | Instr::OneHot { x, .. }
            | Instr::Linear { x, .. }
            | Instr::Dense { x, .. }
            | Instr::Unary { x, .. }
            | Instr::Softmax { x, .. }
            | Instr::LeakyRelu { x, .. } => vec![*x],
            Instr::Concat { xs, .. } => xs.clone(),
            Instr::Binary { a, b, .. } => std::iter::once(*a).chain(*b).collect(),
            Instr::Ensemble(e) => vec![e.x],
        }
    }
}
