//! The node's driver of the cluster registry ([`ClusterRegistry`]): it
//! publishes this node's part to every connected peer (the whole part when
//! a connection comes up, each change after that, as `arbour.registry.v1`
//! control messages on the control lane, in order), applies the peers'
//! parts, drops a peer's part when its life ends (the node tells it when),
//! and frees a local actor's names and group memberships when the actor is
//! gone for good.

use super::global::{Applied, ClusterRegistry, RegistryEvent, Update};
use crate::actor::{ActorRef, NodeId};
use crate::platform;
use crate::remote::{Caller, Control, Network, Session};
use crate::transport::Connection;
use actix::{Actor, Context};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::broadcast;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The node's part of the cluster registry and its replicas of the others.
pub(crate) struct Replica {
    me: NodeId,
    /// The network its updates travel on (the node owns it).
    net: Weak<Network>,
    machine: Mutex<ClusterRegistry>,
    events: broadcast::Sender<RegistryEvent>,
    /// Local actors whose end is watched (to free their entries).
    watched: Mutex<BTreeSet<u64>>,
    /// When each peer last got this node's whole part on its asking.
    resynced: Mutex<std::collections::BTreeMap<String, platform::Instant>>,
    /// Updates refused and resync asks past their rate.
    refused: std::sync::atomic::AtomicU64,
    /// Where peers' updates go to be applied off the network's thread (a
    /// whole part of 100,000 entries takes ~60 ms to decode and apply), in
    /// the order they came; set on first use if the node has an I/O
    /// worker of its own.
    applier: std::sync::OnceLock<Option<tokio::sync::mpsc::Sender<Arriving>>>,
}

/// A peer's update on its way to the machine.
type Arriving = (Arc<Session>, Arc<Connection>, Vec<u8>);

/// Updates waiting to be applied at most; past it one is dropped (counted
/// refused): the gap it leaves is noticed, and the peer's whole part asked
/// for again.
const APPLY_QUEUE: usize = 1024;

