//! Which connection to each peer node is the live one, and when to redial
//! a lost one (sans-IO): the one truth about the node's peers.
//!
//! One connection per node pair: when two nodes dial each other at the same
//! time, both ends keep the connection dialed by the node with the smaller
//! name, and each can decide that alone. A connection from a newer
//! incarnation of a peer replaces the old one (the old node is gone). A lost
//! peer is redialed with exponential backoff and jitter, by at most one
//! timer at a time.

use crate::platform::Instant;
use std::collections::BTreeMap;

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
    /// Not connected: `attempt` dials have failed since the last connection;
    /// `timer` is the one redial timer running, if any.
    Down { attempt: u32, timer: Option<u64> },
}

/// The one redial timer of a peer: dial at `due`. A timer whose `id` is no
/// longer the peer's (it connected meanwhile, or was lost and re-armed)
/// stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Which timer.
    pub id: u64,
    /// When to dial.
    pub due: Instant,
}

/// What a lost connection means.
#[derive(Debug, PartialEq, Eq)]
pub enum Lost {
    /// It was not the peer's live connection (a duplicate, or replaced).
    NotLive,
    /// It was: the peer is down, and redialed by `redial` if it can be.
    Live {
        /// The timer to run (none if the peer cannot be redialed, or one
        /// runs already).
        redial: Option<Timer>,
    },
}

/// Redial timing after a lost connection: the shared backoff shape (its
/// `reset_after` is not used: a successful connection starts over).
pub type Redial = crate::platform::Backoff;

/// The redial backoff unless configured otherwise: 100 ms doubling to 10 s,
/// 20 % jitter.
pub fn default_redial() -> Redial {
    Redial::exponential(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(10),
    )
}

/// Every peer's live connection, or its redial state with at most one
/// timer.
#[derive(Debug)]
pub struct PeerTable<C> {
    me: String,
    redial: Redial,
    peers: BTreeMap<String, State<C>>,
    next_timer: u64,
}

