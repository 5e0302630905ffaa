//! A node's network side: the QUIC endpoint, one [`Session`] per peer node, the
//! actors reachable from the wire (kept in [`Exposed`]), and the ref context messages are
//! encoded and decoded in.
//!
//! A `Session` outlives connections: remote refs hold it, and it points at the
//! peer's current connection (if any). Losing a connection fails the session's
//! pending asks with `NodeDown` and fires its monitors with `NodeDown` at
//! once; peers with a known address are then redialed with backoff and
//! jitter. Simultaneous dials are resolved by [`PeerTable`]. Peers coming
//! and going are told as [`PeerEvent`]s to whoever the node installed.

use super::inbound::{Control, Inbound};
use super::router::{Caller, Router};
use crate::actor::{
    with_context, ActorId, AskError, ExitReason, Exported, Insist, NodeId, Outbound, OutboundError,
    PayloadWriter, PendingReply, RefContext, RemoteReply, Stats, Watcher,
};
use crate::platform::{self, NodeRng};
use super::exposed::Exposed;
use crate::transport::{
    Admit, Connection, Endpoint, LaneId, Lost, Offer, PeerLimits, PeerTable, PendingAsks,
    PushError, Redial, Timer, TransportError, CLOSE_DOWN, CLOSE_DUPLICATE, CLOSE_SHUTDOWN,
};
use crate::wire::{EnvelopeHead, WriteError, CONTROL_RECIPIENT};
use arc_swap::ArcSwapOption;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// How long a connection replaced by one to the same peer life keeps
/// delivering what was in flight on it before it closes.
const REPLACED_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A peer's connection came up or went, as the services above learn of it
/// (the node routes them: the registry sends its part to a new peer and
/// drops a gone one's, membership notes a goodbye).
pub(crate) enum PeerEvent<'a> {
    /// `conn` is now the live connection to `session`'s node.
    Up {
        /// The peer's session.
        session: &'a Arc<Session>,
        /// The connection.
        conn: &'a Arc<Connection>,
    },
    /// The live connection to node `node`'s life `incarnation` is gone.
    Down {
        /// The node.
        node: &'a str,
        /// Its life.
        incarnation: u64,
    },
    /// Node `node`'s life `incarnation` said goodbye: it shuts down on
    /// purpose (its `Down` follows).
    Left {
        /// The node.
        node: &'a str,
        /// Its life.
        incarnation: u64,
    },
    /// Node `by` closed its connection because its view of the cluster
    /// holds this node's life down (its `Down` follows).
    DeclaredUsDown {
        /// The node that said so.
        by: &'a str,
    },
}

