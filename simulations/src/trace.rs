//! An event trace stamped with virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Events of one run, in order, with the virtual time at which they happened.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    events: Arc<Mutex<Vec<(Duration, String)>>>,
    origin: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl Trace {
    /// Records `event` at the current virtual time.
    pub fn record(&self, event: impl Into<String>) {
        let now = tokio::time::Instant::now();
        let origin = *self
            .origin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(now);
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((now - origin, event.into()));
    }

    /// The events so far.
    pub fn events(&self) -> Vec<(Duration, String)> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// FNV-1a over every (time, event): equal traces have equal hashes.
    pub fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for (t, e) in self.events() {
            eat(&t.as_nanos().to_le_bytes());
            eat(e.as_bytes());
            eat(&[0]);
        }
        h
    }
}
