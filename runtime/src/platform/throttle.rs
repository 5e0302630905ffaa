//! Log lines a peer can provoke, throttled: per kind of line and per source
//! (the peer node, or the address a connection attempt came from), the
//! first in each interval is written and the rest are counted. The count
//! is said by the next line of that kind and source, or, if none comes,
//! when the window closes ([`LogThrottle::flush`], which the node runs
//! every interval). A flood of forged packets or bad messages then costs a
//! few lines per interval, not one line per packet; one peer's flood does
//! not hide another's lines; and nothing goes unreported.

use super::{now, Instant};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often each kind of provokable line may be written unless configured
/// otherwise.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Sources with a window of their own at most; past it, the lines of
/// further sources share one window per kind (`source = "(others)"`).
pub const MAX_SOURCES: usize = 1024;

/// A per-kind, per-source log throttle. Cheap to call from any thread.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    kinds: Mutex<HashMap<(&'static str, String), Window>>,
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

    /// Whether a line of `kind` from `source` may be written now: `Some(n)`
    /// if so, `n` being the lines of that kind and source held back since
    /// the last one written (say so in the line); `None` if it is held back
    /// (and counted).
    pub fn admit(&self, kind: &'static str, source: &str) -> Option<u64> {
        let now = now();
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = (kind, source.to_owned());
        if !kinds.contains_key(&key) && kinds.len() >= MAX_SOURCES {
            key.1 = "(others)".to_owned();
        }
        match kinds.get_mut(&key) {
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
                    key,
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

impl LogThrottle {
    /// Closes the windows whose interval has passed: for each that held
    /// lines back, one line says how many (no line of its kind and source
    /// may have come since to say it); quiet windows are forgotten.
    pub fn flush(&self) {
        let now = now();
        let closed: Vec<((&'static str, String), u64)> = {
            let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
            let mut closed = Vec::new();
            kinds.retain(|key, w| {
                if now.saturating_duration_since(w.written) < self.interval {
                    return true;
                }
                if w.held_back > 0 {
                    closed.push((key.clone(), w.held_back));
                }
                false
            });
            closed
        };
        for ((kind, source), held_back) in closed {
            tracing::warn!(kind, source, held_back, "{held_back} more lines of this kind from this source were held back in the last {:?}", self.interval);
        }
    }

    /// The throttle's interval ([`LogThrottle::flush`] runs a few times
    /// per interval).
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

/// Writes a `tracing::warn!` line through a [`LogThrottle`]: `kind` names
/// the line for throttling and `source` (a `&str`) where it came from;
/// the rest is `warn!`'s arguments. A line written after some were held
/// back carries `held_back = n`.
macro_rules! throttled_warn {
    ($throttle:expr, $kind:expr, source = $source:expr, $($arg:tt)+) => {
        if let Some(held_back) = $throttle.admit($kind, $source) {
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
        assert_eq!(t.admit("tls", "a"), Some(0));
        for _ in 0..4_999 {
            assert_eq!(t.admit("tls", "a"), None);
        }
        // another kind, and another source, have windows of their own
        assert_eq!(t.admit("timeout", "a"), Some(0));
        assert_eq!(t.admit("tls", "b"), Some(0));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(t.admit("tls", "a"), Some(4_999), "the held-back count");
        assert_eq!(t.admit("tls", "a"), None);
        assert_eq!(t.admit("timeout", "a"), Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_window_is_flushed_and_sources_past_the_cap_share_one() {
        let t = LogThrottle::new(Duration::from_secs(10));
        for i in 0..MAX_SOURCES {
            assert_eq!(t.admit("spawn", &format!("peer{i}")), Some(0));
        }
        assert_eq!(t.admit("spawn", "late"), Some(0), "the shared window's first");
        assert_eq!(t.admit("spawn", "later"), None);
        assert_eq!(t.admit("spawn", "peer0"), None);
        tokio::time::sleep(Duration::from_secs(10)).await;
        t.flush();
        // every window closed and was forgotten: a new source has its own
        assert_eq!(t.kinds.lock().map(|k| k.len()).unwrap_or(1), 0);
        assert_eq!(t.admit("spawn", "late"), Some(0));
    }
}
