//! A supervisor's children by id, readable from any thread without a message
//! round trip (refs are stable, so a lookup stays valid across restarts).

use super::slots::ChildSlot;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

type Map = FxHashMap<Arc<str>, Arc<dyn ChildSlot>>;

#[derive(Default)]
pub(crate) struct Directory {
    map: Mutex<Map>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, id: &Arc<str>, slot: Arc<dyn ChildSlot>) {
        self.lock().insert(id.clone(), slot);
    }

    pub(crate) fn reserve(&self, n: usize) {
        self.lock().reserve(n);
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn get<T: Clone + 'static>(&self, id: &str) -> Option<T> {
        let slot = self.lock().get(id).cloned()?;
        slot.handle().downcast::<T>().ok().map(|b| *b)
    }
}
