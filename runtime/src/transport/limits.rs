//! What peers may make a node hold, in one place: every resource a peer can
//! cost the node (handshake state, streams, buffered bytes, monitors, served
//! asks, queued output) has a bound here, in size and where it matters in
//! time, and every refusal at a bound is counted (the node's `NetStats`).
//!
//! The handshake gate is the first of them: it decides, before any state is
//! kept for a connection attempt, whether to take it on, to ask the client
//! to prove its address first (a stateless QUIC Retry), or to refuse it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The bounds a node holds its peers to. Each is configurable on the node's
/// builder ([`NodeBuilder::limits`](crate::NodeBuilder::limits)); the
/// defaults suit a cluster of trusted members on a network anyone may send
/// packets on.
///
/// Fixed, not configurable: a peer may open one bidirectional stream (the
/// dialer's control lane) and 48
/// unidirectional ones at a time, each with a 2 MiB receive window; a frame
/// is at most 16 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerLimits {
    /// Incoming handshakes (TLS, then arbour's hello) in flight at once,
    /// over all peers. Past it, connection attempts are refused at once.
    /// Each holds about 60 KB until it completes or times out.
    pub handshakes_in_flight: usize,
    /// Handshakes in flight past which a client must first prove it can
    /// receive at its address (QUIC Retry: the node keeps no state until it
    /// answers). Spoofed or abandoned attempts then hold at most this many
    /// slots; clients that answered the Retry may use the rest.
    pub unvalidated_handshakes: usize,
    /// Handshakes in flight at once from one IP address that proved it
    /// receives there (answered a Retry). Past it, that address's attempts
    /// are refused, counted; other hosts keep the rest of the pool (one
    /// host that answers the Retry and then goes silent cannot take it
    /// all). Unvalidated attempts are not counted per address: their
    /// source may be forged, and they have their own share.
    pub handshakes_per_source: usize,
    /// How far ahead of this node's wall clock a peer's life (its hello's
    /// incarnation, wall-clock milliseconds at its start) may be. A hello
    /// further ahead is refused: a life far in the future would outrank
    /// every real restart of that node (the membership keeps the newest
    /// life of a name) for as long as the clocks take to catch up.
    pub incarnation_ahead: Duration,
    /// How long a connection attempt may take from its first packet to the
    /// end of arbour's handshake. Past it, the attempt is dropped.
    pub handshake_timeout: Duration,
    /// Bytes of frames begun but not finished that one connection may have
    /// the node hold, over all its streams. Past it, the connection is
    /// closed as a protocol violation. An arbour sender keeps its large
    /// frames in flight under 32 MiB,
    /// well inside the default.
    pub unfinished_frame_bytes: usize,
    /// How long a frame, once begun, may take to arrive whole. Past it, the
    /// connection is closed (a peer cannot park bytes by never finishing).
    pub frame_deadline: Duration,
    /// Monitors one peer may hold on this node's actors (each costs a few
    /// hundred bytes). Past it, a monitor is refused: the peer's watcher
    /// gets `Down` with an error saying so.
    pub peer_monitors: usize,
    /// Asks from one peer being served at once (each holds its message
    /// and the handler's state until it replies). Past it, an ask is
    /// answered at once: the asker gets [`AskError::Overloaded`](crate::AskError::Overloaded).
    pub served_asks: usize,
    /// The longest a peer's ask holds its place among
    /// [`PeerLimits::served_asks`]: until its handler is done, and at most
    /// this long, whatever timeout the asker chose (a 1 ms timeout does not
    /// free the place while the handler runs; u32::MAX ms does not hold it
    /// for 49 days). An asker that waits longer gets `Timeout` at this.
    pub served_ask_timeout: Duration,
    /// Asks being served at once over all peers. Each peer's life has its
    /// own [`PeerLimits::served_asks`] (a restarted peer is not locked out
    /// by its old life's asks still running out); this bounds them all.
    pub served_asks_total: usize,
    /// Remote spawns from one peer being started at once. Past it, a spawn
    /// is refused (`NetStats::spawns_refused`).
    pub spawns_in_flight: usize,
    /// Actors one peer spawned here that may run at once. Past it, a spawn
    /// is refused (`NetStats::spawns_refused`) and nothing of it runs.
    pub spawned_actors: usize,
    /// Bytes one connection may hold queued for the peer, over all its
    /// lanes. Past it, a plain tell is dropped, logged and counted
    /// (`Stats::outbound_drops`); senders that can wait are told to.
    pub outbound_cap: usize,
}

