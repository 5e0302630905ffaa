//! A supervisor's children by id, readable from any thread without a message
//! round trip (refs are stable, so a lookup stays valid across restarts).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct Directory {
    map: Mutex<HashMap<String, Box<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Box<dyn Any + Send + Sync>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, id: &str, handle: Box<dyn Any + Send + Sync>) {
        self.lock().insert(id.to_owned(), handle);
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn get<T: Clone + 'static>(&self, id: &str) -> Option<T> {
        self.lock().get(id).and_then(|h| h.downcast_ref::<T>()).cloned()
    }
}