/// Where a node's peer events go (installed once, by the node).
pub(crate) type PeerSink = Box<dyn Fn(PeerEvent<'_>) + Send + Sync>;

/// The monitors across one session, both ways, as far as the session
/// itself needs them: ours of the peer's actors are registered when a
/// remote ref is monitored and fire when the connection goes. The monitor
/// room keeps them and handles the peer's `monitor`, `demonitor`, `down`
/// and `downs` messages; `remote` does not name it.
pub(crate) trait SessionMonitors: Send + Sync {
    /// Registers our watcher of one of the peer's actors; returns its key.
    fn watch(&self, w: Watcher) -> u64;
    /// Cancels our watcher `key`; true if it had not fired.
    fn unwatch(&self, key: u64) -> bool;
    /// The connection is gone: our watchers fire with `reason`, the
    /// peer's watches of our actors are dropped.
    fn connection_lost(&self, reason: &ExitReason);
    /// The peer's monitors of our actors held now, and refused so far.
    fn held_and_refused(&self) -> (u64, u64);
}

/// Makes the monitors of each new session (the monitor room's, given to
/// the network when it is built).
pub(crate) trait MonitorsFor: Send + Sync {
    /// The monitors of the session with node `node`.
    fn session(&self, node: &Arc<str>) -> Arc<dyn SessionMonitors>;
}

/// The network state of one node.
pub(crate) struct Network {
    pub(crate) me: NodeId,
    pub(crate) stats: Arc<Stats>,
    pub(crate) endpoint: Endpoint,
    rng: NodeRng,
    data_lanes: usize,
    pub(crate) limits: PeerLimits,
    /// Local actors reachable from the wire, by number and exposed name.
    exposed: Exposed,
    links: Mutex<BTreeMap<Arc<str>, Arc<Session>>>,
    peers: Mutex<PeerTable<Arc<Connection>>>,
    /// Where to redial each peer we know an address for.
    addresses: Mutex<BTreeMap<String, SocketAddr>>,
    /// Bumped on every connection change (for waiters).
    changed: watch::Sender<u64>,
    /// The node as the ref context messages are encoded and decoded in;
    /// shared by every link (it holds the node weakly: links outlive it in
    /// the remote refs users keep).
    pub(crate) ctx: Arc<dyn RefContext>,
    closing: std::sync::atomic::AtomicBool,
    /// Messages from the wire that could not be delivered (unknown actor,
    /// unknown tag, undecodable payload, full mailbox).
    pub(crate) undeliverable: AtomicU64,
    /// Peers' asks being served now, over all connections.
    pub(crate) served_asks: AtomicU64,
    /// Dials made (first dials and redials).
    dials: AtomicU64,
    /// Peers' exits refused (not theirs to stop).
    exits_refused: AtomicU64,
    /// Clients' messages that only members may send, refused.
    pub(crate) clients_refused: AtomicU64,
    /// Control messages by tag, to the services that registered them.
    pub(crate) router: Router,
    /// Where peer events go.
    peer_events: std::sync::OnceLock<PeerSink>,
    /// Makes each session's monitors.
    monitors_for: Arc<dyn MonitorsFor>,
    /// The node's workers: the network's tasks go to their I/O worker,
    /// whichever thread starts them (a user actor's send, a goodbye).
    workers: platform::WeakWorkers,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// How a node's network side is tuned (from its builder).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    pub(crate) data_lanes: usize,
    pub(crate) limits: PeerLimits,
    pub(crate) redial: Redial,
}

impl Network {
    pub(crate) fn new(
        me: NodeId,
        stats: Arc<Stats>,
        endpoint: Endpoint,
        rng: NodeRng,
        tuning: Tuning,
        monitors_for: Arc<dyn MonitorsFor>,
        workers: platform::WeakWorkers,
    ) -> Arc<Self> {
        let Tuning {
            data_lanes,
            limits,
            redial,
        } = tuning;
        Arc::new_cyclic(|this| {
            let router = Router::default();
            router.route(crate::wire::tags::WHEREIS, this.clone(), Network::on_whereis);
            router.route(crate::wire::tags::EXIT, this.clone(), Network::on_exit);
            router.route(crate::wire::tags::GOODBYE, this.clone(), Network::on_goodbye);
            Self {
                ctx: Arc::new(NetworkContext {
                    me: me.clone(),
                    stats: stats.clone(),
                    net: this.clone(),
                }),
                closing: std::sync::atomic::AtomicBool::new(false),
                peers: Mutex::new(PeerTable::new(&me.name, redial)),
                me,
                stats,
                endpoint,
                rng,
                data_lanes,
                limits,
                exposed: Exposed::default(),
                links: Mutex::default(),
                addresses: Mutex::default(),
                changed: watch::Sender::new(0),
                undeliverable: AtomicU64::new(0),
                served_asks: AtomicU64::new(0),
                dials: AtomicU64::new(0),
                exits_refused: AtomicU64::new(0),
                clients_refused: AtomicU64::new(0),
                router,
                peer_events: std::sync::OnceLock::new(),
                monitors_for,
                workers,
            }
        })
    }

    /// Sends every peer event from now on to `sink` (once; the node's).
    pub(crate) fn on_peer_events(&self, sink: PeerSink) {
        let _ = self.peer_events.set(sink);
    }

    fn tell(&self, event: PeerEvent<'_>) {
        if let Some(sink) = self.peer_events.get() {
            sink(event);
        }
    }

    /// A peer asks which local number we expose `name` under.
    fn on_whereis(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        let Control::Whereis { name } = msg else {
            return Ok(());
        };
        let found = self.whereis(&name);
        caller.reply(crate::wire::encode(&found).map_err(|e| e.to_string())?)
    }

    /// A peer stops (or kills) one of our actors, if it may
    /// ([`Stopper`](super::exposed::Stopper)); a refusal is counted and
    /// logged (throttled).
    fn on_exit(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        let Control::Exit { actor, kill } = msg else {
            return Ok(());
        };
        let Some(target) = self.exported(actor) else {
            return Ok(());
        };
        if self.exposed.may_stop(actor, caller.node()) {
            target.stop(kill);
            return Ok(());
        }
        self.exits_refused.fetch_add(1, Ordering::Relaxed);
        platform::throttled_warn!(self.endpoint.throttle(), "exit refused", source = caller.node(),
            node = %self.me, peer = %caller.node(), actor,
            "refusing a peer's exit of actor {actor}: it did not spawn it, and the actor does not allow remote stops (Node::allow_remote_stop)");
        Ok(())
    }

    /// Lets `who` stop local actor `local` from the wire.
    pub(crate) fn grant_stop(&self, local: u64, who: super::exposed::Stopper) {
        self.exposed.grant_stop(local, who);
    }

    /// The peer shuts down: nothing follows on this connection.
    fn on_goodbye(self: &Arc<Self>, caller: &Caller<'_>, _: Control) -> Result<(), String> {
        self.tell(PeerEvent::Left {
            node: caller.node(),
            incarnation: caller.incarnation(),
        });
        self.closed(caller.session, caller.conn, "the peer shut down", Loss::Left);
        caller.conn.close(CLOSE_SHUTDOWN, "goodbye");
        Ok(())
    }

    /// The link to node `name` (made on first use).
    pub(crate) fn link_named(self: &Arc<Self>, name: &str) -> Arc<Session> {
        let mut links = lock(&self.links);
        if let Some(l) = links.get(name) {
            return l.clone();
        }
        let node: Arc<str> = name.into();
        let link = Arc::new(Session {
            monitors: self.monitors_for.session(&node),
            node,
            ctx: self.ctx.clone(),
            conn: ArcSwapOption::empty(),
            pending: Mutex::default(),
            served: Mutex::default(),
            refused: Mutex::default(),
            waiting: Mutex::default(),
        });
        links.insert(link.node.clone(), link.clone());
        link
    }

    /// Makes `actor` reachable by `name` from other nodes.
    pub(crate) fn expose(&self, name: &str, actor: Arc<dyn Exported>) {
        self.exposed.expose(name, actor);
    }

    pub(crate) fn export_entry(&self, actor: Arc<dyn Exported>) {
        self.exposed.export(actor);
    }

    /// The exported local actor number `local`, if it still exists.
    pub(crate) fn exported(&self, local: u64) -> Option<Arc<dyn Exported>> {
        self.exposed.get(local)
    }

    /// The local number of the actor exposed as `name`.
    pub(crate) fn whereis(&self, name: &str) -> Option<u64> {
        self.exposed.whereis(name)
    }

    /// Remembers where `peer` listens, for redials.
    pub(crate) fn remember(&self, peer: &str, addr: SocketAddr) {
        lock(&self.addresses).insert(peer.to_owned(), addr);
    }

    /// A receiver that sees every connection change.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Dials `peer` at `addr` and brings the connection up. A refusal for a
    /// reason of configuration is kept on the peer's session, for waiters.
    pub(crate) async fn dial(
        self: &Arc<Self>,
        peer: &str,
        addr: SocketAddr,
    ) -> Result<(), TransportError> {
        let Some(workers) = self.workers.upgrade() else {
            return self.dial_here(peer, addr).await;
        };
        if workers.is_here(workers.io()) {
            return self.dial_here(peer, addr).await;
        }
        // the connection's tasks go where the network lives, not to the
        // user worker whose actor happened to need the peer
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (this, peer) = (self.clone(), peer.to_owned());
        let stopping = || TransportError::Connect(quinn::ConnectError::EndpointStopping);
        workers
            .run_on(workers.io(), move || {
                drop(platform::spawn_local(async move {
                    let _ = tx.send(this.dial_here(&peer, addr).await);
                }));
            })
            .map_err(|_| stopping())?;
        rx.await.unwrap_or_else(|_| Err(stopping()))
    }

    /// [`Network::dial`] on this thread.
    async fn dial_here(
        self: &Arc<Self>,
        peer: &str,
        addr: SocketAddr,
    ) -> Result<(), TransportError> {
        self.dials.fetch_add(1, Ordering::Relaxed);
        match self.endpoint.connect(addr, peer).await {
            Ok(p) => {
                self.attach(p, true);
                Ok(())
            }
            Err(e) => {
                if e.peer_close_code() == Some(CLOSE_DOWN) {
                    // it admitted this node, then closed at once: it holds
                    // this node's life down (the dial named it and TLS
                    // checked its certificate, so the word is its own)
                    self.tell(PeerEvent::DeclaredUsDown { by: peer });
                }
                if let Some(cause) = super::Misconfiguration::of(&e) {
                    // said loudly, once per interval: this node cannot be
                    // part of the cluster until its configuration changes
                    platform::throttled_warn!(self.endpoint.throttle(), "refused by a peer", source = peer,
                        node = %self.me, %peer, %addr, "cannot join node {peer}: {cause}");
                    *lock(&self.link_named(peer).refused) = Some(cause);
                    self.changed.send_modify(|v| *v += 1);
                }
                Err(e)
            }
        }
    }

    /// Closes the log throttle's windows every interval until the network
    /// closes, so the lines held back are said even if no more come.
    /// (Holds the network weakly: it goes when the node does.)
    pub(crate) async fn flush_logs(self: Arc<Self>) {
        // a window is said within a quarter interval of its closing
        let every = self.endpoint.throttle().interval() / 4;
        let net = Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(every).await;
            match net.upgrade() {
                Some(net) if !net.is_closed() => net.endpoint.throttle().flush(),
                _ => return,
            }
        }
    }

    /// Accepts connections until the endpoint closes; each handshake runs in
    /// a task of its own, so a silent peer does not hold up the others.
    pub(crate) async fn accept_loop(self: Arc<Self>) {
        while let Some(incoming) = self.endpoint.incoming().await {
            let net = self.clone();
            platform::spawn_local(async move {
                if let Ok(peer) = net.endpoint.handshake_incoming(incoming).await {
                    net.attach(peer, false);
                }
            });
        }
    }

    /// A handshake completed: start the connection and make it the peer's
    /// live one, unless it loses a simultaneous-dial tie. The peer table is
    /// the truth; the session's `conn` is its read cache for the send path,
    /// written only under the table's lock.
    fn attach(self: &Arc<Self>, peer: crate::transport::Peer, dialed_by_me: bool) {
        let name = peer.hello.node.clone();
        let incarnation = peer.hello.incarnation;
        let link = self.link_named(&name);
        let inbound = Arc::new(Inbound::new(
            self.clone(),
            link.clone(),
            link.served_by_life(incarnation),
            self.limits.served_asks,
        ));
        let conn = Connection::start(
            peer,
            self.data_lanes,
            &self.limits,
            self.endpoint.counters().clone(),
            inbound.clone(),
        );
        inbound.set_connection(&conn);
        let replaced = {
            let mut peers = lock(&self.peers);
            match peers.offer(&name, incarnation, conn.clone(), dialed_by_me) {
                Offer::Duplicate(c) => {
                    drop(peers);
                    c.close(CLOSE_DUPLICATE, "duplicate connection");
                    return;
                }
                Offer::Accepted { replaced } => {
                    link.conn.store(Some(conn.clone()));
                    *lock(&link.refused) = None;
                    replaced
                }
            }
        };
        if let Some(old) = replaced {
            if old.peer().incarnation == incarnation {
                // the same life of the peer (a simultaneous dial decided
                // late): what is in flight on the old connection, both ways,
                // still arrives while it drains, and the asks and monitors
                // across it (the session's) stay; then it closes
                platform::spawn_local(async move {
                    tokio::time::sleep(REPLACED_DRAIN).await;
                    old.close(CLOSE_DUPLICATE, "replaced by a newer connection");
                });
            } else {
                link.connection_lost(&old, Loss::Lost);
                old.close(CLOSE_DUPLICATE, "replaced by a newer connection");
            }
        }
        tracing::info!(node = %self.me, peer = %name, incarnation, dialed_by_me, "connected");
        self.tell(PeerEvent::Up {
            session: &link,
            conn: &conn,
        });
        let waiting = std::mem::take(&mut *lock(&link.waiting));
        for msg in waiting {
            link.system(&conn, &msg);
        }
        self.changed.send_modify(|v| *v += 1);
    }

    /// `conn` closed, or its peer said goodbye: if it was the peer's live
    /// one, fail what waits on it and (if its address is known) arm the
    /// peer's one redial timer.
    pub(crate) fn closed(
        self: &Arc<Self>,
        link: &Arc<Session>,
        conn: &Arc<Connection>,
        reason: &str,
        loss: Loss,
    ) {
        if loss == Loss::DeclaredDown {
            // told even if this was not the live connection: the verdict is
            // about this node's life, not the connection
            self.tell(PeerEvent::DeclaredUsDown { by: &link.node });
        }
        let addr = lock(&self.addresses).get(&*link.node).copied();
        let lost = {
            let mut peers = lock(&self.peers);
            let can_redial = addr.is_some() && !self.is_closed();
            let (now, unit) = (platform::now(), self.rng.unit());
            let lost = peers.lost(&link.node, |c| Arc::ptr_eq(c, conn), now, unit, can_redial);
            if lost != Lost::NotLive {
                link.conn.store(None);
            }
            lost
        };
        let Lost::Live { redial } = lost else {
            return;
        };
        link.connection_lost(conn, loss);
        self.tell(PeerEvent::Down {
            node: &link.node,
            incarnation: conn.peer().incarnation,
        });
        match loss {
            Loss::Lost | Loss::DeclaredDown if !self.is_closed() => {
                tracing::warn!(node = %self.me, peer = %link.node, "connection lost: {reason}")
            }
            _ => tracing::info!(node = %self.me, peer = %link.node, "disconnected: {reason}"),
        }
        self.changed.send_modify(|v| *v += 1);
        if let (Some(timer), Some(addr)) = (redial, addr) {
            self.on_io(self.clone().redial(link.node.to_string(), addr, timer));
        }
    }

    /// Spawns `task` on a user worker if the node's network has an I/O
    /// worker of its own (work a peer can make heavy, kept off the thread
    /// that runs the transport and membership); `false` if it has none
    /// (the caller then does the work where it is).
    pub(crate) fn off_io(&self, task: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
        match self.workers.upgrade() {
            Some(w) if w.io() != 0 => {
                let _ = w.spawn_on(0, task);
                true
            }
            _ => false,
        }
    }

    /// Spawns one of the network's tasks on the node's I/O worker (on this
    /// thread if that is it, or if the node has no workers of its own).
    fn on_io(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match self.workers.upgrade() {
            Some(w) => {
                // stopped workers drop the task: the network is gone too
                let _ = w.spawn_on(w.io(), task);
            }
            None => drop(platform::spawn_local(task)),
        }
    }

    /// Dials `peer` once more even if a connection to it looks live (a
    /// handshake the peer refuses with a verdict is heard at once; a
    /// connection the peer dropped goes unanswered until its idle
    /// timeout). A connection made so is offered like any other: the
    /// duplicate of a live one is closed.
    pub(crate) fn dial_anew(self: &Arc<Self>, peer: &str, addr: SocketAddr) {
        let (this, peer) = (self.clone(), peer.to_owned());
        self.on_io(async move {
            if let Err(e) = this.dial(&peer, addr).await {
                tracing::debug!(node = %this.me, %peer, "dialed anew: {e}");
            }
        });
    }

    /// Dials `peer` now and, while it cannot be reached, again with backoff
    /// (unless it is connected, or being redialed already).
    pub(crate) async fn keep_dialing(self: Arc<Self>, peer: String, addr: SocketAddr) {
        let timer = lock(&self.peers).dial_now(&peer, platform::now());
        if let Some(timer) = timer {
            self.redial(peer, addr, timer).await
        }
    }

    /// Runs `peer`'s redial timer: dials at its due time and, after each
    /// failure, again after the backoff, until a connection to the peer is
    /// up (made by either side) or the timer is no longer the peer's.
    async fn redial(self: Arc<Self>, peer: String, addr: SocketAddr, timer: Timer) {
        let mut due = timer.due;
        loop {
            tokio::time::sleep_until(due).await;
            if self.is_closed() || !lock(&self.peers).is_current(&peer, timer.id) {
                return;
            }
            match self.dial(&peer, addr).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(node = %self.me, %peer, "redial failed: {e}");
                    let (now, unit) = (platform::now(), self.rng.unit());
                    match lock(&self.peers).dial_failed(&peer, timer.id, now, unit) {
                        Some(next) => due = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// Sends `msg` to member `node` (listening at `addr`) on the control
    /// lane. Sends never wait for a connection: with none, the member is
    /// dialed and the message waits for the connection (at most
    /// [`WAITING`] per peer, the oldest dropped and counted).
    pub(crate) fn send_to_member(self: &Arc<Self>, node: &str, addr: SocketAddr, msg: Control) {
        let link = self.link_named(node);
        match link.conn.load_full() {
            Some(conn) => link.system(&conn, &msg),
            None => {
                if !self.is_closed() && node != &*self.me.name {
                    {
                        let mut waiting = lock(&link.waiting);
                        if waiting.len() >= WAITING {
                            waiting.pop_front();
                            self.undeliverable.fetch_add(1, Ordering::Relaxed);
                        }
                        waiting.push_back(msg);
                    }
                    self.remember(node, addr);
                    self.on_io(self.clone().keep_dialing(node.to_owned(), addr));
                }
            }
        }
    }

    /// Forgets node `node` unless it is connected: it is not redialed any
    /// more, its address goes, and so does its session unless something
    /// still holds it (a ref, an ask); messages waiting for its connection
    /// are dropped, counted undeliverable. Membership calls this when a
    /// member it never reached is declared down, and when it forgets one:
    /// a made-up member is not dialed for ever.
    pub(crate) fn forget(&self, node: &str) {
        if !lock(&self.peers).forget(node) {
            return;
        }
        lock(&self.addresses).remove(node);
        let mut links = lock(&self.links);
        if let Some(link) = links.get(node) {
            if link.conn.load().is_none() {
                let dropped = std::mem::take(&mut *lock(&link.waiting)).len();
                self.undeliverable
                    .fetch_add(dropped as u64, Ordering::Relaxed);
                // held only by the table: nothing waits on it
                if Arc::strong_count(link) == 1 {
                    links.remove(node);
                }
            }
        }
    }

    /// Peers this node keeps state for: sessions, addresses, dial entries.
    pub(crate) fn peers_held(&self) -> (usize, usize, usize) {
        (
            lock(&self.links).len(),
            lock(&self.addresses).len(),
            lock(&self.peers).len(),
        )
    }

    /// Node `node`'s life `incarnation` (or an older one) is over: its
    /// connection goes, which fails its asks and fires its monitors.
    pub(crate) fn close_life(&self, node: &str, incarnation: u64, why: &str) {
        let conn = lock(&self.links)
            .get(node)
            .and_then(|l| l.conn.load_full());
        if let Some(conn) = conn {
            if conn.peer().incarnation <= incarnation {
                conn.close(CLOSE_DOWN, why);
            }
        }
    }

    /// Whether the node's network is shutting down.
    pub(crate) fn is_closed(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Closes the endpoint and every connection at once (no goodbye):
    /// what waits on a peer fails with `NodeDown`, and every link the users'
    /// refs still hold is left without a connection.
    pub(crate) fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        self.endpoint.close();
        lock(&self.peers).close_all();
        let links: Vec<Arc<Session>> = lock(&self.links).values().cloned().collect();
        for link in links {
            if let Some(conn) = link.conn.swap(None) {
                link.connection_lost(&conn, Loss::Lost);
            }
        }
        self.exposed.clear();
        self.changed.send_modify(|v| *v += 1);
    }

    /// Sends `msg` to each of `peers` on the control lane, dialing those
    /// not connected, and waits until each was sent or `wait` is over (a
    /// leaving member tells the cluster first, so it is seen as left).
    pub(crate) async fn tell_each(
        self: &Arc<Self>,
        peers: Vec<(String, SocketAddr)>,
        msg: &Control,
        wait: std::time::Duration,
    ) {
        let deadline = platform::deadline(wait);
        let told = peers.into_iter().map(|(name, addr)| {
            let link = self.link_named(&name);
            self.remember(&name, addr);
            async move {
                if link.conn.load().is_none() {
                    self.on_io(self.clone().keep_dialing(name, addr));
                }
                if let Ok(conn) = self.connected_to(&link, deadline).await {
                    push_system(&self.ctx, &conn, LaneId::Control, msg);
                }
            }
        });
        futures_util::future::join_all(told).await;
    }

    /// Closes gracefully: tells every connected peer goodbye (after
    /// whatever this node queued for it, on the control lane), waits up to
    /// `wait` for the peers to close their connections (each does on
    /// reading the goodbye), then closes the endpoint and waits up to
    /// `wait` for it to be idle.
    pub(crate) async fn leave(self: &Arc<Self>, wait: std::time::Duration) {
        self.closing.store(true, Ordering::Release);
        let conns: Vec<Arc<Connection>> = lock(&self.links)
            .values()
            .filter_map(|l| l.conn.load_full())
            .collect();
        for conn in &conns {
            push_system(&self.ctx, conn, LaneId::Control, &Control::Goodbye);
        }
        let taken = futures_util::future::join_all(conns.iter().map(|c| c.closed()));
        let all_took_it = tokio::time::timeout(wait, taken).await.is_ok();
        self.shutdown();
        if !all_took_it {
            // some peer did not answer: give the close frames a chance to go
            tracing::debug!(node = %self.me, "not every peer closed after the goodbye");
            let _ = tokio::time::timeout(wait, self.endpoint.quic().wait_idle()).await;
        }
        tracing::info!(node = %self.me, peers = conns.len(), "left the cluster");
    }

    /// Peers' monitors of our actors held now, and refused, over all peers.
    pub(crate) fn peer_monitors(&self) -> (u64, u64) {
        lock(&self.links)
            .values()
            .map(|l| l.peer_monitors())
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    }

    /// Peers' asks being served now, over all peers.
    pub(crate) fn served_asks_in_flight(&self) -> u64 {
        self.served_asks.load(Ordering::Relaxed)
    }

    /// The network's counters (membership's are the node's to add).
    pub(crate) fn stats(&self) -> NetStats {
        use std::sync::atomic::Ordering::Relaxed;
        let (peer_monitors, monitors_refused) = self.peer_monitors();
        let c = self.endpoint.counters();
        NetStats {
            late_replies: self.late_replies(),
            undeliverable: self.undeliverable.load(Relaxed),
            peer_monitors,
            monitors_refused,
            connections_open: self.endpoint.quic().open_connections() as u64,
            handshakes_in_flight: self.endpoint.handshakes_in_flight() as u64,
            handshakes_refused: c.handshakes_refused.load(Relaxed),
            handshakes_retried: c.handshakes_retried.load(Relaxed),
            handshakes_timed_out: c.handshakes_timed_out.load(Relaxed),
            unfinished_frames_refused: c.unfinished_frames_refused.load(Relaxed),
            served_asks_in_flight: self.served_asks_in_flight(),
            served_asks_refused: c.served_asks_refused.load(Relaxed),
            handshakes_refused_per_source: c.handshakes_refused_per_source.load(Relaxed),
            hellos_refused: c.hellos_refused.load(Relaxed),
            dials: self.dials.load(Relaxed),
            exits_refused: self.exits_refused.load(Relaxed),
            clients_refused: self.clients_refused.load(Relaxed),
            // membership's, the registry's and spawning's are the node's
            // to add
            ..NetStats::default()
        }
    }

    /// Replies that arrived after their ask stopped waiting, over all peers.
    pub(crate) fn late_replies(&self) -> u64 {
        lock(&self.links).values().map(|l| l.late_replies()).sum()
    }

    /// [`Network::connected_to`], for the node's own asks (lookup,
    /// spawn, status): its failure names the node and, if it was not
    /// refused, how long it was waited for.
    pub(crate) async fn connected_for(
        self: &Arc<Self>,
        link: &Session,
        deadline: platform::Instant,
        waited: std::time::Duration,
    ) -> Result<Arc<Connection>, Unreachable> {
        self.connected_to(link, deadline)
            .await
            .map_err(|cause| match cause {
                Some(cause) => Unreachable::Refused {
                    node: link.node.to_string(),
                    cause,
                },
                None => Unreachable::NotConnected {
                    node: link.node.to_string(),
                    waited,
                },
            })
    }

    /// The live connection to `link`'s node, waiting for one up to
    /// `deadline`. `Err(Some(cause))` if the node refuses us (or we it) for
    /// a reason of configuration: when the last dial was refused so, it is
    /// dialed again at once, for a fresh answer, rather than waited out.
    pub(crate) async fn connected_to(
        self: &Arc<Self>,
        link: &Session,
        deadline: platform::Instant,
    ) -> Result<Arc<Connection>, Option<super::Misconfiguration>> {
        let mut changes = self.changes();
        let mut redialed = false;
        loop {
            if let Some(conn) = link.conn.load_full() {
                return Ok(conn);
            }
            let refused = lock(&link.refused).clone();
            if let Some(cause) = refused {
                let addr = lock(&self.addresses).get(&*link.node).copied();
                match addr {
                    Some(addr) if !redialed => {
                        redialed = true;
                        let dial = self.dial(&link.node, addr);
                        match tokio::time::timeout_at(deadline, dial).await {
                            Ok(Ok(())) => continue,
                            Ok(Err(e)) => {
                                if let Some(cause) = super::Misconfiguration::of(&e) {
                                    return Err(Some(cause));
                                }
                            }
                            Err(_) => return Err(None),
                        }
                    }
                    _ => return Err(Some(cause)),
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(None),
            }
        }
    }

    /// The smoothed round trip QUIC measures on the connection to `node`,
    /// if it has one.
    pub(crate) fn rtt_to(&self, node: &str) -> Option<std::time::Duration> {
        lock(&self.links)
            .get(node)
            .and_then(|l| l.conn.load_full())
            .map(|c| c.rtt())
    }

    /// Every peer's session with its live connection.
    pub(crate) fn live_links(&self) -> Vec<(Arc<Session>, Arc<Connection>)> {
        lock(&self.links)
            .values()
            .filter_map(|l| l.conn.load_full().map(|c| (l.clone(), c)))
            .collect()
    }

    /// The life of node `name` this node holds a live connection with.
    pub(crate) fn live_life(&self, name: &str) -> Option<u64> {
        lock(&self.links)
            .get(name)
            .and_then(|l| l.conn.load_full())
            .map(|c| c.peer().incarnation)
    }

    /// The peers connected now.
    pub(crate) fn connected(&self) -> Vec<NodeId> {
        let links = lock(&self.links);
        let mut v: Vec<NodeId> = links
            .values()
            .filter_map(|l| {
                l.conn
                    .load()
                    .as_ref()
                    .map(|c| NodeId::new(l.node.clone(), c.peer().incarnation))
            })
            .collect();
        v.sort();
        v
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Counters of the node's network side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Replies that arrived after their ask stopped waiting (dropped).
    pub late_replies: u64,
    /// Messages from the wire with an unknown tag or an undecodable payload.
    pub undeliverable: u64,
    /// QUIC connections open now: the live one to each peer, and any
    /// being replaced by a newer one to the same peer (they drain for 2 s)
    /// or still closing.
    pub connections_open: u64,
    /// Monitors that peers hold on this node's actors now.
    pub peer_monitors: u64,
    /// Peers' monitors refused because the peer held its maximum
    /// ([`PeerLimits::peer_monitors`](crate::net::PeerLimits::peer_monitors)).
    pub monitors_refused: u64,
    /// Incoming handshakes in flight now ([`PeerLimits::handshakes_in_flight`](crate::net::PeerLimits::handshakes_in_flight)).
    pub handshakes_in_flight: u64,
    /// Connection attempts refused at the handshake cap.
    pub handshakes_refused: u64,
    /// Connection attempts asked to validate their address first (QUIC
    /// Retry), past [`PeerLimits::unvalidated_handshakes`](crate::net::PeerLimits::unvalidated_handshakes).
    pub handshakes_retried: u64,
    /// Handshakes dropped at [`PeerLimits::handshake_timeout`](crate::net::PeerLimits::handshake_timeout).
    pub handshakes_timed_out: u64,
    /// Connections closed for holding more unfinished frame bytes than
    /// [`PeerLimits::unfinished_frame_bytes`](crate::net::PeerLimits::unfinished_frame_bytes), or a frame unfinished past
    /// [`PeerLimits::frame_deadline`](crate::net::PeerLimits::frame_deadline).
    pub unfinished_frames_refused: u64,
    /// Peers' asks being served now.
    pub served_asks_in_flight: u64,
    /// Peers' asks answered `Overloaded` at [`PeerLimits::served_asks`](crate::net::PeerLimits::served_asks).
    pub served_asks_refused: u64,
    /// Membership packets that did not decode (dropped).
    pub membership_malformed: u64,
    /// Membership packets refused whole: their sender spoke for another
    /// member than its connection's node, or asked for a probe of a member
    /// this node does not know.
    pub membership_refused: u64,
    /// Updates dropped from membership packets: lives ahead of this node's
    /// clock, newer lives of nodes connected here (they say so
    /// themselves), members past [`MembershipConfig::max_members`](crate::cluster::MembershipConfig::max_members).
    pub membership_updates_dropped: u64,
    /// `Down`s about members this node hears from, taken as suspicions
    /// (the member refutes one that is false).
    pub membership_downs_doubted: u64,
    /// Connection attempts refused because their address had
    /// [`PeerLimits::handshakes_per_source`](crate::net::PeerLimits::handshakes_per_source) in flight.
    pub handshakes_refused_per_source: u64,
    /// Hellos refused: another cluster or version, a certificate that does
    /// not name the node, a life ahead of this node's clock, a malformed or
    /// oversized frame before the hello.
    pub hellos_refused: u64,
    /// Dials this node made (first dials and redials): a peer that makes
    /// it dial addresses of its choosing shows here.
    pub dials: u64,
    /// Peers' `Exit`s refused: the actor was not theirs to stop (they did
    /// not spawn it, and it does not allow remote stops).
    pub exits_refused: u64,
    /// Messages only members may send (membership, registry writes,
    /// spawns, drains), refused because the peer's certificate is a
    /// client's.
    pub clients_refused: u64,
    /// Peers' remote spawns refused at their quota
    /// ([`PeerLimits::spawns_in_flight`](crate::net::PeerLimits::spawns_in_flight),
    /// [`PeerLimits::spawned_actors`](crate::net::PeerLimits::spawned_actors)).
    pub spawns_refused: u64,
    /// Actors peers spawned here still running.
    pub peer_spawned_running: u64,
    /// Registry updates refused (a stamp of 0, one far ahead of this
    /// node's clock or not past the peer's earlier ones, a part past its
    /// cap) and resync asks past their rate (one a second per peer).
    pub registry_refused: u64,
    /// Names and group memberships held in the peers' registry parts.
    pub registry_replica_entries: u64,
}

/// Why no connection to a node could be had for one of the node's own asks
/// (said as `NodeError` says it, for callers that cannot name that).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unreachable {
    /// The node refuses us, or we it, for a reason of configuration.
    #[error("cannot join node {node}: {cause}")]
    Refused {
        /// The node.
        node: String,
        /// What differs.
        cause: super::Misconfiguration,
    },
    /// No connection came up in time.
    #[error(
        "no connection to node {node} within {waited:?}: check that it runs, \
         with the same cluster name and secret, and that its address is reachable"
    )]
    NotConnected {
        /// The node.
        node: String,
        /// How long it was waited for.
        waited: std::time::Duration,
    },
}

/// Why a connection ended, as the waiters on it are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loss {
    /// Closed, timed out or cut: asks fail and monitors fire with `NodeDown`.
    Lost,
    /// Closed by the peer as the loser of a simultaneous dial: as `Lost`
    /// for what waited on it, but routine (not logged as a failure).
    Duplicate,
    /// Closed by the peer because its cluster declared this node down: as
    /// `Lost` for what waited on it, and told as
    /// [`PeerEvent::DeclaredUsDown`].
    DeclaredDown,
    /// The peer said goodbye: it shut down, so asks fail with
    /// `NodeShutdown` and monitors fire with `Shutdown`.
    Left,
}

/// The node as a ref context: its id and counters, and (while it exists)
/// its exports and links.
struct NetworkContext {
    me: NodeId,
    stats: Arc<Stats>,
    net: std::sync::Weak<Network>,
}

impl RefContext for NetworkContext {
    fn me(&self) -> &NodeId {
        &self.me
    }
    fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }
    fn export(&self, id: &ActorId, make: &mut dyn FnMut() -> Option<Arc<dyn Exported>>) {
        if let Some(net) = self.net.upgrade() {
            if net.exported(id.local).is_none() {
                if let Some(e) = make() {
                    net.export_entry(e);
                }
            }
        }
    }
    fn local(&self, local: u64) -> Option<Arc<dyn Exported>> {
        self.net.upgrade().and_then(|net| net.exported(local))
    }
    fn link(&self, node: &NodeId) -> Arc<dyn Outbound> {
        match self.net.upgrade() {
            Some(net) if !net.is_closed() => net.link_named(&node.name),
            _ => Arc::new(NoLink),
        }
    }
}

