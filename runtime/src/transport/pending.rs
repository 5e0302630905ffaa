//! Asks sent to one peer and waiting for their replies.
//!
//! Correlation ids are handed out here; a reply completes its waiter; a
//! reply nobody waits for any more (the ask timed out, or it is a duplicate)
//! is dropped and counted; a lost connection fails every waiting ask at once
//! with `NodeDown`.

use rustc_hash::FxHashMap as HashMap;
use tokio::sync::oneshot;

/// The asks waiting on one peer connection; `T` is what a waiter receives
/// (the node decides: a payload, an error reply, or `NodeDown`).
#[derive(Debug)]
pub struct PendingAsks<T> {
    next: u64,
    waiting: HashMap<u64, oneshot::Sender<T>>,
    late: u64,
}

impl<T> Default for PendingAsks<T> {
    fn default() -> Self {
        Self {
            next: 0,
            waiting: HashMap::default(),
            late: 0,
        }
    }
}

impl<T> PendingAsks<T> {
    /// A new correlation id and the receiver its reply will arrive on.
    pub fn register(&mut self) -> (u64, oneshot::Receiver<T>) {
        self.next += 1;
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(self.next, tx);
        (self.next, rx)
    }

    /// Delivers the reply to ask `correlation`; false if nobody waits for it
    /// (counted as late).
    pub fn complete(&mut self, correlation: u64, reply: T) -> bool {
        let delivered = self
            .waiting
            .remove(&correlation)
            .is_some_and(|tx| tx.send(reply).is_ok());
        if !delivered {
            self.late += 1;
        }
        delivered
    }

    /// The ask gave up (timed out): its reply, if it comes, is late.
    pub fn forget(&mut self, correlation: u64) {
        self.waiting.remove(&correlation);
    }

    /// The connection is gone: every waiting ask gets `lost()` now.
    /// Returns how many were failed.
    pub fn fail_all(&mut self, lost: impl Fn() -> T) -> usize {
        let n = self.waiting.len();
        for (_, tx) in self.waiting.drain() {
            let _ = tx.send(lost());
        }
        n
    }

    /// Asks waiting now.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True if no ask is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Replies that arrived with nobody waiting.
    pub fn late_replies(&self) -> u64 {
        self.late
    }
}

/// The data lane (of `lanes`) that carries messages for `recipient`. One
/// recipient always maps to one lane, so messages from one sender to one
/// recipient stay in order (Erlang's per-pair FIFO) while different
/// recipients spread over lanes and do not block each other.
pub fn lane_for(recipient: u64, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    // a multiplicative hash: consecutive ids land on different lanes
    let h = recipient.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) as usize) % lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<Vec<u8>, &'static str>;

    fn ok(bytes: &[u8]) -> Outcome {
        Ok(bytes.to_vec())
    }

    #[test]
    fn replies_find_their_asks_and_late_ones_are_counted() {
        let mut p = PendingAsks::<Outcome>::default();
        let (a, mut ra) = p.register();
        let (b, mut rb) = p.register();
        let (c, mut rc) = p.register();
        assert!(a < b && b < c, "correlation ids are unique and increasing");
        assert!(p.complete(b, ok(b"two")));
        assert_eq!(rb.try_recv(), Ok(Ok(b"two".to_vec())));
        assert!(p.complete(a, Err("mailbox full")));
        assert_eq!(ra.try_recv(), Ok(Err("mailbox full")));
        p.forget(c);
        assert!(
            !p.complete(c, ok(b"too late")),
            "a timed-out ask's reply is late"
        );
        assert!(!p.complete(b, ok(b"again")), "a duplicate is late");
        assert!(!p.complete(999, ok(b"never asked")));
        assert_eq!(p.late_replies(), 3);
        assert!(rc.try_recv().is_err());
        assert!(p.is_empty());
    }

    #[test]
    fn a_lost_connection_fails_every_waiting_ask_at_once() {
        let mut p = PendingAsks::<Outcome>::default();
        let mut rs: Vec<_> = (0..5).map(|_| p.register().1).collect();
        assert_eq!(p.fail_all(|| Err("node down")), 5);
        for r in &mut rs {
            assert_eq!(r.try_recv(), Ok(Err("node down")));
        }
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn a_recipient_always_uses_one_lane_and_lanes_are_all_used() {
        let lanes = 4;
        let mut used = [0usize; 4];
        for r in 0..1000u64 {
            let l = lane_for(r, lanes);
            assert_eq!(l, lane_for(r, lanes), "stable");
            used[l] += 1;
        }
        assert!(
            used.iter().all(|&n| n > 150),
            "spread over every lane: {used:?}"
        );
        assert_eq!(lane_for(42, 1), 0);
        assert_eq!(lane_for(42, 0), 0);
    }
}
