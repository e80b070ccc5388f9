//! A model's trees as a GPU walks them (`edgescore-gpu`): plain 32-bit
//! words, uploaded once.
//!
//! The walk compares a feature with a threshold as unsigned integers of
//! their *order keys* ([`order_key`], [`order_key64`]), never as floats: a
//! shader compiler may assume no NaN or infinity in float comparisons, and
//! integer comparisons leave it nothing to assume. The keys order floats
//! exactly as `<` does (`-0.0` and `0.0` share a key), so the walk takes
//! the library's branches bit for bit; a missing value (any NaN) is
//! recognised from its bits. Leaves are added in model order, in the
//! library's precision: XGBoost's in `f32` from the base margin
//! ([`GpuForest`]), LightGBM's in `f64` from zero ([`GpuForest64`], which
//! needs a device with 64-bit floats).

/// The trees of a model the GPU walks, in the precision its library uses.
#[derive(Debug, Clone, PartialEq)]
pub enum GpuTrees {
    /// XGBoost: `f32` features and sums.
    Float32(GpuForest),
    /// LightGBM: `f64` features and sums.
    Float64(GpuForest64),
}

impl GpuTrees {
    /// Values per row.
    pub fn num_features(&self) -> usize {
        match self {
            GpuTrees::Float32(f) => f.num_features,
            GpuTrees::Float64(f) => f.num_features,
        }
    }
}

/// XGBoost trees flattened for the GPU walk.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuForest {
    /// One node per entry: `[threshold key, feature | flags, left, leaf bits]`.
    /// A split's children are `left` and `left + 1`; a leaf's `left` is one
    /// below its own index (wrapping at 0), which is how the walk knows it.
    /// A categorical split (flag [`CATEGORICAL`]) has its set's first word
    /// in `category_words` and its length instead of the key and the leaf.
    pub nodes: Vec<[u32; 4]>,
    /// Every categorical split's bitset (bit `c % 32` of word `c / 32`),
    /// one after another.
    pub category_words: Vec<u32>,
    /// Each tree's root, in the order its leaves are added.
    pub roots: Vec<u32>,
    /// Where each row's sum starts.
    pub base_margin: f32,
    /// Values per row.
    pub num_features: usize,
}

/// The feature index bits of a node's second word.
pub const FEATURE_MASK: u32 = (1 << 28) - 1;
/// A node's second word: a missing value goes left.
pub const DEFAULT_LEFT: u32 = 1 << 31;

/// LightGBM trees flattened for the GPU walk (`walk64.wgsl`): LightGBM's
/// `NumericalDecision` in integers, leaves summed in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuForest64 {
    /// One node per entry: `[threshold key high, threshold key low,
    /// feature | flags, left, right, set's first word, set's length, 0]`
    /// (the set's words for a categorical split). A leaf's children are
    /// both itself.
    pub nodes: Vec<[u32; 8]>,
    /// Every categorical split's bitset, one after another.
    pub category_words: Vec<u32>,
    /// Each node's leaf value (0 for a split).
    pub leaves: Vec<f64>,
    /// Each tree's root, in the order its leaves are added.
    pub roots: Vec<u32>,
    /// Values per row.
    pub num_features: usize,
    /// `|x|` at most this is zero (LightGBM's `kZeroThreshold`).
    pub zero_threshold: f64,
}

/// A node's feature word: the split is categorical.
pub const CATEGORICAL: u32 = 1 << 30;

/// The longest category set the walks read (codes below 2^24, as
/// `crate::category_set::MAX_CATEGORY` bounds XGBoost's).
pub const MAX_SET_WORDS: u32 = 1 << 19;

/// Appends `set`'s words to `words`: where they start, and how many.
pub(crate) fn append_set(
    words: &mut Vec<u32>,
    set: &crate::category_set::CategorySet,
) -> (u32, u32) {
    let first = words.len() as u32;
    words.extend_from_slice(set.words());
    (first, set.words().len() as u32)
}

/// A LightGBM node's third word: NaN is missing.
pub const NAN_MISSING: u32 = 1 << 29;
/// A LightGBM node's third word: zero (and NaN, read as zero) is missing.
pub const ZERO_MISSING: u32 = 1 << 28;

/// [`order_key`] for `f64`: `a < b` exactly when `order_key64(a) <
/// order_key64(b)`, `-0.0` sharing `0.0`'s key.
pub fn order_key64(x: f64) -> u64 {
    let bits = if x == 0.0 { 0 } else { x.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// An unsigned key that orders non-NaN floats as `<` does: `a < b` exactly
/// when `order_key(a) < order_key(b)`, and `-0.0` has `0.0`'s key. (NaN
/// has a key too, but the walk never compares one.)
pub fn order_key(x: f32) -> u32 {
    let bits = if x == 0.0 { 0 } else { x.to_bits() };
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

#[cfg(test)]
mod tests {
    use super::order_key;

    #[test]
    fn order_keys_order_doubles_as_less_than_does() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -1e-35,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1e-35,
            0.1,
            1e300,
            f64::INFINITY,
        ];
        for &a in &values {
            for &b in &values {
                assert_eq!(
                    a < b,
                    super::order_key64(a) < super::order_key64(b),
                    "{a:e} < {b:e}"
                );
            }
        }
    }

    #[test]
    fn order_keys_order_floats_as_less_than_does() {
        let values = [
            f32::NEG_INFINITY,
            f32::MIN,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            0.1,
            1.0,
            f32::MAX,
            f32::INFINITY,
        ];
        for &a in &values {
            for &b in &values {
                assert_eq!(a < b, order_key(a) < order_key(b), "{a:e} < {b:e}");
            }
        }
    }
}
