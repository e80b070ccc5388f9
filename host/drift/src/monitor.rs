//! Live drift of one pipeline version: its reference profile, a sliding
//! window of what it scored, the statistics between them and the state of
//! each distribution. A state that rises past a threshold raises one
//! [`DriftAlert`]: once per crossing, not once per event. A state is left
//! downwards only once the statistic is [`DriftConfig::hysteresis`] below
//! its threshold, so a statistic hovering at a threshold does not raise an
//! alert at every check; the alert is raised again only after it has
//! fallen back so far and crossed again.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::profile::{Decisions, Distribution, Kind, Profile};
use crate::statistics::{PSI_EPSILON, jensen_shannon, psi};
use crate::window::Window;

/// How a monitor windows and judges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// The window's size in events (the last N scored).
    pub window_events: usize,
    /// The window's age: events older than this leave it.
    pub window_seconds: u64,
    /// No state is judged on fewer events than this (a handful of events
    /// is not a distribution).
    pub min_events: usize,
    /// The states are judged every this many events (and on every read).
    pub check_every: usize,
    /// PSI from which a distribution is `moderate`.
    pub moderate: f64,
    /// PSI from which it is `act`.
    pub act: f64,
    /// How far below its threshold (as a fraction of it) the statistic
    /// must fall for a state to be left: 0.2 leaves `act` under 0.2 and
    /// `moderate` under 0.08 with the default thresholds.
    pub hysteresis: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            window_events: 10_000,
            window_seconds: 3_600,
            min_events: 1_000,
            check_every: 100,
            moderate: 0.1,
            act: 0.25,
            hysteresis: 0.2,
        }
    }
}

/// A distribution's state, by its PSI against the reference (the credit
/// scoring rule of thumb: under 0.1 stable, to 0.25 moderate, past it act).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Fewer events in the window than `min_events`.
    Collecting,
    Stable,
    Moderate,
    Act,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Collecting => "collecting",
            Self::Stable => "stable",
            Self::Moderate => "moderate",
            Self::Act => "act",
        }
    }

    /// As a gauge: -1 collecting, 0 stable, 1 moderate, 2 act.
    pub fn level(self) -> i64 {
        match self {
            Self::Collecting => -1,
            Self::Stable => 0,
            Self::Moderate => 1,
            Self::Act => 2,
        }
    }
}

/// One distribution's drift now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributionDrift {
    pub name: String,
    pub kind: Kind,
    /// PSI against the reference (`null` while collecting).
    pub psi: Option<f64>,
    /// Jensen-Shannon distance, for categorical distributions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jensen_shannon: Option<f64>,
    pub state: State,
    /// A label per slot.
    pub bins: Vec<String>,
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

/// Everything `GET /v1/pipelines/<p>/drift` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub pipeline: String,
    pub version: String,
    pub window_events: usize,
    pub config: DriftConfig,
    pub psi_epsilon: f64,
    pub features: Vec<DistributionDrift>,
    pub score: DistributionDrift,
    pub decisions: DecisionsDrift,
}

/// Decision counts of the reference and of the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DecisionsDrift {
    pub reference: Decisions,
    pub current: Decisions,
}

/// A distribution crossed into a higher state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftAlert {
    pub pipeline: String,
    pub version: String,
    /// The feature, or `score`.
    pub feature: String,
    pub psi: f64,
    pub state: State,
    pub previous: State,
    pub window_events: usize,
}

/// The statistics of one check, for gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Per distribution (features, then the score): name, PSI,
    /// Jensen-Shannon, state.
    pub drift: Vec<(String, Option<f64>, Option<f64>, State)>,
    pub alerts: Vec<DriftAlert>,
    pub window_events: usize,
}

/// The live drift of one pipeline version.
#[derive(Debug)]
pub struct DriftMonitor {
    pipeline: String,
    version: String,
    profile: Profile,
    config: DriftConfig,
    live: Mutex<Live>,
}

#[derive(Debug)]
struct Live {
    window: Window,
    since_check: usize,
    /// Per distribution, the state last judged.
    states: Vec<State>,
}

