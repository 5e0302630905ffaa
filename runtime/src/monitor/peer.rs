//! The monitors across one peer connection, both ways: ours of the peer's
//! actors, and the peer's of ours (bounded: a peer cannot make this node hold
//! more than [`DEFAULT_MAX_PEER_MONITORS`] watches, or what the node was
//! configured with).

use super::Monitor;
use crate::actor::{ExitReason, Exported, Watcher};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Monitors one peer may hold on this node's actors unless configured
/// otherwise (each costs a few hundred bytes).
pub const DEFAULT_MAX_PEER_MONITORS: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A peer's watch of one of our actors: the actor, and our monitor of it.
type PeerWatch = (Arc<dyn Exported>, Monitor);

/// A monitor the peer asked for was refused: it already holds `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) max: usize,
    /// Refusals so far on this connection, this one included.
    pub(crate) count: u64,
}

/// Both directions of monitoring across one peer connection.
pub(crate) struct PeerMonitors {
    /// Ours of the peer's actors: our key → what to call.
    watching: Mutex<HashMap<u64, Watcher>>,
    next_key: AtomicU64,
    /// The peer's of ours: its key → the actor and our watch on it (`None`
    /// while the watch is being installed).
    watched: Mutex<HashMap<u64, Option<PeerWatch>>>,
    max_watched: usize,
    refused: AtomicU64,
}

impl PeerMonitors {
    pub(crate) fn new(max_watched: usize) -> Self {
        Self {
            watching: Mutex::default(),
            next_key: AtomicU64::new(0),
            watched: Mutex::default(),
            max_watched,
            refused: AtomicU64::new(0),
        }
    }

    /// Registers our watcher of a peer's actor; returns its key.
    pub(crate) fn watch(&self, w: Watcher) -> u64 {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.watching).insert(key, w);
        key
    }

    /// Cancels our watcher `key`; true if it had not fired.
    pub(crate) fn unwatch(&self, key: u64) -> bool {
        lock(&self.watching).remove(&key).is_some()
    }

    /// The peer says the actor we watch under `key` exited.
    pub(crate) fn down(&self, key: u64, reason: &ExitReason) {
        let w = lock(&self.watching).remove(&key);
        if let Some(w) = w {
            w(reason);
        }
    }

    /// The peer watches our `actor` under its `key`: `watch` installs our
    /// watch (its watcher must call [`PeerMonitors::peer_watch_fired`]).
    /// Refused past the cap.
    pub(crate) fn add_peer_watch(
        &self,
        key: u64,
        actor: Arc<dyn Exported>,
        watch: impl FnOnce(&Arc<dyn Exported>) -> Monitor,
    ) -> Result<(), Refused> {
        {
            let mut watched = lock(&self.watched);
            if watched.len() >= self.max_watched && !watched.contains_key(&key) {
                let count = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                return Err(Refused {
                    max: self.max_watched,
                    count,
                });
            }
            watched.insert(key, None);
        }
        // unlocked: the watch may fire at once (no instance) or from another
        // worker meanwhile, and firing removes the entry
        let monitor = watch(&actor);
        if let Some(entry) = lock(&self.watched).get_mut(&key) {
            *entry = Some((actor, monitor));
        }
        Ok(())
    }

    /// The watch the peer holds under `key` fired: forget it.
    pub(crate) fn peer_watch_fired(&self, key: u64) {
        lock(&self.watched).remove(&key);
    }

    /// The peer cancelled its monitor `key`.
    pub(crate) fn remove_peer_watch(&self, key: u64) {
        let entry = lock(&self.watched).remove(&key).flatten();
        if let Some((actor, monitor)) = entry {
            actor.unwatch(monitor);
        }
    }

    /// The peer's monitors of our actors held now.
    pub(crate) fn peer_watches(&self) -> usize {
        lock(&self.watched).len()
    }

    /// The peer's monitors refused so far (past the cap).
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The connection is gone: our watchers fire with `reason`, the peer's
    /// watches are dropped (each in O(log n) of its actor's watchers).
    pub(crate) fn connection_lost(&self, reason: &ExitReason) {
        let watchers: Vec<Watcher> = lock(&self.watching).drain().map(|(_, w)| w).collect();
        for w in watchers {
            w(reason);
        }
        let watched: Vec<_> = lock(&self.watched).drain().filter_map(|(_, v)| v).collect();
        for (actor, monitor) in watched {
            actor.unwatch(monitor);
        }
    }
}