/// How often a peer may have this node's whole part on its asking (a peer
/// that connects gets it anyway).
const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Peers whose last resync is remembered before the old ones are swept.
const RESYNCS_REMEMBERED: usize = 1024;

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// The driver over `net`, which it registers its control messages with.
    pub(crate) fn new(net: &Arc<Network>) -> Arc<Self> {
        let replica = Arc::new(Self {
            me: net.me.clone(),
            net: Arc::downgrade(net),
            machine: Mutex::new(ClusterRegistry::new(net.me.clone())),
            events: broadcast::channel(4096).0,
            watched: Mutex::default(),
            resynced: Mutex::default(),
            refused: std::sync::atomic::AtomicU64::new(0),
            applier: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&replica);
        net.router.route_members(
            crate::wire::tags::REGISTRY,
            weak.clone(),
            Replica::on_update,
        );
        net.router
            .route(crate::wire::tags::REGISTRY_RESYNC, weak, Replica::on_resync);
        replica
    }

    /// Runs `f` on the machine, then publishes what it (and the machine
    /// itself) produced and reports its events.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut ClusterRegistry) -> (R, Vec<Update>)) -> R {
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
            self.publish(&u);
        }
        for e in events {
            if let RegistryEvent::NameLost {
                name,
                loser,
                winner,
            } = &e
            {
                tracing::warn!(node = %self.me, %name, %loser, %winner,
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
    pub(crate) fn watch_end<A: Actor<Context = Context<A>>>(self: &Arc<Self>, actor: &ActorRef<A>) {
        let local = actor.id().local;
        if !lock(&self.watched).insert(local) {
            return;
        }
        let mut exits = actor.exits();
        let this: Weak<Self> = Arc::downgrade(self);
        platform::spawn_local(async move {
            while exits.next().await.is_some() {}
            if let Some(this) = this.upgrade() {
                lock(&this.watched).remove(&local);
                this.with(|m| ((), m.exited(local)));
            }
        });
    }

    /// Adds a local actor just started by a spawn to `group`; it leaves
    /// when that instance exits (a spawned actor is not supervised: its
    /// instance is its whole life).
    pub(crate) fn join_exported(
        self: &Arc<Self>,
        group: &str,
        actor: &Arc<dyn crate::actor::Exported>,
    ) -> Result<(), String> {
        let local = actor.id().local;
        self.with(|m| match m.join(group, local) {
            Ok(u) => (Ok(()), u.into_iter().collect()),
            Err(e) => (Err(format!("joining group {group:?}: {e:?}")), Vec::new()),
        })?;
        if lock(&self.watched).insert(local) {
            let this: Weak<Self> = Arc::downgrade(self);
            let _ = actor.watch(Box::new(move |_| {
                if let Some(this) = this.upgrade() {
                    lock(&this.watched).remove(&local);
                    this.with(|m| ((), m.exited(local)));
                }
            }));
        }
        Ok(())
    }

    fn on_update(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        let Control::Registry { update } = msg else {
            return Ok(());
        };
        match self.applier() {
            Some(tx) => {
                let arriving = (caller.session.clone(), caller.conn.clone(), update);
                if tx.try_send(arriving).is_err() {
                    self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(net) = self.net.upgrade() {
                        platform::throttled_warn!(net.endpoint.throttle(), "registry queue full", source = caller.node(),
                            node = %self.me, peer = %caller.node(),
                            "a registry update dropped: {APPLY_QUEUE} wait to be applied (the gap is noticed and the whole part asked for again)");
                    }
                }
            }
            None => self.update(caller.session, caller.conn, &update),
        }
        Ok(())
    }

    /// The queue to the task that applies peers' updates on a user worker,
    /// started on first use; `None` if the node's network has no thread of
    /// its own (they are applied where they arrive).
    fn applier(self: &Arc<Self>) -> Option<&tokio::sync::mpsc::Sender<Arriving>> {
        self.applier
            .get_or_init(|| {
                let net = self.net.upgrade()?;
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Arriving>(APPLY_QUEUE);
                let this = Arc::downgrade(self);
                let started = net.off_io(async move {
                    while let Some((link, conn, bytes)) = rx.recv().await {
                        let Some(this) = this.upgrade() else { return };
                        this.update(&link, &conn, &bytes);
                    }
                });
                started.then_some(tx)
            })
            .as_ref()
    }

    /// A peer missed a change and asks for this node's whole part: sent
    /// at most once per [`RESYNC_EVERY`] per peer (a part can be large;
    /// a peer asking in a loop gets the first, the rest are counted).
    fn on_resync(self: &Arc<Self>, caller: &Caller<'_>, _: Control) -> Result<(), String> {
        let now = platform::now();
        {
            let mut last = lock(&self.resynced);
            if last.len() >= RESYNCS_REMEMBERED {
                last.retain(|_, at| now.saturating_duration_since(*at) < RESYNC_EVERY);
            }
            let node = caller.node();
            if last
                .get(node)
                .is_some_and(|at| now.saturating_duration_since(*at) < RESYNC_EVERY)
            {
                self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            last.insert(node.to_owned(), now);
        }
        self.send_full(caller.session, caller.conn);
        Ok(())
    }

    /// Updates refused (bad stamps, parts past their caps) and resync asks
    /// past their rate, so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Names and group memberships held in the peers' parts.
    pub(crate) fn replica_entries(&self) -> u64 {
        self.read(|m| m.replica_entries() as u64)
    }

    /// Sends `update` of this node's part to every connected peer.
    fn publish(&self, update: &Update) {
        let Ok(bytes) = crate::wire::encode(update) else {
            tracing::error!(node = %self.me, "a registry update did not encode");
            return;
        };
        let Some(net) = self.net.upgrade() else {
            return;
        };
        if net.endpoint.role() == crate::transport::PeerRole::Client {
            // a client writes nothing to the registry: the nodes would refuse it
            return;
        }
        let msg = Control::Registry { update: bytes };
        for (link, conn) in net.live_links() {
            link.system(&conn, &msg);
        }
    }

    /// A connection to `link`'s node came up: it gets this node's whole
    /// part.
    pub(crate) fn connected(&self, link: &Session, conn: &Connection) {
        lock(&self.machine).expect_full(&link.node);
        self.send_full(link, conn);
    }

    fn send_full(&self, link: &Session, conn: &Connection) {
        if self
            .net
            .upgrade()
            .is_some_and(|n| n.endpoint.role() == crate::transport::PeerRole::Client)
        {
            return;
        }
        let full = self.read(ClusterRegistry::full);
        match crate::wire::encode(&full) {
            Ok(bytes) => link.system(conn, &Control::Registry { update: bytes }),
            Err(e) => tracing::error!(node = %self.me, "the registry state did not encode: {e}"),
        }
    }

    /// An update from the peer of `conn`.
    fn update(&self, link: &Session, conn: &Connection, bytes: &[u8]) {
        let update: Update = match crate::wire::decode(bytes) {
            Ok(u) => u,
            Err(e) => {
                if let Some(net) = self.net.upgrade() {
                    net.undeliverable
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    platform::throttled_warn!(net.endpoint.throttle(), "bad registry update", source = &link.node,
                        node = %self.me, peer = %link.node, "a registry update that does not decode, dropped: {e}");
                }
                return;
            }
        };
        let incarnation = conn.peer().incarnation;
        let applied = self.with(|m| (m.apply(&link.node, incarnation, update), Vec::new()));
        match applied {
            Applied::Done => {}
            Applied::NeedFull => link.system(conn, &Control::RegistryResync),
            Applied::Refused(why) => {
                self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(net) = self.net.upgrade() {
                    platform::throttled_warn!(net.endpoint.throttle(), "registry update refused", source = &link.node,
                        node = %self.me, peer = %link.node, "a registry update refused: {why}");
                }
            }
        }
    }

    /// Node `name`'s life `incarnation` is over: its part goes.
    pub(crate) fn owner_gone(&self, name: &str, incarnation: u64) {
        self.with(|m| (m.owner_gone(name, incarnation), Vec::new()));
    }

    /// The connection to node `name`'s life `incarnation` is gone: its part
    /// goes with it until it connects again. (The node tells this only of
    /// a life membership does not track as a member: membership decides
    /// when a member is gone, as a connection may drop while it lives; a
    /// life that never joined, or is already gone, has nobody else to end
    /// it.)
    pub(crate) fn disconnected(&self, name: &str, incarnation: u64) {
        self.with(|m| (m.owner_disconnected(name, incarnation), Vec::new()));
    }
}