/// The head of a tell of `tag` to `recipient` on the peer of `conn`.
fn envelope_head<'a>(conn: &Connection, recipient: u64, tag: &'a str) -> EnvelopeHead<'a> {
    EnvelopeHead {
        recipient,
        recipient_incarnation: conn.peer().incarnation,
        sender: None,
        tag,
        correlation: None,
        timeout_ms: None,
        trace: None,
    }
}

/// Queues a system message on `conn`'s `lane`, encoded with `ctx`.
fn push_system(ctx: &Arc<dyn RefContext>, conn: &Connection, lane: LaneId, msg: &Control) {
    let head = envelope_head(conn, CONTROL_RECIPIENT, msg.tag());
    let limits = *conn.limits();
    let _ = with_context(ctx, || {
        conn.push(lane, Admit::UnderCap, |buf| {
            head.write_frame(&limits, buf, |b| {
                msg.encode_payload(b).map_err(|e| e.to_string())
            })
        })
    });
}

/// This node's session with one peer node: its asks, monitors and live
/// connection. (Not an Erlang link: a link ties two processes' lives; a
/// session is the per-peer state of the node's connection.)
pub(crate) struct Session {
    pub(crate) node: Arc<str>,
    /// The node as the ref context messages are encoded in.
    pub(crate) ctx: Arc<dyn RefContext>,
    /// The live connection, if any.
    pub(crate) conn: ArcSwapOption<Connection>,
    pending: Mutex<PendingAsks<RemoteReply>>,
    /// Monitors across this peer connection, both ways.
    monitors: Arc<dyn SessionMonitors>,
    /// Why the last dial of the node was refused, if for a reason of
    /// configuration (cleared when a connection comes up).
    pub(crate) refused: Mutex<Option<super::Misconfiguration>>,
    /// The peer's asks being served now, by the peer's life they came
    /// from, over all its connections (a reconnect does not start the
    /// count over; a new life does: its old life's asks, still running
    /// out, do not lock it out).
    served: Mutex<(u64, Arc<std::sync::atomic::AtomicUsize>)>,
    /// Control messages for the peer while its connection is being
    /// dialed, sent once it is up (at most [`WAITING`]).
    waiting: Mutex<std::collections::VecDeque<Control>>,
}

