//! Rollout decisions as plain functions over state: which side of a route
//! a request goes to, whether a canary has failed often enough to be
//! rolled back, how a shadow's scores compare with the primary's. The
//! request path ([`crate::scoring`]) and the registry act on what these
//! say; the tables in the tests below pin them down.

use std::collections::BTreeSet;

use edgescore_models::fnv::fnv1a64;

/// The versions a model's route serves, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteChoice {
    pub primary: u64,
    /// The canary version and its share of requests.
    pub canary: Option<(u64, u8)>,
    pub shadow: Option<u64>,
}

/// What a model's routing asks for, by version number (the routing file's
/// `primary`, `canary` and `shadow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wanted {
    pub primary: Option<u64>,
    /// The canary version and its share of requests.
    pub canary: Option<(u64, u8)>,
    pub shadow: Option<u64>,
}

/// The route a model's state asks for: nothing when it is unloaded or no
/// version is ready; else the wanted primary if it is ready, or the
/// highest ready version; the canary and the shadow when they are ready
/// and not the primary.
pub fn choose_route(wanted: Wanted, ready: &BTreeSet<u64>, unloaded: bool) -> Option<RouteChoice> {
    if unloaded {
        return None;
    }
    let primary = wanted
        .primary
        .filter(|v| ready.contains(v))
        .or_else(|| ready.last().copied())?;
    let other = |v: u64| Some(v).filter(|v| *v != primary && ready.contains(v));
    Some(RouteChoice {
        primary,
        canary: wanted
            .canary
            .and_then(|(version, percent)| other(version).map(|v| (v, percent))),
        shadow: wanted.shadow.and_then(other),
    })
}

/// The side of a route a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Primary,
    Canary,
}

/// The request's bucket, 0 to 99: the key's FNV-1a hash (the same card goes
/// to the same side on every node and after every restart), or `random`
/// without a key.
pub fn bucket(key: Option<&str>, random: impl FnOnce() -> u64) -> u64 {
    match key {
        Some(key) => fnv1a64(key.as_bytes()) % 100,
        None => random() % 100,
    }
}

/// Where a request in `bucket` goes, given the route's canary share (none:
/// no canary).
pub fn choose_side(canary_percent: Option<u8>, bucket: u64) -> Side {
    match canary_percent {
        Some(percent) if bucket < u64::from(percent) => Side::Canary,
        _ => Side::Primary,
    }
}

/// When a canary is rolled back: after at least `min_requests` requests,
/// once its failures are more than `max_error_rate` of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryPolicy {
    pub max_error_rate: f64,
    pub min_requests: u64,
}

/// What the policy says about a canary with `requests` and `failures` so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryVerdict {
    Keep,
    RollBack,
}

impl CanaryPolicy {
    pub fn verdict(&self, requests: u64, failures: u64) -> CanaryVerdict {
        if requests >= self.min_requests && failures as f64 > self.max_error_rate * requests as f64
        {
            CanaryVerdict::RollBack
        } else {
            CanaryVerdict::Keep
        }
    }
}

/// Scores closer than this count as agreeing, shadow against primary.
pub const SHADOW_TOLERANCE: f64 = 1e-6;

/// How a shadow's scores compared with the primary's for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShadowComparison {
    pub rows: usize,
    /// Rows further apart than [`SHADOW_TOLERANCE`] (or NaN on one side only).
    pub disagreed: usize,
    /// The largest difference among rows that both scored (a NaN on one
    /// side is counted in `disagreed`, not here).
    pub max_diff: f64,
}

