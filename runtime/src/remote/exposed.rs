//! The local actors other nodes can reach: by number (every actor whose ref
//! left this node inside a message, or that was exposed) and by exposed
//! name (what `Node::lookup` finds).

use crate::actor::Exported;
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, RwLock};

#[derive(Default)]
struct ByNumber {
    actors: HashMap<u64, Arc<dyn Exported>>,
    /// Size after the last sweep of closed entries: the next sweep waits
    /// until the map has doubled, so exporting stays O(1) amortised.
    swept_at: usize,
}

/// Who may stop a local actor from the wire (an `Exit`). Nobody unless
/// granted: an actor a peer spawned may be stopped by that peer; one placed
/// for the cluster (spawned into a group: a deployment's instance, which
/// whichever member supervises the deployment may adopt) and one the user
/// allowed ([`Node::allow_remote_stop`](crate::Node::allow_remote_stop))
/// by any peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stopper {
    /// The peer node of this name.
    Peer(Arc<str>),
    /// Any peer.
    Any,
}

/// A node's actors reachable from the wire.
#[derive(Default)]
pub(crate) struct Exposed {
    by_number: RwLock<ByNumber>,
    by_name: Mutex<HashMap<String, Arc<dyn Exported>>>,
    /// Who may stop which actor, by number (swept with the actors).
    stoppers: Mutex<HashMap<u64, Stopper>>,
}

impl Exposed {
    /// Makes `actor` reachable by `name` (and by number).
    pub(crate) fn expose(&self, name: &str, actor: Arc<dyn Exported>) {
        self.export(actor.clone());
        self.by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), actor);
    }

    /// Makes `actor` reachable by its number.
    pub(crate) fn export(&self, actor: Arc<dyn Exported>) {
        let mut n = self.by_number.write().unwrap_or_else(|p| p.into_inner());
        if n.actors.len() >= 2 * n.swept_at.max(64) {
            n.actors.retain(|_, e| !e.is_closed());
            n.swept_at = n.actors.len();
            let mut stoppers = self.stoppers.lock().unwrap_or_else(|p| p.into_inner());
            stoppers.retain(|local, _| n.actors.contains_key(local));
        }
        n.actors.insert(actor.id().local, actor);
    }

    /// Lets `who` stop actor `local` from the wire.
    pub(crate) fn grant_stop(&self, local: u64, who: Stopper) {
        self.stoppers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(local, who);
    }

    /// Whether peer node `peer` may stop actor `local`.
    pub(crate) fn may_stop(&self, local: u64, peer: &str) -> bool {
        match self
            .stoppers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&local)
        {
            Some(Stopper::Any) => true,
            Some(Stopper::Peer(p)) => &**p == peer,
            None => false,
        }
    }

    /// The reachable local actor number `local`, if it still exists.
    pub(crate) fn get(&self, local: u64) -> Option<Arc<dyn Exported>> {
        let n = self.by_number.read().unwrap_or_else(|p| p.into_inner());
        n.actors.get(&local).filter(|e| !e.is_closed()).cloned()
    }

    /// The number of the live actor exposed as `name`.
    pub(crate) fn whereis(&self, name: &str) -> Option<u64> {
        let names = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        names
            .get(name)
            .filter(|e| !e.is_closed())
            .map(|e| e.id().local)
    }

    /// Forgets every actor (the node is leaving).
    pub(crate) fn clear(&self) {
        self.by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.by_number.write().unwrap_or_else(|p| p.into_inner()) = ByNumber::default();
        self.stoppers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