/// Control messages (membership packets) held per peer while it is
/// dialed. Dropping them
/// instead made a forming cluster of 100 fail its first probes of members
/// it had no connection to yet, and declare them down by the thousand: a
/// probe, its indirect probes and the suspect's refutation all went to
/// members not yet connected. Past the bound the oldest is dropped (and
/// counted as undeliverable): SWIM tolerates loss, not a flood of stale
/// packets.
const WAITING: usize = 64;

impl Session {
    /// The count of asks being served for the peer's life `incarnation`
    /// (a new one for a newer life).
    pub(crate) fn served_by_life(&self, incarnation: u64) -> Arc<std::sync::atomic::AtomicUsize> {
        let mut served = lock(&self.served);
        if served.0 != incarnation {
            *served = (incarnation, Arc::default());
        }
        served.1.clone()
    }

    /// Asks the peer node, over `conn`, which local number it exposes
    /// `name` under; returns the node's id and the number, if any.
    pub(crate) async fn whereis(
        &self,
        conn: &Connection,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<(NodeId, Option<u64>), AskError> {
        let msg = Control::Whereis {
            name: name.to_owned(),
        };
        let (node, reply) = self.control_ask(conn, &msg, timeout).await?;
        let found = crate::wire::decode(&reply).map_err(|e| AskError::Decode(e.to_string()))?;
        Ok((node, found))
    }

    /// Sends the node's own ask `msg` over `conn` and waits up to
    /// `timeout` for the reply; returns the peer's id and the reply.
    pub(crate) async fn control_ask(
        &self,
        conn: &Connection,
        msg: &Control,
        timeout: std::time::Duration,
    ) -> Result<(NodeId, Vec<u8>), AskError> {
        let node = NodeId::new(self.node.clone(), conn.peer().incarnation);
        let pending = self
            .send_ask(
                conn,
                LaneId::Control,
                CONTROL_RECIPIENT,
                msg.tag(),
                timeout,
                &mut |b| msg.encode_payload(b).map_err(|e| e.to_string()),
            )
            .map_err(|_| AskError::NodeDown(node.clone()))?;
        match tokio::time::timeout(timeout, pending.rx).await {
            Ok(Ok(reply)) => Ok((node, reply?)),
            Ok(Err(_)) => Err(AskError::NodeDown(node)),
            Err(_) => {
                self.forget(pending.correlation);
                Err(AskError::Timeout(timeout))
            }
        }
    }

    /// Writes one envelope with `head` onto `lane`, the payload encoded in
    /// place with this node as the ref context.
    #[inline]
    fn push_envelope(
        &self,
        conn: &Connection,
        lane: LaneId,
        admit: Admit,
        head: &EnvelopeHead<'_>,
        payload: PayloadWriter<'_>,
    ) -> Result<(), OutboundError> {
        let limits = *conn.limits();
        with_context(&self.ctx, || {
            conn.push(lane, admit, |buf| {
                head.write_frame(&limits, buf, |b| payload(b))
            })
        })
        .map_err(push_error)
    }

    /// Registers an ask of `recipient` (waiting `timeout`) and writes its
    /// envelope; the ask is forgotten again if it could not be queued.
    fn send_ask(
        &self,
        conn: &Connection,
        lane: LaneId,
        recipient: u64,
        tag: &str,
        timeout: std::time::Duration,
        payload: PayloadWriter<'_>,
    ) -> Result<PendingReply, OutboundError> {
        let (correlation, rx) = lock(&self.pending).register();
        let head = EnvelopeHead {
            correlation: Some(correlation),
            timeout_ms: Some(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)),
            ..envelope_head(conn, recipient, tag)
        };
        match self.push_envelope(conn, lane, Admit::UnderLaneLimit, &head, payload) {
            Ok(()) => Ok(PendingReply { correlation, rx }),
            Err(e) => {
                self.forget(correlation);
                Err(e)
            }
        }
    }

