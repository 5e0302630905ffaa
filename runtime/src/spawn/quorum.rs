//! What a node does with the actors it started for others when it loses
//! its quorum: on a partition's losing side, the actors started here for
//! a node it cannot reach are stopped at once. Their supervisors, if they
//! sit on the side that goes on, start them again there after
//! [`HANDOVER_MARGIN`](crate::cluster::HANDOVER_MARGIN); stopping them
//! here first is what keeps one child from running on both sides. (If
//! the asker is merely slow and the quorum comes back, its supervisor sees
//! an ordinary exit and restarts the child.)

use crate::actor::Exported;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The actors started here on other nodes' asks, by the asking node.
#[derive(Default)]
pub(super) struct Served {
    by_peer: Mutex<HashMap<String, Vec<Arc<dyn Exported>>>>,
}

impl Served {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<dyn Exported>>>> {
        self.by_peer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `actor` was started here for `peer`. The ones that ended are
    /// dropped from `peer`'s list whenever it doubles, so the lists stay
    /// within twice the actors running.
    pub(super) fn record(&self, peer: &str, actor: Arc<dyn Exported>) {
        let mut by = self.lock();
        let list = by.entry(peer.to_owned()).or_default();
        if list.len() >= 16 && list.len() == list.capacity() {
            list.retain(|a| !a.is_closed());
        }
        list.push(actor);
    }

    /// Stops every actor still running that was started for a node
    /// `unreached` says this node cannot reach; returns how many.
    pub(super) fn stop_for(&self, unreached: impl Fn(&str) -> bool) -> usize {
        let stopping: Vec<Arc<dyn Exported>> = {
            let mut by = self.lock();
            let peers: Vec<String> = by.keys().filter(|p| unreached(p)).cloned().collect();
            peers
                .iter()
                .filter_map(|p| by.remove(p))
                .flatten()
                .filter(|a| !a.is_closed())
                .collect()
        };
        for a in &stopping {
            a.stop(false);
        }
        stopping.len()
    }
}
