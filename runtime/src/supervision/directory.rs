//! A supervisor's children by id, readable from any thread without a message
//! round trip (refs are stable, so a lookup stays valid across restarts).
//!
//! Adding a child is an append; the id index is built lazily, by the first
//! lookup or removal after new children arrived. Starting 100k children thus
//! does not pay for an index nobody has asked for yet, and once someone
//! does, indexing costs amortised O(1) per child.

use super::decision::ChildId;
use super::slots::ChildSlot;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

/// An id and its slot (`None` once removed).
type Entry = (ChildId, Option<Arc<dyn ChildSlot>>);

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    index: FxHashMap<ChildId, usize>,
    indexed: usize,
    dead: usize,
}

impl Inner {
    /// Indexes the entries appended since the last call (a later entry for
    /// an id replaces an earlier one).
    fn catch_up(&mut self) {
        for i in self.indexed..self.entries.len() {
            if self.entries[i].1.is_some() {
                if let Some(old) = self.index.insert(self.entries[i].0.clone(), i) {
                    if self.entries[old].1.take().is_some() {
                        self.dead += 1;
                    }
                }
            }
        }
        self.indexed = self.entries.len();
    }

    fn compact(&mut self) {
        if self.dead > 32 && self.dead * 2 > self.entries.len() {
            self.entries.retain(|e| e.1.is_some());
            self.index.clear();
            self.indexed = 0;
            self.dead = 0;
            self.catch_up();
        }
    }
}

#[derive(Default)]
pub(crate) struct Directory {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn reserve(&self, n: usize) {
        self.lock().entries.reserve_exact(n);
    }

    pub(crate) fn insert(&self, id: &ChildId, slot: Arc<dyn ChildSlot>) {
        self.lock().entries.push((id.clone(), Some(slot)));
    }

    pub(crate) fn extend(&self, items: Vec<(ChildId, Arc<dyn ChildSlot>)>) {
        self.lock()
            .entries
            .extend(items.into_iter().map(|(id, slot)| (id, Some(slot))));
    }

    pub(crate) fn remove(&self, id: &str) {
        let mut d = self.lock();
        d.catch_up();
        if let Some(i) = d.index.remove(id) {
            if d.entries[i].1.take().is_some() {
                d.dead += 1;
            }
        }
        d.compact();
    }

    pub(crate) fn clear(&self) {
        *self.lock() = Inner::default();
    }

    pub(crate) fn get<T: Clone + 'static>(&self, id: &str) -> Option<T> {
        let slot = {
            let mut d = self.lock();
            d.catch_up();
            let i = *d.index.get(id)?;
            d.entries[i].1.clone()?
        };
        slot.handle().downcast::<T>().ok().map(|b| *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{ActorRef, Host, Slot};

    struct A;
    impl actix::Actor for A {
        type Context = actix::Context<Self>;
    }

    #[test]
    fn lazy_index_finds_replaces_removes_and_compacts() {
        let host = Host::new("t", 1, 1);
        let dir = Directory::default();
        let slot = |host: &Host| -> Arc<Slot<A>> {
            Arc::new(Slot::new(host.next_actor_id(), host.counters().clone()))
        };
        let mut ids = Vec::new();
        for i in 0..200 {
            let s = slot(&host);
            ids.push(s.id.clone());
            dir.insert(&ChildId::from(format!("c{i}")), s);
        }
        let found = |name: &str| dir.get::<ActorRef<A>>(name).map(|r| r.id().clone());
        assert_eq!(found("c7"), Some(ids[7].clone()));
        assert_eq!(found("c199"), Some(ids[199].clone()));
        assert_eq!(found("nope"), None);
        // a later entry for the same id replaces the earlier one
        let again = slot(&host);
        let again_id = again.id.clone();
        dir.insert(&ChildId::from("c7"), again);
        assert_eq!(found("c7"), Some(again_id));
        for i in 0..150 {
            dir.remove(&format!("c{i}"));
        }
        assert_eq!(found("c7"), None);
        assert_eq!(found("c150"), Some(ids[150].clone()));
        assert!(dir.lock().entries.len() < 201, "compacted");
        dir.clear();
        assert_eq!(found("c150"), None);
    }
}