impl DriftMonitor {
    pub fn new(pipeline: &str, version: &str, profile: Profile, config: DriftConfig) -> Self {
        let bins = profile
            .features
            .iter()
            .chain([&profile.score])
            .map(|d| d.bins.clone())
            .collect::<Vec<_>>();
        let states = vec![State::Collecting; bins.len()];
        let max_age_ms =
            i64::try_from(config.window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        Self {
            pipeline: pipeline.to_owned(),
            version: version.to_owned(),
            live: Mutex::new(Live {
                window: Window::new(bins, config.window_events, max_age_ms),
                since_check: 0,
                states,
            }),
            profile,
            config,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Adds scored events at `now_ms` (`rows` their feature rows, one
    /// after another); every `check_every` events, judges the states and
    /// returns the check, with an alert per crossing.
    pub fn observe(
        &self,
        now_ms: i64,
        rows: &[f64],
        scores: &[f64],
        decisions: &[&str],
    ) -> Option<Check> {
        let width = self.profile.features.len();
        let mut live = self.live.lock();
        for (i, (&score, decision)) in scores.iter().zip(decisions).enumerate() {
            let row = rows.get(i * width..(i + 1) * width).unwrap_or(&[]);
            live.window.add(now_ms, row, score, decision);
        }
        live.since_check += scores.len();
        if live.since_check < self.config.check_every {
            return None;
        }
        live.since_check = 0;
        Some(self.check(&mut live))
    }

    /// Judges the states now (the window aged to `now_ms`), raising an
    /// alert per crossing.
    pub fn check_now(&self, now_ms: i64) -> Check {
        let mut live = self.live.lock();
        live.window.expire(now_ms);
        self.check(&mut live)
    }

    fn check(&self, live: &mut Live) -> Check {
        let events = live.window.len();
        let mut drift = Vec::with_capacity(live.states.len());
        let mut alerts = Vec::new();
        for (i, reference) in self.distributions().enumerate() {
            let previous = live.states[i];
            let (psi, js, state) = self.judge(reference, live.window.counts(i), events, previous);
            if state > previous
                && state > State::Stable
                && let Some(value) = psi
            {
                alerts.push(DriftAlert {
                    pipeline: self.pipeline.clone(),
                    version: self.version.clone(),
                    feature: reference.name.clone(),
                    psi: value,
                    state,
                    previous,
                    window_events: events,
                });
            }
            live.states[i] = state;
            drift.push((reference.name.clone(), psi, js, state));
        }
        Check {
            drift,
            alerts,
            window_events: events,
        }
    }

    /// The report of every distribution, the window aged to `now_ms`.
    pub fn report(&self, now_ms: i64) -> DriftReport {
        let mut live = self.live.lock();
        live.window.expire(now_ms);
        let events = live.window.len();
        let mut all: Vec<DistributionDrift> = self
            .distributions()
            .enumerate()
            .map(|(i, reference)| {
                let current = live.window.counts(i);
                let (psi, jensen_shannon, state) =
                    self.judge(reference, current, events, live.states[i]);
                DistributionDrift {
                    name: reference.name.clone(),
                    kind: reference.kind(),
                    psi,
                    jensen_shannon,
                    state,
                    bins: reference.bins.labels(),
                    reference: reference.counts.clone(),
                    current: current.to_vec(),
                }
            })
            .collect();
        let score = all.pop().expect("the score's distribution is last");
        DriftReport {
            pipeline: self.pipeline.clone(),
            version: self.version.clone(),
            window_events: events,
            config: self.config,
            psi_epsilon: PSI_EPSILON,
            features: all,
            score,
            decisions: DecisionsDrift {
                reference: self.profile.decisions,
                current: live.window.decisions(),
            },
        }
    }

    /// The state a PSI of `v` puts a distribution in that was `previous`:
    /// a threshold already crossed holds until `v` is the hysteresis below
    /// it.
    fn state_of(&self, v: f64, previous: State) -> State {
        let holds = |threshold: f64, state: State| {
            let at = if previous >= state {
                threshold * (1.0 - self.config.hysteresis)
            } else {
                threshold
            };
            v >= at
        };
        if holds(self.config.act, State::Act) {
            State::Act
        } else if holds(self.config.moderate, State::Moderate) {
            State::Moderate
        } else {
            State::Stable
        }
    }

    fn distributions(&self) -> impl Iterator<Item = &Distribution> {
        self.profile.features.iter().chain([&self.profile.score])
    }

    /// The statistics of `current` against `reference`, and the state
    /// they put a distribution in that was `previous`.
    fn judge(
        &self,
        reference: &Distribution,
        current: &[u64],
        events: usize,
        previous: State,
    ) -> (Option<f64>, Option<f64>, State) {
        if events < self.config.min_events.max(1) {
            return (None, None, State::Collecting);
        }
        let value = psi(&reference.counts, current);
        let js = (reference.kind() == Kind::Categorical)
            .then(|| jensen_shannon(&reference.counts, current))
            .flatten();
        let state = value.map_or(State::Collecting, |v| self.state_of(v, previous));
        (value, js, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileBuilder;

    fn monitor(config: DriftConfig) -> DriftMonitor {
        let mut builder = ProfileBuilder::new(vec![("amount".into(), Kind::Numeric)], 10);
        for i in 0..1000 {
            builder.add(&[f64::from(i)], f64::from(i % 100) / 100.0, "allow");
        }
        DriftMonitor::new("fraud", "1", builder.finish("fraud", "t 1", "00"), config)
    }

    #[test]
    fn one_alert_per_crossing_and_none_while_stable() {
        let config = DriftConfig {
            window_events: 1000,
            min_events: 1000,
            check_every: 50,
            ..DriftConfig::default()
        };
        let m = monitor(config);
        let mut alerts = Vec::new();
        // The reference's own law (uniform over 0..1000): stable.
        let mut random: u64 = 7;
        for i in 0..3000 {
            random = random
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = ((random >> 33) % 1000) as f64;
            let score = f64::from(i % 100) / 100.0;
            if let Some(check) = m.observe(i64::from(i), &[x], &[score], &["allow"]) {
                alerts.extend(check.alerts);
            }
        }
        assert!(alerts.is_empty(), "{alerts:?}");
        let report = m.report(3000);
        assert_eq!(report.features[0].state, State::Stable);
        // Amounts far past the reference: one alert for amount, however
        // many checks follow.
        for i in 0..2000 {
            let score = f64::from(i % 100) / 100.0;
            if let Some(check) = m.observe(4000 + i64::from(i), &[5000.0], &[score], &["allow"]) {
                alerts.extend(check.alerts);
            }
        }
        let amount: Vec<&DriftAlert> = alerts.iter().filter(|a| a.feature == "amount").collect();
        assert_eq!(amount.len(), 1, "{alerts:?}");
        assert_eq!(amount[0].state, State::Act);
        assert!(alerts.iter().all(|a| a.feature == "amount"), "{alerts:?}");
    }

    #[test]
    fn few_events_are_not_judged() {
        let m = monitor(DriftConfig::default());
        m.observe(0, &[5000.0], &[0.5], &["block"]);
        let report = m.report(0);
        assert_eq!(report.features[0].state, State::Collecting);
        assert_eq!(report.features[0].psi, None);
        assert_eq!(report.decisions.current.block, 1);
    }

    #[test]
    fn a_statistic_at_a_threshold_holds_its_state() {
        let m = monitor(DriftConfig::default());
        // Stable is left at the threshold; moderate is kept down to 0.08.
        let moderate = |v: f64, previous| m.state_of(v, previous);
        assert_eq!(moderate(0.099, State::Stable), State::Stable);
        assert_eq!(moderate(0.1, State::Stable), State::Moderate);
        assert_eq!(moderate(0.085, State::Moderate), State::Moderate);
        assert_eq!(moderate(0.079, State::Moderate), State::Stable);
        assert_eq!(moderate(0.21, State::Act), State::Act);
        assert_eq!(moderate(0.19, State::Act), State::Moderate);
        assert_eq!(DriftConfig::default().hysteresis, 0.2);
    }
}
