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

/// A node's actors reachable from the wire.
#[derive(Default)]
pub(crate) struct Exposed {
    by_number: RwLock<ByNumber>,
    by_name: Mutex<HashMap<String, Arc<dyn Exported>>>,
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
        }
        n.actors.insert(actor.id().local, actor);
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
    }
}
