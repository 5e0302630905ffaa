//! Draining: a node about to leave has what runs on it for others started
//! elsewhere before it stops (stop-after-start, as Akka's coordinated
//! shutdown hands shards over before the node goes).
//!
//! A supervisor's remote child registers a mover for the actor it stands
//! for ([`RemoteSpawn::on_drain`](crate::actor::RemoteSpawn::on_drain)).
//! The leaving node asks each member `Draining`; each calls the movers of
//! its children on that node (which spawn a replacement elsewhere, then
//! stop the original) and answers with the actors it moves; the leaving
//! node waits, within its bound, until each of them has stopped. From the
//! first moment of it, no placement picks a draining node.

use crate::actor::{ActorId, Mover};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Who drains, and the movers of this node's remote children.
#[derive(Default)]
pub(crate) struct Drains {
    /// Set once this node began to drain: it takes no new actors.
    here: AtomicBool,
    /// Peers draining now (until membership says they left or are down).
    peers: Mutex<BTreeSet<String>>,
    movers: Mutex<BTreeMap<u64, (ActorId, Arc<Mover>)>>,
    next_key: AtomicU64,
}

impl Drains {
    /// This node drains from now on.
    pub(crate) fn begin_here(&self) {
        self.here.store(true, Ordering::Release);
    }

    /// Whether this node drains.
    pub(crate) fn here(&self) -> bool {
        self.here.load(Ordering::Acquire)
    }

    /// Peer `node` drains: nothing more is placed there.
    pub(crate) fn peer_began(&self, node: &str) {
        lock(&self.peers).insert(node.to_owned());
    }

    /// Peer `node`'s life is over (it left, or was declared down, or a new
    /// life replaced it): a new life of it may take actors again.
    pub(crate) fn peer_gone(&self, node: &str) {
        lock(&self.peers).remove(node);
    }

    /// Whether node `name` drains (`me` is this node's name).
    pub(crate) fn is_draining(&self, name: &str, me: &str) -> bool {
        if name == me {
            self.here()
        } else {
            lock(&self.peers).contains(name)
        }
    }

    /// Registers `mover` for `actor`; the key forgets it.
    pub(crate) fn add_mover(&self, actor: &ActorId, mover: Mover) -> u64 {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        lock(&self.movers).insert(key, (actor.clone(), Arc::new(mover)));
        key
    }

    /// Forgets the mover registered as `key`.
    pub(crate) fn forget_mover(&self, key: u64) {
        lock(&self.movers).remove(&key);
    }

    /// Calls the mover of each actor on node `name` (its life
    /// `incarnation`, if given) and returns those actors' local numbers.
    pub(crate) fn move_off(&self, name: &str, incarnation: Option<u64>) -> Vec<u64> {
        let chosen: Vec<(u64, Arc<Mover>)> = lock(&self.movers)
            .values()
            .filter(|(a, _)| {
                *a.node.name == *name && incarnation.is_none_or(|i| a.node.incarnation == i)
            })
            .map(|(a, m)| (a.local, m.clone()))
            .collect();
        // called outside the lock: a mover may register or forget movers
        chosen
            .into_iter()
            .map(|(local, mover)| {
                mover(None);
                local
            })
            .collect()
    }

    /// Calls the mover of `actor` with the node to move it to; false if
    /// no supervisor here has it as a remote child.
    pub(crate) fn move_to(&self, actor: &ActorId, node: &str) -> bool {
        let mover = lock(&self.movers)
            .values()
            .find(|(a, _)| a == actor)
            .map(|(_, m)| m.clone());
        mover.is_some_and(|m| {
            m(Some(node.to_owned()));
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::NodeId;
    use std::sync::atomic::AtomicUsize;

    fn actor(node: &str, incarnation: u64, local: u64) -> ActorId {
        ActorId {
            node: NodeId::new(node, incarnation),
            local,
        }
    }

    #[test]
    fn a_drain_moves_exactly_the_actors_on_the_draining_life_and_forgotten_movers_are_not_called() {
        let d = Drains::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let mover = || {
            let c = calls.clone();
            Box::new(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
            }) as Mover
        };
        d.add_mover(&actor("beta", 1, 7), mover());
        d.add_mover(&actor("beta", 1, 8), mover());
        let gone = d.add_mover(&actor("beta", 1, 9), mover());
        d.add_mover(&actor("beta", 2, 10), mover());
        d.add_mover(&actor("gamma", 1, 11), mover());
        d.forget_mover(gone);
        let mut moved = d.move_off("beta", Some(1));
        moved.sort_unstable();
        assert_eq!(moved, vec![7, 8]);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert_eq!(d.move_off("gamma", None), vec![11]);
    }

    #[test]
    fn a_draining_node_is_no_placement_until_its_life_is_over() {
        let d = Drains::default();
        assert!(!d.is_draining("beta", "alpha"));
        d.peer_began("beta");
        assert!(d.is_draining("beta", "alpha"));
        d.peer_gone("beta");
        assert!(!d.is_draining("beta", "alpha"));
        assert!(!d.is_draining("alpha", "alpha"));
        d.begin_here();
        assert!(d.is_draining("alpha", "alpha"));
    }
}