    /// Runs `f` on the live connection to the node in `incarnation`, if
    /// there is one (through a guard: the send path touches no reference
    /// count).
    #[inline]
    fn with_conn<R>(&self, incarnation: u64, f: impl FnOnce(&Arc<Connection>) -> R) -> Option<R> {
        let guard = self.conn.load();
        guard
            .as_ref()
            .filter(|c| c.peer().incarnation == incarnation)
            .map(f)
    }

    /// Queues a system message on the control lane.
    pub(crate) fn system(&self, conn: &Connection, msg: &Control) {
        push_system(&self.ctx, conn, LaneId::Control, msg);
    }

    /// Queues a system message on the control lane of the live connection
    /// to the peer's life `incarnation`; false if there is none. For what
    /// must follow the peer rather than one connection: a connection
    /// replaced by a newer one to the same life drains and closes.
    pub(crate) fn system_to_life(&self, incarnation: u64, msg: &Control) -> bool {
        self.with_conn(incarnation, |c| self.system(c, msg)).is_some()
    }

    /// Queues a signal for the peer's actor `to` on that actor's data lane,
    /// behind every message sent to it before (Erlang's per-pair order
    /// covers signals: a stop never overtakes earlier tells, and a monitor
    /// is in place before anything sent after it arrives).
    fn signal(&self, conn: &Connection, to: &ActorId, msg: &Control) {
        push_system(&self.ctx, conn, LaneId::DataFor(to.local), msg);
    }