/// Compares `shadow` with `primary`, row by row; `None` when they do not
/// hold the same number of rows (the shadow failed).
pub fn compare_shadow(shadow: &[f64], primary: &[f64]) -> Option<ShadowComparison> {
    if shadow.len() != primary.len() {
        return None;
    }
    let diffs = || shadow.iter().zip(primary).map(|(a, b)| (a - b).abs());
    Some(ShadowComparison {
        rows: shadow.len(),
        disagreed: diffs()
            .filter(|d| d.is_nan() || *d > SHADOW_TOLERANCE)
            .count(),
        max_diff: diffs().fold(0.0, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_is_a_function_of_the_routing_and_the_ready_versions() {
        let routing = |primary, canary, shadow| Wanted {
            primary,
            canary,
            shadow,
        };
        let choice = |primary, canary, shadow| {
            Some(RouteChoice {
                primary,
                canary,
                shadow,
            })
        };
        let ready = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        for (spec, ready, unloaded, expected) in [
            // Nothing ready, or unloaded: no route.
            (routing(None, None, None), ready(&[]), false, None),
            (routing(None, None, None), ready(&[1, 2]), true, None),
            // No routing: the highest ready version.
            (
                routing(None, None, None),
                ready(&[1, 3, 2]),
                false,
                choice(3, None, None),
            ),
            // A pinned primary that is ready; one that is not falls back.
            (
                routing(Some(1), None, None),
                ready(&[1, 2]),
                false,
                choice(1, None, None),
            ),
            (
                routing(Some(7), None, None),
                ready(&[1, 2]),
                false,
                choice(2, None, None),
            ),
            // Canary and shadow when ready and not the primary.
            (
                routing(Some(1), Some((2, 10)), Some(3)),
                ready(&[1, 2, 3]),
                false,
                choice(1, Some((2, 10)), Some(3)),
            ),
            (
                routing(Some(1), Some((4, 10)), Some(5)),
                ready(&[1, 2]),
                false,
                choice(1, None, None),
            ),
            (
                routing(None, Some((2, 50)), Some(2)),
                ready(&[1, 2]),
                false,
                choice(2, None, None),
            ),
        ] {
            assert_eq!(
                choose_route(spec, &ready, unloaded),
                expected,
                "{spec:?} {ready:?}"
            );
        }
    }

    #[test]
    fn the_side_is_a_function_of_the_share_and_the_bucket() {
        for (percent, bucket, side) in [
            (None, 0, Side::Primary),
            (Some(0), 0, Side::Primary),
            (Some(10), 0, Side::Canary),
            (Some(10), 9, Side::Canary),
            (Some(10), 10, Side::Primary),
            (Some(100), 99, Side::Canary),
            (Some(50), 50, Side::Primary),
        ] {
            assert_eq!(choose_side(percent, bucket), side, "{percent:?} {bucket}");
        }
    }

    #[test]
    fn a_key_always_lands_in_the_same_bucket() {
        let never = || unreachable!("a key needs no random number");
        for key in ["card-1", "txn-99", ""] {
            assert_eq!(bucket(Some(key), never), bucket(Some(key), never));
        }
        assert_eq!(bucket(Some("a"), never), 0xaf63_dc4c_8601_ec8c % 100);
        assert_eq!(bucket(None, || 1234), 34);
    }

    #[test]
    fn keys_spread_across_buckets() {
        let never = || unreachable!("a key needs no random number");
        let under_ten = (0..10_000)
            .filter(|i| bucket(Some(&format!("txn-{i}")), never) < 10)
            .count();
        assert!(
            (800..1200).contains(&under_ten),
            "{under_ten} of 10000 under 10%"
        );
    }

    #[test]
    fn a_canary_is_rolled_back_past_its_error_rate_once_it_has_enough_requests() {
        let policy = CanaryPolicy {
            max_error_rate: 0.1,
            min_requests: 20,
        };
        for (requests, failures, verdict) in [
            (1, 1, CanaryVerdict::Keep),
            (19, 19, CanaryVerdict::Keep),
            (20, 2, CanaryVerdict::Keep),
            (20, 3, CanaryVerdict::RollBack),
            (100, 10, CanaryVerdict::Keep),
            (100, 11, CanaryVerdict::RollBack),
            (20, 0, CanaryVerdict::Keep),
        ] {
            assert_eq!(
                policy.verdict(requests, failures),
                verdict,
                "{failures} of {requests}"
            );
        }
    }

    #[test]
    fn shadow_scores_are_compared_row_by_row() {
        let nan = f64::NAN;
        for (shadow, primary, expected) in [
            (vec![0.5, 0.25], vec![0.5, 0.25], Some((2, 0, 0.0))),
            (vec![0.5, 0.25], vec![0.5, 0.75], Some((2, 1, 0.5))),
            (vec![0.5 + 1e-7], vec![0.5], Some((1, 0, 1e-7))),
            (vec![0.5], vec![0.5, 0.5], None),
        ] {
            let got = compare_shadow(&shadow, &primary).map(|c| (c.rows, c.disagreed, c.max_diff));
            match (got, expected) {
                (Some((r, d, m)), Some((er, ed, em))) => {
                    assert_eq!((r, d), (er, ed), "{shadow:?} {primary:?}");
                    assert!((m - em).abs() < 1e-12, "{m} {em}");
                }
                (got, expected) => assert_eq!(got.is_none(), expected.is_none()),
            }
        }
        let with_nan = compare_shadow(&[nan], &[0.5]).expect("same rows");
        assert_eq!(with_nan.disagreed, 1);
    }
}