impl<C: Clone> PeerTable<C> {
    /// The table of node `me`.
    pub fn new(me: &str, redial: Redial) -> Self {
        Self {
            me: me.to_owned(),
            redial,
            peers: BTreeMap::new(),
            next_timer: 0,
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

    /// The connection for which `is_it` holds was lost at `now`. If it was
    /// `peer`'s live one, the peer is down; if `can_redial` (its address is
    /// known) a redial timer is armed after the backoff (`unit`: a uniform
    /// sample in `[0, 1)` for jitter, from the node's RNG).
    pub fn lost(
        &mut self,
        peer: &str,
        is_it: impl FnOnce(&C) -> bool,
        now: Instant,
        unit: f64,
        can_redial: bool,
    ) -> Lost {
        match self.peers.get(peer) {
            Some(State::Connected { conn, .. }) if is_it(conn) => {}
            _ => return Lost::NotLive,
        }
        self.peers.insert(
            peer.to_owned(),
            State::Down {
                attempt: 0,
                timer: None,
            },
        );
        let redial = can_redial.then(|| self.arm(peer, now, unit)).flatten();
        Lost::Live { redial }
    }

    /// Starts dialing `peer` at `now` (a peer given at start, or redialed by
    /// hand), unless it is connected or a timer runs for it already.
    pub fn dial_now(&mut self, peer: &str, now: Instant) -> Option<Timer> {
        if let Some(State::Connected { .. } | State::Down { timer: Some(_), .. }) =
            self.peers.get(peer)
        {
            return None;
        }
        let id = self.next_id();
        let attempt = match self.peers.get(peer) {
            Some(State::Down { attempt, .. }) => *attempt,
            _ => 0,
        };
        self.peers.insert(
            peer.to_owned(),
            State::Down {
                attempt,
                timer: Some(id),
            },
        );
        Some(Timer { id, due: now })
    }

    /// Whether timer `id` is still `peer`'s (else its loop stops).
    pub fn is_current(&self, peer: &str, id: u64) -> bool {
        matches!(self.peers.get(peer), Some(State::Down { timer: Some(t), .. }) if *t == id)
    }

    /// The dial of timer `id` failed at `now`: when to try again, or `None`
    /// if the timer is no longer the peer's.
    pub fn dial_failed(&mut self, peer: &str, id: u64, now: Instant, unit: f64) -> Option<Instant> {
        let redial = self.redial;
        match self.peers.get_mut(peer) {
            Some(State::Down {
                attempt,
                timer: Some(t),
            }) if *t == id => {
                *attempt += 1;
                Some(now + redial.delay(*attempt, unit))
            }
            _ => None,
        }
    }

    /// Forgets `peer` unless it is connected: its redial timer stops (the
    /// loop finds it is no longer the peer's) and its entry goes. Returns
    /// whether it was forgotten.
    pub fn forget(&mut self, peer: &str) -> bool {
        match self.peers.get(peer) {
            Some(State::Connected { .. }) => false,
            Some(State::Down { .. }) => {
                self.peers.remove(peer);
                true
            }
            None => true,
        }
    }

    /// Peers in the table (connected, or down with or without a timer).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Stops every timer and forgets every connection, returning them (the
    /// node is leaving).
    pub fn close_all(&mut self) -> Vec<C> {
        let mut conns = Vec::new();
        for state in self.peers.values_mut() {
            if let State::Connected { conn, .. } = state {
                conns.push(conn.clone());
            }
            *state = State::Down {
                attempt: 0,
                timer: None,
            };
        }
        conns
    }

    fn next_id(&mut self) -> u64 {
        self.next_timer += 1;
        self.next_timer
    }

    fn arm(&mut self, peer: &str, now: Instant, unit: f64) -> Option<Timer> {
        let id = self.next_id();
        let redial = self.redial;
        match self.peers.get_mut(peer) {
            Some(State::Down {
                attempt,
                timer: timer @ None,
            }) => {
                *timer = Some(id);
                *attempt += 1;
                Some(Timer {
                    id,
                    due: now + redial.delay(*attempt, unit),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    proptest! {
        /// Both ends of a simultaneous dial keep the same connection,
        /// whatever order each sees the two handshakes complete in.
        #[test]
        fn both_ends_keep_the_same_connection(a_first in any::<bool>(), b_first in any::<bool>()) {
            // conn 1 is dialed by "alpha" (the smaller name), conn 2 by "beta"
            let mut at_alpha = PeerTable::new("alpha", default_redial());
            let mut at_beta = PeerTable::new("beta", default_redial());
            let alpha_order = if a_first { [(1, true), (2, false)] } else { [(2, false), (1, true)] };
            let beta_order = if b_first { [(1, false), (2, true)] } else { [(2, true), (1, false)] };
            for (c, by_me) in alpha_order { let _ = at_alpha.offer("beta", 1, c, by_me); }
            for (c, by_me) in beta_order { let _ = at_beta.offer("alpha", 1, c, by_me); }
            prop_assert_eq!(at_alpha.get("beta"), Some(&1));
            prop_assert_eq!(at_beta.get("alpha"), Some(&1));
        }

        /// Whatever happens to a peer, at most one redial timer is its own.
        #[test]
        fn a_peer_never_has_two_redial_timers(steps in proptest::collection::vec(0u8..4, 1..40)) {
            let mut t = PeerTable::new("alpha", default_redial());
            let now = tokio::time::Instant::now();
            let (mut timers, mut conn) = (Vec::new(), 0u32);
            for step in steps {
                match step {
                    0 => timers.extend(t.dial_now("beta", now)),
                    1 => {
                        conn += 1;
                        let _ = t.offer("beta", 1, conn, true);
                    }
                    2 => {
                        if let Lost::Live { redial } = t.lost("beta", |c| *c == conn, now, 0.5, true) {
                            timers.extend(redial);
                        }
                    }
                    _ => {
                        if let Some(&Timer { id, .. }) = timers.last() {
                            let _ = t.dial_failed("beta", id, now, 0.5);
                        }
                    }
                }
                let live = timers.iter().filter(|tm| t.is_current("beta", tm.id)).count();
                prop_assert!(live <= 1, "{live} timers");
                if t.get("beta").is_some() {
                    prop_assert_eq!(live, 0, "a connected peer has no timer");
                }
            }
        }
    }

    #[test]
    fn a_newer_incarnation_replaces_the_old_connection() {
        let mut t = PeerTable::new("alpha", default_redial());
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
        assert_eq!(
            t.lost(
                "beta",
                |c| *c == "old",
                tokio::time::Instant::now(),
                0.0,
                true
            ),
            Lost::NotLive,
            "losing a replaced connection changes nothing"
        );
    }

    #[test]
    fn redials_back_off_exponentially_with_a_cap_and_start_over_when_connected() {
        let redial = Redial {
            jitter: 0.0,
            ..Redial::exponential(Duration::from_millis(100), Duration::from_secs(1))
        };
        let mut t: PeerTable<u8> = PeerTable::new("alpha", redial);
        let now = tokio::time::Instant::now();
        let _ = t.offer("beta", 1, 7, true);
        let Lost::Live {
            redial: Some(timer),
        } = t.lost("beta", |c| *c == 7, now, 0.5, true)
        else {
            panic!("a live connection was lost");
        };
        let mut delays = vec![timer.due - now];
        for _ in 0..5 {
            let due = t
                .dial_failed("beta", timer.id, now, 0.5)
                .expect("still its timer");
            delays.push(due - now);
        }
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        assert_eq!(t.dial_now("beta", now), None, "one timer runs already");
        // a successful connection ends the timer and starts the schedule over
        let _ = t.offer("beta", 1, 8, false);
        assert!(!t.is_current("beta", timer.id));
        assert_eq!(t.dial_failed("beta", timer.id, now, 0.5), None);
        let Lost::Live {
            redial: Some(again),
        } = t.lost("beta", |c| *c == 8, now, 0.0, true)
        else {
            panic!("lost again");
        };
        assert_eq!(again.due - now, Duration::from_millis(100));
        // a peer without a known address is not redialed
        let _ = t.offer("gamma", 1, 9, false);
        assert_eq!(
            t.lost("gamma", |c| *c == 9, now, 0.0, false),
            Lost::Live { redial: None }
        );
    }
}
