//! The hard limits every component call runs under.

use std::time::Duration;

/// Limits for running components. [`Limits::default`] gives the defaults
/// `edgescore` uses; each is configurable on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long one call into a component may run before it is interrupted
    /// (epoch interruption, so the check costs a few percent, not a fuel count).
    pub call_deadline: Duration,
    /// The most linear memory one instance may have.
    pub memory_bytes: usize,
    /// How many instances the pooling allocator keeps slots for.
    pub max_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_deadline: Duration::from_millis(10),
            memory_bytes: 64 << 20,
            max_instances: 1000,
        }
    }
}

/// How often the engine's epoch advances; a deadline is a whole number of ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The least call deadline of the calls that check a version before it
/// serves (its golden vectors, a transform's description). A fresh
/// instance's first call pays for page faults and lazy initialisation, and
/// a busy host must not refuse a good version for a slow start; a
/// component that never returns is still stopped.
pub const VALIDATION_DEADLINE: Duration = Duration::from_secs(2);

impl Limits {
    /// The call deadline in epoch ticks, at least one.
    pub fn deadline_ticks(&self) -> u64 {
        (self.call_deadline.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64
    }

    /// These limits with the call deadline raised to at least
    /// [`VALIDATION_DEADLINE`], for the calls that check a version.
    pub fn for_validation(self) -> Self {
        Self {
            call_deadline: self.call_deadline.max(VALIDATION_DEADLINE),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_raises_a_short_deadline_and_keeps_a_long_one() {
        let served = Limits::default();
        let checking = served.for_validation();
        assert_eq!(checking.call_deadline, VALIDATION_DEADLINE);
        assert_eq!(checking.memory_bytes, served.memory_bytes);
        let patient = Limits {
            call_deadline: Duration::from_secs(30),
            ..served
        };
        assert_eq!(patient.for_validation(), patient);
    }
}