    /// A reply arrived (one nobody waits for is counted as late).
    pub(crate) fn complete(&self, correlation: u64, reply: RemoteReply) {
        lock(&self.pending).complete(correlation, reply);
    }

    /// Replies that arrived after their ask stopped waiting.
    pub(crate) fn late_replies(&self) -> u64 {
        lock(&self.pending).late_replies()
    }

    /// The peer's monitors of our actors held now, and refused so far.
    pub(crate) fn peer_monitors(&self) -> (u64, u64) {
        self.monitors.held_and_refused()
    }

    /// The connection `conn` is gone: asks fail, monitors fire, the peer's
    /// monitors of our actors are dropped.
    fn connection_lost(&self, conn: &Arc<Connection>, loss: Loss) {
        let node = NodeId::new(self.node.clone(), conn.peer().incarnation);
        let (error, reason) = match loss {
            Loss::Lost | Loss::Duplicate | Loss::DeclaredDown => {
                (AskError::NodeDown(node.clone()), ExitReason::NodeDown)
            }
            Loss::Left => (AskError::NodeShutdown(node.clone()), ExitReason::Shutdown),
        };
        let failed = lock(&self.pending).fail_all(|| Err(error.clone()));
        self.monitors.connection_lost(&reason);
        if failed > 0 {
            tracing::debug!(peer = %node, failed, "pending asks failed: {error}");
        }
    }
}

