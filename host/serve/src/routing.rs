//! How a model's requests are split across its versions: a primary, an
//! optional canary taking a percentage, and an optional shadow scored off
//! the request path.
//!
//! The split is deterministic on a request key (a transaction or entity id:
//! the same key always lands on the same side), random when a request has
//! none. A [`Route`] is immutable; a routing change builds a new one and
//! swaps it in, so a request sees one consistent route from start to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use edgescore_models::fnv::fnv1a64;

use super::loaded_version::LoadedVersion;
use super::rollout::{self, Side};

/// The routing file each model folder may hold.
pub const ROUTING_FILE: &str = "routing.toml";

/// What the routing file or the admin API asks for.
///
/// ```toml
/// primary = 3                       # omitted: the highest valid version
/// canary = { version = 4, percent = 10 }
/// shadow = 5
/// allow_schema_change = true        # omitted: false
/// ```
///
/// `allow_schema_change` lets a version whose features (names, kinds,
/// order) differ from the serving version's load; without it such a version
/// is rejected, since every existing client would be refused by it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSpec {
    #[serde(default)]
    pub primary: Option<u64>,
    #[serde(default)]
    pub canary: Option<CanarySpec>,
    #[serde(default)]
    pub shadow: Option<u64>,
    #[serde(default)]
    pub allow_schema_change: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanarySpec {
    pub version: u64,
    /// Share of requests, 0 to 100.
    pub percent: u8,
}

impl RoutingSpec {
    /// Checks what serde cannot: a percentage is at most 100.
    pub fn validate(&self) -> Result<(), String> {
        match self.canary {
            Some(c) if c.percent > 100 => Err(format!(
                "canary percent is {}; it must be between 0 and 100",
                c.percent
            )),
            _ => Ok(()),
        }
    }

    /// Reads a routing file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let spec: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        spec.validate()?;
        Ok(spec)
    }

    /// The routing file the server writes after an admin change: a comment
    /// saying so, then the spec (empty when it asks for nothing).
    pub fn to_toml(&self) -> Result<String, String> {
        let mut text = String::from(
            "# Written by edgescore serve for an admin routing change; edit freely,\n\
             # it is read again when it changes. Keys: primary, canary = { version, percent },\n\
             # shadow, allow_schema_change.\n",
        );
        text.push_str(&toml::to_string(self).map_err(|e| e.to_string())?);
        Ok(text)
    }
}

/// Why a routing change was not made.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The change does not apply (no canary to promote, a version that is
    /// not ready, a percentage over 100): the caller's to fix.
    #[error("{0}")]
    Refused(String),
    /// The routing file could not be written; nothing changed.
    #[error("the routing change was not made: {0}")]
    NotPersisted(String),
}

/// The versions one model's requests go to, fixed for the route's lifetime.
#[derive(Debug)]
pub struct Route {
    pub primary: Arc<LoadedVersion>,
    pub canary: Option<Canary>,
    pub shadow: Option<Arc<LoadedVersion>>,
}

/// A canary version, its share and how it has fared on this route.
#[derive(Debug)]
pub struct Canary {
    pub version: Arc<LoadedVersion>,
    pub percent: u8,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl Canary {
    pub fn new(version: Arc<LoadedVersion>, percent: u8) -> Self {
        Self {
            version,
            percent,
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Records one request; returns (requests, failures) so far.
    pub fn record(&self, failed: bool) -> (u64, u64) {
        let requests = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let failures = self
            .failures
            .fetch_add(u64::from(failed), Ordering::Relaxed)
            + u64::from(failed);
        (requests, failures)
    }
}

impl Route {
    /// The version a request with `key` goes to, and whether it is the
    /// canary ([`rollout::choose_side`] of the request's bucket).
    pub fn pick(&self, key: Option<&str>) -> (&Arc<LoadedVersion>, bool) {
        let percent = self.canary.as_ref().map(|c| c.percent);
        match (
            &self.canary,
            rollout::choose_side(percent, rollout::bucket(key, random_u64)),
        ) {
            (Some(canary), Side::Canary) => (&canary.version, true),
            _ => (&self.primary, false),
        }
    }
}

/// A cheap per-thread random number (xorshift), seeded from the clock and
/// the thread, for requests without a key.
fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let thread = fnv1a64(format!("{:?}", std::thread::current().id()).as_bytes());
            (nanos ^ thread) | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_a_key_spread_across_buckets() {
        let under_ten = (0..10_000)
            .filter(|_| rollout::bucket(None, random_u64) < 10)
            .count();
        assert!((800..1200).contains(&under_ten), "{under_ten} of 10000");
    }

    #[test]
    fn the_written_routing_file_reads_back_as_the_same_spec() {
        for spec in [
            RoutingSpec::default(),
            RoutingSpec {
                primary: Some(3),
                canary: Some(CanarySpec {
                    version: 4,
                    percent: 10,
                }),
                shadow: Some(5),
                allow_schema_change: true,
            },
            RoutingSpec {
                primary: Some(1),
                ..RoutingSpec::default()
            },
        ] {
            let text = spec.to_toml().expect("serializes");
            assert_eq!(RoutingSpec::from_toml(&text), Ok(spec), "{text}");
        }
        assert_eq!(
            RoutingSpec::from_toml("allow_schema_change = true"),
            Ok(RoutingSpec {
                allow_schema_change: true,
                ..RoutingSpec::default()
            })
        );
    }

    #[test]
    fn a_percent_over_100_is_refused() {
        let spec = RoutingSpec {
            canary: Some(CanarySpec {
                version: 2,
                percent: 101,
            }),
            ..RoutingSpec::default()
        };
        assert!(spec.validate().is_err());
    }
}
