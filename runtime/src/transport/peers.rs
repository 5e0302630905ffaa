//! Which connection to each peer node is the live one (sans-IO).
//!
//! One connection per node pair: when two nodes dial each other at the same
//! time, both ends keep the connection dialed by the node with the smaller
//! name, and each can decide that alone. A connection from a newer
//! incarnation of a peer replaces the old one (the old node is gone). A lost
//! peer is redialed with exponential backoff and jitter.

use crate::platform::Instant;
use std::collections::HashMap;
use std::time::Duration;

/// What to do with a connection whose handshake just completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<C> {
    /// Use it; close `replaced` (an older or losing connection), if any.
    Accepted {
        /// The connection it replaces.
        replaced: Option<C>,
    },
    /// Close it: the existing connection wins the tie.
    Duplicate(C),
}

#[derive(Debug)]
enum State<C> {
    Connected {
        conn: C,
        incarnation: u64,
        dialed_by_me: bool,
    },
    Backoff {
        attempt: u32,
        due: Instant,
    },
}

/// Redial timing after a lost connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Redial {
    /// First delay.
    pub min: Duration,
    /// Cap.
    pub max: Duration,
    /// Fraction added at random, in `[0, 1]`.
    pub jitter: f64,
}

impl Default for Redial {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(10),
            jitter: 0.2,
        }
    }
}

impl Redial {
    fn delay(&self, attempt: u32, unit: f64) -> Duration {
        crate::platform::backoff_delay(self.min, self.max, self.jitter, attempt, unit)
    }
}

/// The live connection (or the redial schedule) of every peer.
#[derive(Debug)]
pub struct PeerTable<C> {
    me: String,
    redial: Redial,
    peers: HashMap<String, State<C>>,
}

impl<C> PeerTable<C> {
    /// The table of node `me`.
    pub fn new(me: &str, redial: Redial) -> Self {
        Self {
            me: me.to_owned(),
            redial,
            peers: HashMap::new(),
        }
    }

    /// A handshake with `peer` (in `incarnation`) completed on `conn`, which
    /// this node dialed or accepted.
    pub fn offer(&mut self, peer: &str, incarnation: u64, conn: C, dialed_by_me: bool) -> Offer<C> {
        let keep_new = match self.peers.get(peer) {
            // the newer incarnation wins; within one, the smaller node's dial
            Some(State::Connected {
                incarnation: old_inc,
                dialed_by_me: old_by_me,
                ..
            }) => {
                if incarnation != *old_inc {
                    incarnation > *old_inc
                } else {
                    let smaller_is_me = self.me.as_str() < peer;
                    dialed_by_me == smaller_is_me && *old_by_me != smaller_is_me
                }
            }
            _ => true,
        };
        if !keep_new {
            return Offer::Duplicate(conn);
        }
        let fresh = State::Connected {
            conn,
            incarnation,
            dialed_by_me,
        };
        let replaced = match self.peers.insert(peer.to_owned(), fresh) {
            Some(State::Connected { conn: old, .. }) => Some(old),
            _ => None,
        };
        Offer::Accepted { replaced }
    }

    /// The live connection to `peer`, if any.
    pub fn get(&self, peer: &str) -> Option<&C> {
        match self.peers.get(peer) {
            Some(State::Connected { conn, .. }) => Some(conn),
            _ => None,
        }
    }

    /// The connection to `peer` was lost at `now`: it is forgotten and a
    /// redial is scheduled (`unit`: a uniform sample in `[0, 1)` for jitter,
    /// from the node's RNG). Returns when the redial is due.
    pub fn lost(&mut self, peer: &str, now: Instant, unit: f64) -> Instant {
        let attempt = match self.peers.get(peer) {
            Some(State::Backoff { attempt, .. }) => attempt + 1,
            _ => 1,
        };
        let due = now + self.redial.delay(attempt, unit);
        self.peers
            .insert(peer.to_owned(), State::Backoff { attempt, due });
        due
    }

    /// Peers whose redial is due at `now`, in name order.
    pub fn due(&self, now: Instant) -> Vec<String> {
        let mut v: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, s)| matches!(s, State::Backoff { due, .. } if *due <= now))
            .map(|(p, _)| p.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Both ends of a simultaneous dial keep the same connection,
        /// whatever order each sees the two handshakes complete in.
        #[test]
        fn both_ends_keep_the_same_connection(a_first in any::<bool>(), b_first in any::<bool>()) {
            // conn 1 is dialed by "alpha" (the smaller name), conn 2 by "beta"
            let mut at_alpha = PeerTable::new("alpha", Redial::default());
            let mut at_beta = PeerTable::new("beta", Redial::default());
            let alpha_order = if a_first { [(1, true), (2, false)] } else { [(2, false), (1, true)] };
            let beta_order = if b_first { [(1, false), (2, true)] } else { [(2, true), (1, false)] };
            for (c, by_me) in alpha_order { let _ = at_alpha.offer("beta", 1, c, by_me); }
            for (c, by_me) in beta_order { let _ = at_beta.offer("alpha", 1, c, by_me); }
            prop_assert_eq!(at_alpha.get("beta"), Some(&1));
            prop_assert_eq!(at_beta.get("alpha"), Some(&1));
        }
    }

    #[test]
    fn a_newer_incarnation_replaces_the_old_connection() {
        let mut t = PeerTable::new("alpha", Redial::default());
        assert_eq!(
            t.offer("beta", 1, "old", true),
            Offer::Accepted { replaced: None }
        );
        assert_eq!(
            t.offer("beta", 2, "new", false),
            Offer::Accepted {
                replaced: Some("old")
            }
        );
        assert_eq!(t.offer("beta", 1, "stale", true), Offer::Duplicate("stale"));
        assert_eq!(t.get("beta"), Some(&"new"));
    }

    #[test]
    fn redials_back_off_exponentially_with_a_cap() {
        let redial = Redial {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
        };
        let mut t: PeerTable<u8> = PeerTable::new("alpha", redial);
        let now = tokio::time::Instant::now();
        let delays: Vec<Duration> = (0..6).map(|_| t.lost("beta", now, 0.5) - now).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        assert!(t.due(now).is_empty());
        assert_eq!(t.due(now + Duration::from_secs(1)), ["beta"]);
        // a successful connection starts the schedule over
        assert_eq!(
            t.offer("beta", 1, 7, true),
            Offer::Accepted { replaced: None }
        );
        assert_eq!(t.lost("beta", now, 0.0) - now, Duration::from_millis(100));
    }
}