/// The default [`PeerLimits::handshakes_in_flight`].
pub const DEFAULT_HANDSHAKES_IN_FLIGHT: usize = 256;
/// The default [`PeerLimits::unvalidated_handshakes`].
pub const DEFAULT_UNVALIDATED_HANDSHAKES: usize = 64;
/// The default [`PeerLimits::handshakes_per_source`].
pub const DEFAULT_HANDSHAKES_PER_SOURCE: usize = 32;
/// The default [`PeerLimits::incarnation_ahead`]: hosts whose clocks are
/// minutes apart still connect (and are told why when they are further).
pub const DEFAULT_INCARNATION_AHEAD: Duration = Duration::from_secs(600);
/// The default [`PeerLimits::unfinished_frame_bytes`].
pub const DEFAULT_UNFINISHED_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// The default [`PeerLimits::frame_deadline`].
pub const DEFAULT_FRAME_DEADLINE: Duration = Duration::from_secs(30);
/// The default [`PeerLimits::spawns_in_flight`].
pub const DEFAULT_SPAWNS_IN_FLIGHT: usize = 256;
/// The default [`PeerLimits::spawned_actors`]: a supervisor's pools and a
/// task layer's workers fit many times over.
pub const DEFAULT_SPAWNED_ACTORS: usize = 10_000;
/// The default [`PeerLimits::served_asks_total`].
pub const DEFAULT_SERVED_ASKS_TOTAL: usize = 65_536;
/// The default [`PeerLimits::served_ask_timeout`].
pub const DEFAULT_SERVED_ASK_TIMEOUT: Duration = Duration::from_secs(300);
/// The default [`PeerLimits::served_asks`].
pub const DEFAULT_SERVED_ASKS: usize = 4096;

/// Monitors one peer may hold on this node's actors unless configured
/// otherwise (each costs a few hundred bytes).
pub const DEFAULT_PEER_MONITORS: usize = 100_000;

impl Default for PeerLimits {
    fn default() -> Self {
        Self {
            handshakes_in_flight: DEFAULT_HANDSHAKES_IN_FLIGHT,
            unvalidated_handshakes: DEFAULT_UNVALIDATED_HANDSHAKES,
            handshakes_per_source: DEFAULT_HANDSHAKES_PER_SOURCE,
            incarnation_ahead: DEFAULT_INCARNATION_AHEAD,
            handshake_timeout: super::DEFAULT_HANDSHAKE_TIMEOUT,
            unfinished_frame_bytes: DEFAULT_UNFINISHED_FRAME_BYTES,
            frame_deadline: DEFAULT_FRAME_DEADLINE,
            peer_monitors: DEFAULT_PEER_MONITORS,
            served_asks: DEFAULT_SERVED_ASKS,
            served_ask_timeout: DEFAULT_SERVED_ASK_TIMEOUT,
            served_asks_total: DEFAULT_SERVED_ASKS_TOTAL,
            spawns_in_flight: DEFAULT_SPAWNS_IN_FLIGHT,
            spawned_actors: DEFAULT_SPAWNED_ACTORS,
            outbound_cap: super::DEFAULT_OUTBOUND_CAP,
        }
    }
}

/// Refusals at the limits, counted (read into the node's `NetStats`).
#[derive(Debug, Default)]
pub struct LimitCounters {
    /// Connection attempts refused: handshakes in flight at their cap.
    pub handshakes_refused: AtomicU64,
    /// Connection attempts asked to validate their address (QUIC Retry).
    pub handshakes_retried: AtomicU64,
    /// Handshakes dropped at their deadline.
    pub handshakes_timed_out: AtomicU64,
    /// Connection attempts refused because their address already had
    /// [`PeerLimits::handshakes_per_source`] in flight.
    pub handshakes_refused_per_source: AtomicU64,
    /// Hellos refused (another cluster or version, a certificate that does
    /// not name the node, a life ahead of the clock, a malformed or
    /// oversized frame before the hello).
    pub hellos_refused: AtomicU64,
    /// Connections closed for holding too many bytes of unfinished frames,
    /// or a frame past its deadline.
    pub unfinished_frames_refused: AtomicU64,
    /// Asks answered `Overloaded`: the peer had its maximum being served.
    pub served_asks_refused: AtomicU64,
}

/// What to do with a connection attempt.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Take it on; the slot is held until the handshake ends.
    Accept(HandshakeSlot),
    /// Ask the client to prove its address first (no state kept).
    Retry,
    /// Refuse it: the pool is full.
    Refuse,
    /// Refuse it: its (validated) address has its share in flight.
    RefuseSource,
}

