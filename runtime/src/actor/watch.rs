//! Watches on an actor's current instance: the [`Monitor`] handle that a
//! monitor, an `exited()` future or a supervisor's remote shim holds, local
//! (a watcher on the instance's lifecycle) or remote (kept by the peer's
//! session, which sends the watched node a `monitor` signal).

use super::{ActorRef, ExitReason, Outbound, Watcher, WeakLife};
use actix::{Actor, Context};
use std::sync::Arc;

/// A monitor, for [`ActorRef::demonitor`].
pub struct Monitor {
    pub(crate) life: Option<WeakLife>,
    pub(crate) key: u64,
    /// Set for a monitor of a remote actor: kept by its node's link.
    pub(crate) remote: Option<Arc<dyn Outbound>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("key", &self.key)
            .field("remote", &self.remote.is_some())
            .finish()
    }
}

impl<A: Actor<Context = Context<A>>> ActorRef<A> {
    /// Cancels a monitor; true if it had not fired yet.
    pub fn demonitor(&self, monitor: Monitor) -> bool {
        if let Some(link) = &monitor.remote {
            return link.demonitor(&self.slot.id, monitor.key);
        }
        monitor
            .life
            .and_then(|w| w.upgrade())
            .is_some_and(|l| l.unwatch(monitor.key))
    }

    pub(crate) fn watch(&self, w: Watcher) -> Monitor {
        if let Some(remote) = &self.slot.remote {
            return Monitor {
                key: remote.link.monitor(&self.slot.id, w),
                life: None,
                remote: Some(remote.link.clone()),
            };
        }
        match self.slot.current.load().as_ref() {
            Some(i) => Monitor {
                key: i.life.watch(w).unwrap_or(0),
                life: Some(i.life_ref().downgrade()),
                remote: None,
            },
            None => {
                w(&ExitReason::NoActor);
                Monitor {
                    life: None,
                    key: 0,
                    remote: None,
                }
            }
        }
    }
}
