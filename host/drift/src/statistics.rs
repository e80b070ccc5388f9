//! The drift statistics between a reference and a current distribution,
//! each given as counts per slot (the same [`crate::Bins`]).

/// The proportion an empty slot is given in [`psi`], so its log is finite:
/// 0.0001 (1 in 10,000), Evidently's convention. It bounds one empty
/// slot's share of PSI by about `p * ln(p / 0.0001)`.
pub const PSI_EPSILON: f64 = 1e-4;

/// Population stability index: `sum((c - r) * ln(c / r))` over slots, of
/// the proportions `r` (reference) and `c` (current), an empty slot's
/// proportion taken as [`PSI_EPSILON`] on either side. `None` when
/// either side has no values.
pub fn psi(reference: &[u64], current: &[u64]) -> Option<f64> {
    let (r_total, c_total) = totals(reference, current)?;
    let mut sum = 0.0;
    for (&r, &c) in reference.iter().zip(current) {
        let r = proportion(r, r_total);
        let c = proportion(c, c_total);
        sum += (c - r) * (c / r).ln();
    }
    Some(sum)
}

/// Jensen-Shannon distance (natural log; the square root of the
/// divergence, as `scipy.spatial.distance.jensenshannon`): 0 for equal
/// distributions, at most `sqrt(ln 2)`. Empty slots need no epsilon.
/// `None` when either side has no values.
pub fn jensen_shannon(reference: &[u64], current: &[u64]) -> Option<f64> {
    let (r_total, c_total) = totals(reference, current)?;
    let mut left = 0.0;
    let mut right = 0.0;
    for (&r, &c) in reference.iter().zip(current) {
        let p = r as f64 / r_total;
        let q = c as f64 / c_total;
        let m = (p + q) / 2.0;
        if p > 0.0 {
            left += p * (p / m).ln();
        }
        if q > 0.0 {
            right += q * (q / m).ln();
        }
    }
    Some(((left + right) / 2.0).max(0.0).sqrt())
}

fn totals(reference: &[u64], current: &[u64]) -> Option<(f64, f64)> {
    let r: u64 = reference.iter().sum();
    let c: u64 = current.iter().sum();
    (r > 0 && c > 0 && reference.len() == current.len()).then_some((r as f64, c as f64))
}

fn proportion(count: u64, total: f64) -> f64 {
    if count == 0 {
        PSI_EPSILON
    } else {
        count as f64 / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_distributions_do_not_drift() {
        let counts = [10, 0, 30, 60];
        assert_eq!(psi(&counts, &counts), Some(0.0));
        assert_eq!(jensen_shannon(&counts, &counts), Some(0.0));
        let doubled = [20, 0, 60, 120];
        assert_eq!(psi(&counts, &doubled), Some(0.0));
    }

    #[test]
    fn empty_sides_have_no_statistic() {
        assert_eq!(psi(&[0, 0], &[1, 2]), None);
        assert_eq!(jensen_shannon(&[1, 2], &[0, 0]), None);
    }

    #[test]
    fn disjoint_distributions_reach_the_bound() {
        let js = jensen_shannon(&[5, 0], &[0, 5]).expect("a value");
        assert!((js - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    }
}