/// Validated handshakes in flight, by source address.
type BySource = Arc<std::sync::Mutex<std::collections::BTreeMap<IpAddr, usize>>>;

/// Counts handshakes in flight against [`PeerLimits`].
#[derive(Debug)]
pub(crate) struct HandshakeGate {
    cap: usize,
    unvalidated_cap: usize,
    per_source: usize,
    in_flight: Arc<AtomicUsize>,
    by_source: BySource,
}

impl HandshakeGate {
    pub(crate) fn new(limits: &PeerLimits) -> Self {
        Self {
            cap: limits.handshakes_in_flight,
            unvalidated_cap: limits.unvalidated_handshakes.min(limits.handshakes_in_flight),
            per_source: limits.handshakes_per_source.max(1),
            in_flight: Arc::default(),
            by_source: Arc::default(),
        }
    }

    /// Decides on an attempt from `source`, whose address is `validated`
    /// (it answered a Retry) or not, and which `may_retry` (has not been
    /// sent one yet).
    pub(crate) fn admit(&self, source: IpAddr, validated: bool, may_retry: bool) -> Admission {
        let n = self.in_flight.load(Ordering::Relaxed);
        if n >= self.cap {
            return Admission::Refuse;
        }
        if !validated && n >= self.unvalidated_cap {
            return if may_retry {
                Admission::Retry
            } else {
                Admission::Refuse
            };
        }
        let source = if validated {
            let mut by = self.by_source.lock().unwrap_or_else(|p| p.into_inner());
            let held = by.entry(source).or_insert(0);
            if *held >= self.per_source {
                return Admission::RefuseSource;
            }
            *held += 1;
            Some((source, self.by_source.clone()))
        } else {
            None
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Admission::Accept(HandshakeSlot {
            in_flight: self.in_flight.clone(),
            source,
        })
    }

    /// Handshakes in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// One handshake's place under the cap (and its address's share, if
/// validated), given back when dropped.
#[derive(Debug)]
pub(crate) struct HandshakeSlot {
    in_flight: Arc<AtomicUsize>,
    source: Option<(IpAddr, BySource)>,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some((ip, by)) = &self.source {
            let mut by = by.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(held) = by.get_mut(ip) {
                *held -= 1;
                if *held == 0 {
                    by.remove(ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(cap: usize, unvalidated: usize) -> HandshakeGate {
        HandshakeGate::new(&PeerLimits {
            handshakes_in_flight: cap,
            unvalidated_handshakes: unvalidated,
            ..PeerLimits::default()
        })
    }

    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// One host that answers the Retry holds at most its share; another
    /// still gets in, and the share comes back as its attempts end.
    #[test]
    fn a_validated_address_holds_at_most_its_share_of_the_pool() {
        let g = HandshakeGate::new(&PeerLimits {
            handshakes_in_flight: 16,
            unvalidated_handshakes: 0,
            handshakes_per_source: 4,
            ..PeerLimits::default()
        });
        let stranger: IpAddr = "10.0.0.9".parse().expect("ip");
        let held: Vec<_> = (0..4)
            .map(|_| match g.admit(stranger, true, false) {
                Admission::Accept(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(g.admit(stranger, true, false), Admission::RefuseSource));
        assert!(matches!(g.admit(HOST, true, false), Admission::Accept(_)));
        drop(held);
        assert!(matches!(g.admit(stranger, true, false), Admission::Accept(_)));
        assert_eq!(g.in_flight(), 0);
    }

    #[test]
    fn unvalidated_attempts_get_a_retry_past_their_share_and_everyone_a_refusal_at_the_cap() {
        let g = gate(4, 2);
        let mut held: Vec<_> = (0..2)
            .map(|_| match g.admit(HOST, false, true) {
                Admission::Accept(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(g.admit(HOST, false, true), Admission::Retry));
        // a client that already had its Retry and still is not validated
        assert!(matches!(g.admit(HOST, false, false), Admission::Refuse));
        for _ in 0..2 {
            match g.admit(HOST, true, false) {
                Admission::Accept(s) => held.push(s),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(g.in_flight(), 4);
        assert!(matches!(g.admit(HOST, true, false), Admission::Refuse));
        held.clear();
        assert_eq!(g.in_flight(), 0, "slots come back when dropped");
        assert!(matches!(g.admit(HOST, false, true), Admission::Accept(_)));
    }
}
