//! How much one peer may make this node run through remote spawns: at most
//! [`PeerLimits::spawns_in_flight`](crate::net::PeerLimits::spawns_in_flight)
//! being started at once, and at most
//! [`PeerLimits::spawned_actors`](crate::net::PeerLimits::spawned_actors)
//! of the actors it spawned still running. Past either, the spawn is
//! refused (counted in `NetStats::spawns_refused`) and nothing of it runs.
//! Instances placed for the cluster's deployments count against the peer
//! that asked, like any other.

use crate::actor::Exported;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One peer's spawns.
#[derive(Default)]
struct PeerSpawns {
    in_flight: usize,
    running: Vec<Arc<dyn Exported>>,
}

/// Every peer's spawns here.
#[derive(Default)]
pub(super) struct Quota {
    peers: Mutex<BTreeMap<Arc<str>, PeerSpawns>>,
}

/// A spawn's place under its peer's in-flight limit, given back when
/// dropped.
pub(super) struct InFlight<'a> {
    quota: &'a Quota,
    peer: Arc<str>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut peers = self.quota.lock();
        if let Some(p) = peers.get_mut(&self.peer) {
            p.in_flight = p.in_flight.saturating_sub(1);
            if p.in_flight == 0 && p.running.is_empty() {
                peers.remove(&self.peer);
            }
        }
    }
}

impl Quota {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Arc<str>, PeerSpawns>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for one more spawn of `peer`'s, unless it has
    /// `max_in_flight` being started or `max_running` of its actors still
    /// running: then says which.
    pub(super) fn admit(
        &self,
        peer: &str,
        max_in_flight: usize,
        max_running: usize,
    ) -> Result<InFlight<'_>, String> {
        let mut peers = self.lock();
        let p = peers.entry(peer.into()).or_default();
        if p.in_flight >= max_in_flight {
            return Err(format!(
                "node {peer} has {} spawns being started here, its maximum (PeerLimits::spawns_in_flight)",
                p.in_flight
            ));
        }
        if p.running.len() >= max_running {
            p.running.retain(|a| !a.is_closed());
            if p.running.len() >= max_running {
                return Err(format!(
                    "node {peer} has {} actors it spawned running here, its maximum (PeerLimits::spawned_actors)",
                    p.running.len()
                ));
            }
        }
        p.in_flight += 1;
        Ok(InFlight {
            quota: self,
            peer: peer.into(),
        })
    }

    /// `actor`, spawned for `peer`, runs.
    pub(super) fn started(&self, peer: &str, actor: Arc<dyn Exported>) {
        let mut peers = self.lock();
        let p = peers.entry(peer.into()).or_default();
        if p.running.len() >= 16 && p.running.len() == p.running.capacity() {
            p.running.retain(|a| !a.is_closed());
        }
        p.running.push(actor);
    }

    /// Actors spawned by peers still running here (as last swept).
    pub(super) fn running(&self) -> usize {
        self.lock()
            .values()
            .map(|p| p.running.iter().filter(|a| !a.is_closed()).count())
            .sum()
    }
}
