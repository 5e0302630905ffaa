//! The node's view of the outside world: time, randomness, task spawning and
//! worker threads.
//!
//! Everything else in arbour reaches the clock, the RNG and the executor only
//! through this module, so the simulator can substitute paused
//! tokio time, seeded randomness and a single shared thread. Runtime logic reads
//! time with [`now`] (tokio's clock, which the simulator pauses and advances);
//! only log lines and certificates use [`wall_clock`].

mod backoff;
pub(crate) mod capture;
mod net;
mod rng;
mod throttle;
mod workers;

pub use backoff::{backoff_delay, Backoff};
pub use net::{OnWorkers, TokioTimeRuntime};
pub use rng::NodeRng;
pub(crate) use throttle::throttled_warn;
pub use throttle::{LogThrottle, DEFAULT_LOG_INTERVAL};
pub use workers::{live_workers, live_workers_at_most, WeakWorkers, Workers, WorkersError};

use std::future::Future;
use tokio::task::JoinHandle;

/// The monotonic instant type used throughout arbour (tokio's, so it can be paused).
pub type Instant = tokio::time::Instant;

/// The current monotonic time, from tokio's clock.
///
/// Under a paused runtime (tests, simulator) this is virtual time.
#[inline]
pub fn now() -> Instant {
    tokio::time::Instant::now()
}

/// Wall-clock time for log lines and certificate validity only; never for
/// timeouts or ordering.
pub fn wall_clock() -> std::time::SystemTime {
    std::time::SystemTime::now() // determinism: allowed here, platform is the one place
}

/// Spawns a `!Send` task on the current worker (the current `LocalSet`; see
/// [`Workers::enter`] for how a node makes sure that is one of its own),
/// never inside the actor whose code calls it (see `capture`).
///
/// Panics only if called outside a `LocalSet`, which is a programming error in
/// the embedding code, not something input can cause. Inlined so an actor's
/// task (~400 bytes) is moved once, not twice.
#[inline(always)]
pub fn spawn_local<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    capture::spawn_outside(fut)
}

/// One node's wall clock: the process's, shifted by a skew (the
/// simulator gives each node its own, as real hosts drift). arbour's logic
/// never reads it (timeouts, membership and the registry's conflict rule
/// run on the monotonic clock and Lamport stamps); certificate validity
/// is checked against it, and actors may read it through
/// [`Node::wall_clock`](crate::Node::wall_clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WallClock {
    /// Milliseconds this node's clock is ahead of the process's (negative:
    /// behind).
    pub skew_ms: i64,
}

impl WallClock {
    /// The time on this clock.
    pub fn now(&self) -> std::time::SystemTime {
        let base = wall_clock();
        let skew = std::time::Duration::from_millis(self.skew_ms.unsigned_abs());
        let shifted = if self.skew_ms >= 0 {
            base.checked_add(skew)
        } else {
            base.checked_sub(skew)
        };
        shifted.unwrap_or(base)
    }
}

impl rustls::time_provider::TimeProvider for WallClock {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        let since = self.now().duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(rustls::pki_types::UnixTime::since_unix_epoch(since))
    }
}

/// A fresh incarnation number for a node starting now.
///
/// Real nodes use the wall clock in milliseconds (so a restarted node gets a
/// larger one, as Erlang's creation does); the simulator passes its own.
pub fn fresh_incarnation() -> u64 {
    wall_clock()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1)
}

/// The instant `timeout` from now, saturating: a `Duration::MAX` timeout is
/// a deadline far in the future, not an overflow panic.
pub fn deadline(timeout: std::time::Duration) -> Instant {
    let now = now();
    now.checked_add(timeout)
        // about 30 years: further than any run, and safe to add to
        .unwrap_or_else(|| now + std::time::Duration::from_secs(30 * 365 * 24 * 3600))
}

/// Resolves when the process is asked to terminate (SIGINT, SIGTERM or
/// SIGHUP: a closed terminal ends a node as gracefully as a kill does),
/// naming the signal. Needs a runtime with IO enabled.
pub async fn termination() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut int), Ok(mut term), Ok(mut hup)) => tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
