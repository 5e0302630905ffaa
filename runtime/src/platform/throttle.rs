//! Log lines a peer can provoke, throttled: per kind of line, the first in
//! each interval is written and the rest are counted, and the next line of
//! that kind says how many were held back. A flood of forged packets or bad
//! messages then costs a few lines per interval, not one line per packet,
//! and nothing goes unreported.

use super::{now, Instant};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often each kind of provokable line may be written unless configured
/// otherwise.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A per-kind log throttle. Cheap to call from any thread.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    kinds: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug)]
struct Window {
    /// When the last line of this kind was written.
    written: Instant,
    /// Lines of this kind held back since.
    held_back: u64,
}

impl Default for LogThrottle {
    fn default() -> Self {
        Self::new(DEFAULT_LOG_INTERVAL)
    }
}

impl LogThrottle {
    /// At most one line per kind per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: Mutex::default(),
        }
    }

    /// Whether a line of `kind` may be written now: `Some(n)` if so, `n`
    /// being the lines of that kind held back since the last one written
    /// (say so in the line); `None` if it is held back (and counted).
    pub fn admit(&self, kind: &'static str) -> Option<u64> {
        let now = now();
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        match kinds.get_mut(kind) {
            Some(w) if now.saturating_duration_since(w.written) < self.interval => {
                w.held_back += 1;
                None
            }
            Some(w) => {
                w.written = now;
                Some(std::mem::take(&mut w.held_back))
            }
            None => {
                kinds.insert(
                    kind,
                    Window {
                        written: now,
                        held_back: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

/// Writes a `tracing::warn!` line through a [`LogThrottle`]: `kind` names
/// the line for throttling, the rest is `warn!`'s arguments. A line written
/// after some were held back carries `held_back = n`.
macro_rules! throttled_warn {
    ($throttle:expr, $kind:expr, $($arg:tt)+) => {
        if let Some(held_back) = $throttle.admit($kind) {
            if held_back == 0 {
                tracing::warn!($($arg)+);
            } else {
                tracing::warn!(held_back, $($arg)+);
            }
        }
    };
}

pub(crate) use throttled_warn;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_kind_per_interval_and_the_rest_counted() {
        let t = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(t.admit("tls"), Some(0));
        for _ in 0..4_999 {
            assert_eq!(t.admit("tls"), None);
        }
        // another kind has its own window
        assert_eq!(t.admit("timeout"), Some(0));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(t.admit("tls"), Some(4_999), "the held-back count");
        assert_eq!(t.admit("tls"), None);
        assert_eq!(t.admit("timeout"), Some(0));
    }
}
