//! The node's driver of the cluster registry
//! ([`ClusterRegistry`](crate::cluster::ClusterRegistry)): it publishes
//! this node's part to every connected peer (the whole part when a
//! connection comes up, each change after that, as `arbour.registry.v1`
//! control messages on the control lane, in order), applies the peers'
//! parts, drops a peer's part when its life ends, and frees a local
//! actor's names and group memberships when the actor is gone for good.

use super::inbound::Control;
use super::network::{Network, Session};
use crate::actor::{ActorRef, NodeId};
use crate::cluster::{Applied, ClusterRegistry, RegistryEvent, Update};
use crate::platform;
use crate::transport::Connection;
use actix::{Actor, Context};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::broadcast;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The node's part of the cluster registry and its replicas of the others.
pub(crate) struct Global {
    machine: Mutex<ClusterRegistry>,
    events: broadcast::Sender<RegistryEvent>,
    /// Local actors whose end is watched (to free their entries).
    watched: Mutex<BTreeSet<u64>>,
}

impl Global {
    pub(crate) fn new(me: NodeId) -> Self {
        Self {
            machine: Mutex::new(ClusterRegistry::new(me)),
            events: broadcast::channel(4096).0,
            watched: Mutex::default(),
        }
    }

    /// Runs `f` on the machine, then publishes what it (and the machine
    /// itself) produced and reports its events.
    pub(crate) fn with<R>(
        &self,
        net: &Network,
        f: impl FnOnce(&mut ClusterRegistry) -> (R, Vec<Update>),
    ) -> R {
        let (r, mut updates, events) = {
            let mut m = lock(&self.machine);
            let (r, updates) = f(&mut m);
            let mut updates = updates;
            while let Some(u) = m.next_outgoing() {
                updates.push(u);
            }
            let events: Vec<RegistryEvent> = std::iter::from_fn(|| m.next_event()).collect();
            (r, updates, events)
        };
        for u in updates.drain(..) {
            net.publish(&u);
        }
        for e in events {
            if let RegistryEvent::NameLost {
                name,
                loser,
                winner,
            } = &e
            {
                tracing::warn!(node = %net.me, %name, %loser, %winner,
                    "registration lost a conflict: the other one stays");
            }
            let _ = self.events.send(e);
        }
        r
    }

    /// Reads the machine.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&ClusterRegistry) -> R) -> R {
        f(&lock(&self.machine))
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    /// Frees `actor`'s entries once it is gone for good (once per actor).
    pub(crate) fn watch_end<A: Actor<Context = Context<A>>>(
        &self,
        net: &Arc<Network>,
        actor: &ActorRef<A>,
    ) {
        let local = actor.id().local;
        if !lock(&self.watched).insert(local) {
            return;
        }
        let mut exits = actor.exits();
        let net: Weak<Network> = Arc::downgrade(net);
        platform::spawn_local(async move {
            while exits.next().await.is_some() {}
            if let Some(net) = net.upgrade() {
                lock(&net.global.watched).remove(&local);
                net.global.with(&net, |m| ((), m.exited(local)));
            }
        });
    }
}

impl Network {
    /// Sends `update` of this node's part to every connected peer.
    pub(crate) fn publish(&self, update: &Update) {
        let Ok(bytes) = crate::wire::encode(update) else {
            tracing::error!(node = %self.me, "a registry update did not encode");
            return;
        };
        let msg = Control::Registry { update: bytes };
        for (link, conn) in self.live_links() {
            link.system(&conn, &msg);
        }
    }

    /// A connection to `link`'s node came up: it gets this node's whole
    /// part.
    pub(crate) fn registry_connected(&self, link: &Session, conn: &Connection) {
        self.send_full(link, conn);
    }

    fn send_full(&self, link: &Session, conn: &Connection) {
        let full = self.global.read(ClusterRegistry::full);
        match crate::wire::encode(&full) {
            Ok(bytes) => link.system(conn, &Control::Registry { update: bytes }),
            Err(e) => tracing::error!(node = %self.me, "the registry state did not encode: {e}"),
        }
    }

    /// An update from the peer of `conn`.
    pub(crate) fn registry_update(&self, link: &Session, conn: &Connection, bytes: &[u8]) {
        let update: Update = match crate::wire::decode(bytes) {
            Ok(u) => u,
            Err(e) => {
                self.undeliverable
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                platform::throttled_warn!(self.endpoint.throttle(), "bad registry update",
                    node = %self.me, peer = %link.node, "a registry update that does not decode, dropped: {e}");
                return;
            }
        };
        let incarnation = conn.peer().incarnation;
        let applied = self.global.with(self, |m| {
            (m.apply(&link.node, incarnation, update), Vec::new())
        });
        if applied == Applied::NeedFull {
            link.system(conn, &Control::RegistryResync);
        }
    }

    /// The peer of `conn` missed a change of ours.
    pub(crate) fn registry_resync(&self, link: &Session, conn: &Connection) {
        self.send_full(link, conn);
    }

    /// Node `name`'s life `incarnation` is over: its part goes.
    pub(crate) fn registry_owner_gone(&self, name: &str, incarnation: u64) {
        self.global
            .with(self, |m| (m.owner_gone(name, incarnation), Vec::new()));
    }

    /// The connection to node `name`'s life `incarnation` is gone: its part
    /// goes with it until it connects again, unless membership tracks that
    /// life as a member (then membership decides when it is gone: a
    /// connection may drop while its member lives). A life that never
    /// joined, or is already gone, has nobody else to end it.
    pub(crate) fn registry_disconnected(&self, name: &str, incarnation: u64) {
        let member = self.members.as_ref().is_some_and(|m| {
            m.members()
                .iter()
                .any(|x| x.name == name && x.incarnation == incarnation)
        });
        if !member {
            self.global.with(self, |m| {
                (m.owner_disconnected(name, incarnation), Vec::new())
            });
        }
    }
}
