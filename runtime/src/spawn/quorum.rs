//! What a node does with the actors placed on it (by a remote spawn, its
//! own or another node's) when it loses its quorum: on a partition's
//! losing side they stop at once, at its first suspicions. Their
//! supervisors, if they sit on the side that goes on, start them again
//! there after [`HANDOVER_MARGIN`](crate::cluster::HANDOVER_MARGIN) (which
//! comes after a down verdict, itself after the suspicions); stopping them
//! here first is what keeps one child from running on both sides. A
//! supervisor on the losing side sees them exit and cannot place them
//! again ([`SpawnError::NoQuorum`](super::SpawnError::NoQuorum)); if the
//! quorum comes back (a passing blip), its restarts succeed again.

use crate::actor::Exported;
use std::sync::{Arc, Mutex};

/// The actors placed on this node.
#[derive(Default)]
pub(super) struct Served {
    actors: Mutex<Vec<Arc<dyn Exported>>>,
}

impl Served {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Exported>>> {
        self.actors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `actor` was placed here. The ones that ended are dropped whenever
    /// the list doubles, so it stays within twice the actors running.
    pub(super) fn record(&self, actor: Arc<dyn Exported>) {
        let mut list = self.lock();
        if list.len() >= 16 && list.len() == list.capacity() {
            list.retain(|a| !a.is_closed());
        }
        list.push(actor);
    }

    /// Stops every actor placed here still running; returns how many.
    pub(super) fn stop_all(&self) -> usize {
        let stopping: Vec<Arc<dyn Exported>> = std::mem::take(&mut *self.lock())
            .into_iter()
            .filter(|a| !a.is_closed())
            .collect();
        for a in &stopping {
            a.stop(false);
        }
        stopping.len()
    }
}