fn push_error(e: PushError<WriteError<String>>) -> OutboundError {
    match e {
        PushError::Full => OutboundError::Full,
        PushError::Closed => OutboundError::NodeDown,
        PushError::Write(WriteError::Payload(m)) => OutboundError::Encode(m),
        PushError::Write(WriteError::Wire(w)) => OutboundError::Encode(w.to_string()),
    }
}

impl Outbound for Session {
    #[inline]
    fn tell(
        &self,
        to: &ActorId,
        tag: &str,
        insist: Insist,
        payload: PayloadWriter<'_>,
    ) -> Result<(), OutboundError> {
        let admit = match insist {
            Insist::No => Admit::UnderLaneLimit,
            Insist::Yes => Admit::UnderCap,
        };
        self.with_conn(to.node.incarnation, |conn| {
            let head = envelope_head(conn, to.local, tag);
            self.push_envelope(conn, LaneId::DataFor(to.local), admit, &head, payload)
        })
        .unwrap_or(Err(OutboundError::NodeDown))
    }

    fn ask(
        &self,
        to: &ActorId,
        tag: &str,
        timeout: std::time::Duration,
        payload: PayloadWriter<'_>,
    ) -> Result<PendingReply, OutboundError> {
        self.with_conn(to.node.incarnation, |conn| {
            let lane = LaneId::DataFor(to.local);
            self.send_ask(conn, lane, to.local, tag, timeout, payload)
        })
        .unwrap_or(Err(OutboundError::NodeDown))
    }

