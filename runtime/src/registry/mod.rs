//! Local names for actors (Erlang's `register/2`, `whereis/1`).
//!
//! A name maps to a ref; because a supervised child's ref survives restarts,
//! a registered child stays reachable by name across them. A name is freed
//! when its actor is gone for good (an unsupervised actor exited, or the
//! supervisor removed the child) or on `unregister`.
//!
//! Beside them, the cluster-wide registry: names, process groups and kinds every node sees
//! ([`GlobalRegistry`]), kept by a sans-IO machine ([`ClusterRegistry`]) and its
//! driver, which publishes this node's part to its peers and applies
//! theirs.

mod global;
mod handle;
mod replica;

#[cfg(feature = "internals")]
pub mod planted;
#[cfg(not(feature = "internals"))]
pub(crate) mod planted;

pub use global::{
    Applied, Change, ClusterRegistry, Published, Refused, Registration, RegistryEvent, Update,
    MAX_OWN_ENTRIES,
};
pub use handle::GlobalRegistry;
pub(crate) use replica::Replica;

use crate::actor::ActorRef;
use actix::{Actor, Context};
use rustc_hash::FxHashMap as HashMap;
use std::any::Any;
use std::sync::Mutex;

/// Why a registration failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Another live actor holds the name.
    #[error("name {0:?} is already registered")]
    NameTaken(String),
    /// The name is registered in the cluster, to `holder`.
    #[error("name {name:?} is already registered in the cluster, by {holder}")]
    HeldBy {
        /// The name.
        name: String,
        /// The actor it resolves to.
        holder: crate::actor::ActorId,
    },
    /// This node holds the most cluster names and group memberships it
    /// may publish.
    #[error("this node already publishes {0} cluster names and group memberships")]
    Full(usize),
    /// The actor is another node's: names and groups are published by the
    /// actor's own node.
    #[error("{actor} is not an actor of this node: {what}")]
    NotLocal {
        /// The actor.
        actor: crate::actor::ActorId,
        /// What to do instead.
        what: &'static str,
    },
    /// No actor was registered in the cluster under that name in time
    /// ([`GlobalRegistry::wait_for`]).
    #[error("no actor is registered as {name:?} in the cluster (waited {waited:?})")]
    NotRegistered {
        /// The name.
        name: String,
        /// How long the call waited.
        waited: std::time::Duration,
    },
    /// The actor's message table is invalid (two messages share a tag).
    #[error(transparent)]
    Dispatch(#[from] crate::actor::DispatchError),
    /// The node was built without a network: it has no cluster registry.
    #[error("this node has no network (start it with NodeBuilder::start)")]
    NoNetwork,
    /// The node was shut down (or crashed).
    #[error("the node is shut down")]
    ShutDown,
}

struct Entry {
    handle: Box<dyn Any + Send + Sync>,
    alive: Box<dyn Fn() -> bool + Send + Sync>,
}

/// A node's local name registry.
#[derive(Default)]
pub struct Registry {
    names: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.registered())
            .finish()
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `actor` under `name`. Fails if a live actor holds the name.
    pub fn register<A: Actor<Context = Context<A>>>(
        &self,
        name: &str,
        actor: &ActorRef<A>,
    ) -> Result<(), RegistryError> {
        let mut names = self.lock();
        if names.get(name).is_some_and(|e| (e.alive)()) {
            return Err(RegistryError::NameTaken(name.to_owned()));
        }
        let weak = std::sync::Arc::downgrade(&actor.slot);
        names.insert(
            name.to_owned(),
            Entry {
                handle: Box::new(actor.clone()),
                alive: Box::new(move || weak.upgrade().is_some_and(|s| !s.is_closed())),
            },
        );
        Ok(())
    }

    /// The actor registered as `name`, if it is still there and of type `A`.
    pub fn whereis<A: Actor<Context = Context<A>>>(&self, name: &str) -> Option<ActorRef<A>> {
        let mut names = self.lock();
        let entry = names.get(name)?;
        if !(entry.alive)() {
            names.remove(name);
            return None;
        }
        entry.handle.downcast_ref::<ActorRef<A>>().cloned()
    }

    /// Frees `name`; true if it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.lock().remove(name).is_some()
    }

    /// The names whose actors are still there, sorted.
    pub fn registered(&self) -> Vec<String> {
        let mut names = self.lock();
        names.retain(|_, e| (e.alive)());
        let mut v: Vec<String> = names.keys().cloned().collect();
        v.sort();
        v
    }
}
