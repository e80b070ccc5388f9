//! A model's trees as a GPU walks them (`edgescore-gpu`): plain 32-bit
//! words, uploaded once.
//!
//! The walk compares a feature with a threshold as unsigned integers of
//! their *order keys* ([`order_key`]), never as floats: a shader compiler
//! may assume no NaN or infinity in float comparisons, and integer
//! comparisons leave it nothing to assume. The keys order floats exactly as
//! `<` does (`-0.0` and `0.0` share a key), so the walk takes XGBoost's
//! branches bit for bit; a missing value (any NaN) is recognised from its
//! bits and follows the node's default. Leaves are added in `f32`, in model
//! order, starting at the base margin, as XGBoost adds them.

/// Trees flattened for the GPU walk.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuForest {
    /// One node per entry: `[threshold key, feature | flags, left, leaf bits]`.
    /// A split's children are `left` and `left + 1`; a leaf's `left` is one
    /// below its own index (wrapping at 0), which is how the walk knows it.
    pub nodes: Vec<[u32; 4]>,
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
