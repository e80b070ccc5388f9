//! ONNX trees flattened for the lane walk (see `crate::lanes`): a split's
//! mode and missing-value rule packed beside its feature, a leaf its own
//! successor.

use super::Node;
use crate::lanes::{self, FlatNode};

/// The precision leaf weights are summed in.
pub(crate) trait Weight:
    Copy + std::ops::AddAssign + std::ops::Div<Output = Self> + PartialEq + std::fmt::Debug
{
    const ZERO: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Weight for f32 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Weight for f64 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

const FEATURE_MASK: u32 = (1 << 28) - 1;
const MODE_SHIFT: u32 = 28;
const MISSING_TRUE: u32 = 1 << 31;

/// A flattened node: a split's threshold or a leaf's weight; a leaf is its
/// own successor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OnnxNode<L> {
    value: f64,
    /// The feature in the low 28 bits, the mode in bits 28-30, bit 31 set
    /// when NaN takes the true branch.
    feature: u32,
    when_true: u32,
    when_false: u32,
    leaf: L,
}

pub(super) fn flatten<L: Weight>(trees: &[Vec<Node>]) -> lanes::Forest<OnnxNode<L>> {
    let total = trees.iter().map(Vec::len).sum();
    let mut forest = lanes::Forest::with_capacity(total, trees.len());
    for tree in trees {
        forest.start_tree(&[]);
        let base = forest.next_index();
        for (i, node) in tree.iter().enumerate() {
            let own = base + i as u32;
            forest.push(
                match node {
                    Node::Split {
                        mode,
                        feature,
                        threshold,
                        missing_tracks_true,
                        when_true,
                        when_false,
                    } => OnnxNode {
                        value: *threshold,
                        feature: feature
                            | (*mode as u32) << MODE_SHIFT
                            | if *missing_tracks_true {
                                MISSING_TRUE
                            } else {
                                0
                            },
                        when_true: base + when_true,
                        when_false: base + when_false,
                        leaf: L::ZERO,
                    },
                    Node::Leaf { weights } => OnnxNode {
                        value: 0.0,
                        feature: 0,
                        when_true: own,
                        when_false: own,
                        leaf: L::from_f64(weights.first().copied().unwrap_or(0.0)),
                    },
                },
                None,
            );
        }
        let depth = lanes::depth(|i| match tree.get(i) {
            Some(Node::Split {
                when_true,
                when_false,
                ..
            }) => Some([*when_true as usize, *when_false as usize]),
            _ => None,
        });
        forest.finish_tree(base, depth);
    }
    forest
}

impl<L: Weight> FlatNode for OnnxNode<L> {
    type Leaf = L;
    type Input = f64;

    #[inline(always)]
    fn step<const CATEGORICAL: bool>(
        self,
        _forest: &lanes::Forest<Self>,
        _index: u32,
        rows: &[f64],
        row: usize,
    ) -> u32 {
        let x = rows[row + (self.feature & FEATURE_MASK) as usize];
        let t = self.value;
        // Every comparison at once, then the node's picked out by its mode
        // (bit k is mode k): no branch for the walk to mispredict.
        let (le, lt, eq) = ((x <= t) as u32, (x < t) as u32, (x == t) as u32);
        let (ge, gt) = ((x >= t) as u32, (x > t) as u32);
        let results = le | lt << 1 | ge << 2 | gt << 3 | eq << 4 | ((x != t) as u32) << 5;
        let hit = (results >> ((self.feature >> MODE_SHIFT) & 7)) & 1;
        let go_true = hit | ((x.is_nan() as u32) & (self.feature >> 31));
        let mask = go_true.wrapping_neg();
        self.when_false ^ ((self.when_true ^ self.when_false) & mask)
    }

    fn leaf(self) -> L {
        self.leaf
    }
}
