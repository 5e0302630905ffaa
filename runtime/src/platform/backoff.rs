//! The one exponential backoff (supervisor restarts, peer redials): its
//! settings and its formula.

use std::time::Duration;

/// Exponential backoff with jitter: between a child's consecutive restarts
/// (Akka's `BackoffSupervisor`, on top of OTP semantics), and between
/// redials of a lost peer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub min: Duration,
    /// Cap on the delay.
    pub max: Duration,
    /// Fraction of the delay added at random, in `[0, 1]`.
    pub jitter: f64,
    /// A child that ran at least this long before exiting starts over at
    /// `min` (a redial starts over on every successful connection).
    pub reset_after: Duration,
}

impl Backoff {
    /// Backoff from `min` doubling to `max`, 20 % jitter, reset after `max`.
    pub fn exponential(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            jitter: 0.2,
            reset_after: max,
        }
    }

    /// The delay before retry number `attempt` (1-based) given a uniform
    /// sample `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        backoff_delay(self.min, self.max, self.jitter, attempt, unit)
    }
}

/// Delay before try number `attempt` (1-based): `min` doubling per try,
/// capped at `max`, plus up to `jitter` (a fraction in `[0, 1]`) of itself
/// scaled by `unit`, a uniform sample in `[0, 1)` from the node's RNG.
pub fn backoff_delay(
    min: Duration,
    max: Duration,
    jitter: f64,
    attempt: u32,
    unit: f64,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let base = min.saturating_mul(1u32 << exp).min(max);
    let extra = base.mul_f64(jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0));
    base.saturating_add(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters() {
        let ms = Duration::from_millis;
        let d = |attempt, unit| backoff_delay(ms(10), ms(100), 0.5, attempt, unit);
        assert_eq!(d(1, 0.0), ms(10));
        assert_eq!(d(2, 0.0), ms(20));
        assert_eq!(d(4, 0.0), ms(80));
        assert_eq!(d(5, 0.0), ms(100));
        assert_eq!(d(u32::MAX, 0.0), ms(100));
        assert_eq!(d(1, 0.5), Duration::from_micros(12_500));
        assert_eq!(d(0, 0.0), ms(10), "attempt 0 counts as the first");
    }
}
