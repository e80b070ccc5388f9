//! How a value falls into a distribution's bins. Both sides of a
//! comparison (the reference profile and the live window) bin through the
//! same [`Bins`], so their counts line up slot for slot.
//!
//! A numeric feature's slots are: `below` (under the reference's minimum),
//! one per reference-quantile bin, `above` (over its maximum), `missing`.
//! A bin `i` holds `edges[i] <= x < edges[i + 1]`, the last one its upper
//! edge too (`x <= max`): numpy's `searchsorted(edges[1:-1], x,
//! side="right")` inside the range.
//!
//! A categorical feature's slots are: one per reference category (its
//! value, as the transform emits it), `other` (a value the reference never
//! had), `missing`.

use serde::{Deserialize, Serialize};

/// The bins of one distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Bins {
    /// Reference-quantile bins: `edges` ascending, distinct, at least one
    /// (the minimum and the maximum of the reference, and the quantiles
    /// between them that differ).
    Numeric { edges: Vec<f64> },
    /// The reference's categories, ascending.
    Categorical { categories: Vec<f64> },
}

impl Bins {
    /// How many slots a distribution over these bins has.
    pub fn slots(&self) -> usize {
        match self {
            Self::Numeric { edges } => inner_bins(edges) + 3,
            Self::Categorical { categories } => categories.len() + 2,
        }
    }

    /// The slot of `x` (NaN is missing).
    pub fn slot(&self, x: f64) -> usize {
        let slots = self.slots();
        if x.is_nan() {
            return slots - 1;
        }
        match self {
            Self::Numeric { edges } => {
                let (Some(&min), Some(&max)) = (edges.first(), edges.last()) else {
                    return slots - 1;
                };
                if x < min {
                    0
                } else if x > max {
                    slots - 2
                } else {
                    let inner = &edges[1..edges.len().saturating_sub(1).max(1)];
                    1 + inner.partition_point(|&e| e <= x)
                }
            }
            Self::Categorical { categories } => categories
                .binary_search_by(|c| c.total_cmp(&x))
                .unwrap_or(slots - 2),
        }
    }

    /// A label per slot, as reports and plots name them.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = Vec::with_capacity(self.slots());
        match self {
            Self::Numeric { edges } => {
                labels.push(format!("< {}", edges.first().copied().unwrap_or(f64::NAN)));
                if edges.len() == 1 {
                    labels.push(format!("= {}", edges[0]));
                }
                for (i, pair) in edges.windows(2).enumerate() {
                    let close = if i + 2 == edges.len() { ']' } else { ')' };
                    labels.push(format!("[{}, {}{close}", pair[0], pair[1]));
                }
                labels.push(format!("> {}", edges.last().copied().unwrap_or(f64::NAN)));
            }
            Self::Categorical { categories } => {
                labels.extend(categories.iter().map(|c| c.to_string()));
                labels.push("other".into());
            }
        }
        labels.push("missing".into());
        labels
    }
}

/// The number of bins between the minimum and the maximum (one where they
/// are equal).
fn inner_bins(edges: &[f64]) -> usize {
    edges.len().saturating_sub(1).max(1)
}

/// `q`-quantile of ascending `sorted` (no NaN), as numpy's default
/// (`method="linear"`) computes it, to the bit: the virtual index
/// `(n - 1) * q`, then numpy's `_lerp`, which for a fraction `t >= 0.5`
/// interpolates back from the upper value.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let index = (n - 1) as f64 * q;
    let below = index.floor();
    let t = index - below;
    let lo = (below as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Reference-quantile edges of `sorted` (ascending, no NaN) for `bins`
/// bins: the minimum, the `i / bins` quantiles, the maximum, with equal
/// neighbours merged (a value repeated over several quantiles makes one
/// bin). `None` for no values.
pub fn quantile_edges(sorted: &[f64], bins: usize) -> Option<Vec<f64>> {
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let mut edges = vec![min];
    for i in 1..bins {
        edges.push(quantile(sorted, i as f64 / bins as f64));
    }
    edges.push(max);
    edges.dedup();
    Some(edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_slots_are_below_bins_above_missing() {
        let bins = Bins::Numeric {
            edges: vec![0.0, 1.0, 2.0],
        };
        assert_eq!(bins.slots(), 5);
        let slots: Vec<usize> = [-1.0, 0.0, 0.5, 1.0, 2.0, 2.5, f64::NAN]
            .iter()
            .map(|&x| bins.slot(x))
            .collect();
        assert_eq!(slots, [0, 1, 1, 2, 2, 3, 4]);
        assert_eq!(bins.labels().len(), bins.slots());
    }

    #[test]
    fn one_edge_is_one_bin_of_that_value() {
        let bins = Bins::Numeric { edges: vec![3.0] };
        assert_eq!(bins.slots(), 4);
        let slots: Vec<usize> = [2.0, 3.0, 4.0, f64::NAN]
            .iter()
            .map(|&x| bins.slot(x))
            .collect();
        assert_eq!(slots, [0, 1, 2, 3]);
        assert_eq!(bins.labels().len(), 4);
    }

    #[test]
    fn categories_other_and_missing() {
        let bins = Bins::Categorical {
            categories: vec![0.0, 1.0],
        };
        let slots: Vec<usize> = [0.0, 1.0, 7.0, f64::NAN]
            .iter()
            .map(|&x| bins.slot(x))
            .collect();
        assert_eq!(slots, [0, 1, 2, 3]);
        assert_eq!(bins.labels(), ["0", "1", "other", "missing"]);
    }

    #[test]
    fn repeated_values_merge_edges() {
        let sorted = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0];
        assert_eq!(quantile_edges(&sorted, 4), Some(vec![0.0, 0.75, 3.0]));
        assert_eq!(quantile_edges(&[], 4), None);
    }
}