    fn forget(&self, correlation: u64) {
        lock(&self.pending).forget(correlation);
    }

    fn monitor(&self, to: &ActorId, w: Watcher) -> u64 {
        let Some(conn) = self.with_conn(to.node.incarnation, Arc::clone) else {
            w(&ExitReason::NodeDown);
            return 0;
        };
        let key = self.monitors.watch(w);
        self.signal(
            &conn,
            to,
            &Control::Monitor {
                actor: to.local,
                key,
            },
        );
        key
    }

    fn demonitor(&self, to: &ActorId, key: u64) -> bool {
        let removed = self.monitors.unwatch(key);
        if removed {
            if let Some(conn) = self.with_conn(to.node.incarnation, Arc::clone) {
                self.signal(
                    &conn,
                    to,
                    &Control::Demonitor {
                        actor: to.local,
                        key,
                    },
                );
            }
        }
        removed
    }

    fn stop(&self, to: &ActorId, kill: bool) {
        if let Some(conn) = self.with_conn(to.node.incarnation, Arc::clone) {
            self.signal(
                &conn,
                to,
                &Control::Exit {
                    actor: to.local,
                    kill,
                },
            );
        }
    }

    fn is_connected(&self, to: &ActorId) -> bool {
        self.with_conn(to.node.incarnation, |_| ()).is_some()
    }

    fn want_room(&self, to: &ActorId, waker: &std::task::Waker) {
        let lane = LaneId::DataFor(to.local);
        if self
            .with_conn(to.node.incarnation, |c| c.want_room(lane, waker))
            .is_none()
        {
            waker.wake_by_ref();
        }
    }

    fn in_context(&self, f: &mut dyn FnMut()) {
        with_context(&self.ctx, f)
    }
}

/// The link of a node that is shutting down: everything is `NodeDown`.
struct NoLink;

impl Outbound for NoLink {
    fn tell(
        &self,
        _: &ActorId,
        _: &str,
        _: Insist,
        _: PayloadWriter<'_>,
    ) -> Result<(), OutboundError> {
        Err(OutboundError::NodeDown)
    }
    fn ask(
        &self,
        _: &ActorId,
        _: &str,
        _: std::time::Duration,
        _: PayloadWriter<'_>,
    ) -> Result<PendingReply, OutboundError> {
        Err(OutboundError::NodeDown)
    }
    fn forget(&self, _: u64) {}
    fn monitor(&self, _: &ActorId, w: Watcher) -> u64 {
        w(&ExitReason::NodeDown);
        0
    }
    fn demonitor(&self, _: &ActorId, _: u64) -> bool {
        false
    }
    fn stop(&self, _: &ActorId, _: bool) {}
    fn is_connected(&self, _: &ActorId) -> bool {
        false
    }
    fn want_room(&self, _: &ActorId, waker: &std::task::Waker) {
        waker.wake_by_ref();
    }
    fn in_context(&self, f: &mut dyn FnMut()) {
        f()
    }
}
