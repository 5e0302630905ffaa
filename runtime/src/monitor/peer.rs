//! The monitors across one peer connection, both ways: ours of the peer's
//! actors, and the peer's of ours (bounded: a peer cannot make this node hold
//! more than its `PeerLimits::peer_monitors` watches, 100,000 unless
//! configured otherwise).

use super::Monitor;
use crate::actor::{ExitReason, Exported, Watcher};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The peer's watches of one of our actors: one watch on the actor's
/// lifecycle serves all of them, so dropping them all costs one unwatch per
/// actor, not one per monitor.
struct ActorWatches {
    /// Tells this entry from an earlier one for the same actor (a watch
    /// that fires or is installed late must not touch a newer entry).
    generation: u64,
    actor: Arc<dyn Exported>,
    /// `None` while the watch is being installed.
    monitor: Option<Monitor>,
    keys: HashSet<u64>,
}

#[derive(Default)]
struct Watched {
    /// By our actor's local number.
    by_actor: HashMap<u64, ActorWatches>,
    /// The peer's keys, and the actor each watches.
    actor_of: HashMap<u64, u64>,
    next_generation: u64,
}

/// A monitor the peer asked for was refused: it already holds `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) max: usize,
    /// Refusals so far on this connection, this one included.
    pub(crate) count: u64,
}

/// Watchers fired, or actor watches removed, in one step when a
/// connection is lost; more go in steps of this many with a yield between
/// (other work runs).
const STEP: usize = 1024;

/// Both directions of monitoring across one peer connection.
pub(crate) struct PeerMonitors {
    /// Ours of the peer's actors: our key → what to call.
    watching: Mutex<HashMap<u64, Watcher>>,
    next_key: AtomicU64,
    /// The peer's of ours.
    watched: Mutex<Watched>,
    /// Actor watches of a lost connection not yet unwatched.
    dropping: Arc<AtomicUsize>,
    max_watched: usize,
    refused: AtomicU64,
}

impl PeerMonitors {
    pub(crate) fn new(max_watched: usize) -> Self {
        Self {
            watching: Mutex::default(),
            next_key: AtomicU64::new(0),
            watched: Mutex::default(),
            dropping: Arc::default(),
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

    /// The peer watches our actor `local` under its `key`. The first watch
    /// of an actor installs ours with `install(actor, generation)` (its
    /// watcher must call [`PeerMonitors::peer_watch_fired`] with that
    /// generation); later ones join it. Refused past the cap.
    pub(crate) fn add_peer_watch(
        &self,
        key: u64,
        local: u64,
        actor: Arc<dyn Exported>,
        install: impl FnOnce(&Arc<dyn Exported>, u64) -> Monitor,
    ) -> Result<(), Refused> {
        let generation = {
            let mut w = lock(&self.watched);
            if w.actor_of.contains_key(&key) {
                return Ok(());
            }
            if w.actor_of.len() >= self.max_watched {
                let count = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                return Err(Refused {
                    max: self.max_watched,
                    count,
                });
            }
            w.actor_of.insert(key, local);
            if let Some(entry) = w.by_actor.get_mut(&local) {
                entry.keys.insert(key);
                return Ok(());
            }
            w.next_generation += 1;
            let generation = w.next_generation;
            w.by_actor.insert(
                local,
                ActorWatches {
                    generation,
                    actor: actor.clone(),
                    monitor: None,
                    keys: HashSet::from_iter([key]),
                },
            );
            generation
        };
        // unlocked: the watch may fire at once (no instance) or from another
        // worker meanwhile, and firing removes the entry
        let monitor = install(&actor, generation);
        let stale = {
            let mut w = lock(&self.watched);
            match w.by_actor.get_mut(&local) {
                Some(entry) if entry.generation == generation => {
                    entry.monitor = Some(monitor);
                    None
                }
                _ => Some(monitor),
            }
        };
        if let Some(monitor) = stale {
            actor.unwatch(monitor);
        }
        Ok(())
    }

    /// Our watch `generation` of actor `local` fired: the peer's keys it
    /// served (in order), each now gone.
    pub(crate) fn peer_watch_fired(&self, local: u64, generation: u64) -> Vec<u64> {
        let mut w = lock(&self.watched);
        if w.by_actor.get(&local).map(|e| e.generation) != Some(generation) {
            return Vec::new();
        }
        let Some(entry) = w.by_actor.remove(&local) else {
            return Vec::new();
        };
        for key in &entry.keys {
            w.actor_of.remove(key);
        }
        drop(w);
        let mut keys: Vec<u64> = entry.keys.into_iter().collect();
        keys.sort_unstable();
        keys
    }

    /// The peer cancelled its monitor `key`.
    pub(crate) fn remove_peer_watch(&self, key: u64) {
        let last = {
            let mut w = lock(&self.watched);
            let Some(local) = w.actor_of.remove(&key) else {
                return;
            };
            let Some(entry) = w.by_actor.get_mut(&local) else {
                return;
            };
            entry.keys.remove(&key);
            if !entry.keys.is_empty() {
                return;
            }
            w.by_actor.remove(&local)
        };
        if let Some(ActorWatches {
            actor,
            monitor: Some(monitor),
            ..
        }) = last
        {
            actor.unwatch(monitor);
        }
    }

    /// The peer's monitors of our actors held now (counting those of a lost
    /// connection still being dropped, one per actor).
    pub(crate) fn peer_watches(&self) -> usize {
        lock(&self.watched).actor_of.len() + self.dropping.load(Ordering::Relaxed)
    }

    /// The peer's monitors refused so far (past the cap).
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The connection is gone: our watchers fire with `reason`, the peer's
    /// watches are dropped (their keys at once; our watches on the actors,
    /// one per actor, are removed). Each is done [`STEP`] at a time, the
    /// rest in a task that yields between steps, so no single step of the
    /// node's thread grows with what the peer held or we watched.
    pub(crate) fn connection_lost(&self, reason: &ExitReason) {
        let watchers: Vec<Watcher> = lock(&self.watching).drain().map(|(_, w)| w).collect();
        let reason = reason.clone();
        in_steps(watchers, None, move |w| w(&reason));
        let watched = {
            let mut w = lock(&self.watched);
            w.actor_of = HashMap::default();
            std::mem::take(&mut w.by_actor)
        };
        let entries: Vec<ActorWatches> = watched.into_values().collect();
        in_steps(entries, Some(self.dropping.clone()), |entry| {
            if let Some(monitor) = entry.monitor {
                entry.actor.unwatch(monitor);
            }
        });
    }
}

/// Applies `f` to every item: [`STEP`] of them now, the rest [`STEP`] at a
/// time in a task that yields between steps (`pending` counts what is
/// left). Without a runtime to spawn on, all of them now.
fn in_steps<T: Send + 'static>(
    mut items: Vec<T>,
    pending: Option<Arc<AtomicUsize>>,
    f: impl Fn(T) + Send + 'static,
) {
    let first = items.len().saturating_sub(STEP);
    items.drain(first..).for_each(&f);
    if items.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        items.into_iter().for_each(f);
        return;
    };
    if let Some(p) = &pending {
        p.fetch_add(items.len(), Ordering::Relaxed);
    }
    runtime.spawn(async move {
        while !items.is_empty() {
            tokio::task::yield_now().await;
            let from = items.len().saturating_sub(STEP);
            let step = items.len() - from;
            items.drain(from..).for_each(&f);
            if let Some(p) = &pending {
                p.fetch_sub(step, Ordering::Relaxed);
            }
        }
    });
}
