//! Remote spawn: actor [`Kind`]s registered by name on each node, started
//! from serde arguments by any node of the cluster, on a node a
//! [`Placement`] picks. The [`Spawner`] is both sides: the client (pick a
//! node, ask it, hand back a ref) and the server (`arbour.spawn.v1` asks,
//! registered with the router).
//!
//! What it reads of the cluster (which members are alive, with which
//! roles, and which of them have a kind) it gets from a [`View`] the node
//! installs; a new actor joining a process group is the node's to do
//! ([`Joiner`]). It knows neither membership nor the registry.

mod drain;
mod kinds;
mod quorum;
mod quota;

pub use crate::actor::{Kind, Placement};
pub(crate) use kinds::Refusal;

use crate::actor::{
    ActorRef, AskError, DispatchError, Exported, Host, RemoteSpawn, SpawnFuture, Spawned,
};
use crate::platform;
use crate::remote::{send_reply, Caller, Control, Network, Unreachable};
use drain::Drains;
use kinds::Kinds;
use quorum::Served;
use quota::Quota;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// How long [`Node::spawn_kind`](crate::Node::spawn_kind) waits for a
/// connection and the answer unless told otherwise (`.timeout(d)`), and a
/// supervisor's remote child for each start.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why [`Node::spawn_kind`](crate::Node::spawn_kind) did not start an actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The chosen node has no kind of that name ([`Node::kind`](crate::Node::kind)).
    #[error("node {node} has no actor kind {kind:?} (register it there with Node::kind)")]
    UnknownKind {
        /// The node.
        node: String,
        /// The kind asked for.
        kind: String,
    },
    /// The node could not decode the arguments as the kind's.
    #[error("node {node} could not decode the start arguments of kind {kind:?}: {reason}")]
    BadArgs {
        /// The node.
        node: String,
        /// The kind.
        kind: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The kind's constructor failed (panicked) or the node could not run it.
    #[error("kind {kind:?} failed to start on node {node}: {reason}")]
    Failed {
        /// The node.
        node: String,
        /// The kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// No live node fits the placement and has the kind.
    #[error("no live node for {placement} has actor kind {kind:?}")]
    NoNode {
        /// The placement asked for.
        placement: Placement,
        /// The kind.
        kind: String,
    },
    /// A kind of that name is registered here already.
    #[error("actor kind {0:?} is registered already")]
    Duplicate(String),
    /// The node is leaving the cluster: it drains, and takes no new actor.
    #[error("node {node} is leaving the cluster (it drains: nothing new is placed there)")]
    Leaving {
        /// The node.
        node: String,
    },
    /// This node does not reach a quorum of the cluster (it may be on a
    /// partition's losing side): it places nothing, so that no actor
    /// starts on a side that is about to down itself
    /// ([`Membership::has_quorum`](crate::cluster::Membership::has_quorum)).
    #[error("node {node} does not reach a quorum of the cluster: it places nothing until it does")]
    NoQuorum {
        /// This node.
        node: String,
    },
}

impl SpawnError {
    fn from_refusal(r: Refusal, node: &str, kind: &str) -> Self {
        let (node, kind) = (node.to_owned(), kind.to_owned());
        match r {
            Refusal::UnknownKind => SpawnError::UnknownKind { node, kind },
            Refusal::BadArgs(reason) => SpawnError::BadArgs { node, kind, reason },
            Refusal::Failed(reason) => SpawnError::Failed { node, kind, reason },
            Refusal::Leaving => SpawnError::Leaving { node },
        }
    }
}

/// Why a spawn failed, as the node turns it into a `NodeError`.
#[derive(Debug)]
pub(crate) enum SpawnFailure {
    /// This node is shut down.
    ShutDown,
    Spawn(SpawnError),
    Unreachable(Unreachable),
    Ask(AskError),
    Dispatch(DispatchError),
}

impl std::fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnFailure::ShutDown => f.write_str("the node is shut down"),
            SpawnFailure::Spawn(e) => e.fmt(f),
            SpawnFailure::Unreachable(u) => u.fmt(f),
            SpawnFailure::Ask(e) => e.fmt(f),
            SpawnFailure::Dispatch(e) => e.fmt(f),
        }
    }
}

impl From<SpawnError> for SpawnFailure {
    fn from(e: SpawnError) -> Self {
        SpawnFailure::Spawn(e)
    }
}

/// What the spawner reads of the cluster, installed by the node.
pub(crate) trait View: Send + Sync {
    /// Whether node `name` is known to be down (a member once, not now).
    fn known_down(&self, name: &str) -> bool;
    /// Whether node `name` is a member this node reaches (alive and not
    /// suspected).
    fn reaches(&self, name: &str) -> bool;
    /// Whether this node reaches a quorum of the cluster.
    fn has_quorum(&self) -> bool;
    /// The nodes alive that have `kind`, with `role` if given (this node
    /// included if it fits), in name order.
    fn candidates(&self, kind: &str, role: Option<&str>) -> Vec<String>;
}

/// Adds a new local actor to a process group (the node's registry).
pub(crate) type Joiner = Box<dyn Fn(&str, &Arc<dyn Exported>) -> Result<(), String> + Send + Sync>;

/// What a drain did ([`Spawner::drain`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Actors that moved (started elsewhere, then stopped here).
    pub(crate) moved: usize,
    /// Actors still here when the bound passed (stopped with the node;
    /// their supervisors restart them as after any exit).
    pub(crate) left_behind: usize,
}

/// One node's spawn service.
pub(crate) struct Spawner {
    /// Itself (for the futures it hands out).
    this: Weak<Spawner>,
    /// The node's actors (the node owns both).
    host: crate::actor::WeakHost,
    net: Weak<Network>,
    kinds: Kinds,
    /// Round-robin position for `Any` and `Role`.
    next: AtomicUsize,
    view: OnceLock<Box<dyn View>>,
    joiner: OnceLock<Joiner>,
    /// Who drains, and what to move when a node does.
    drains: Drains,
    /// The actors placed on this node.
    served: Served,
    /// What each peer may make this node run.
    quota: Quota,
    /// Peers' spawns refused at their quota.
    refused: AtomicU64,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

impl Spawner {
    /// The spawn service over `net`, serving its spawn asks.
    pub(crate) fn new(host: &Host, net: &Arc<Network>) -> Arc<Self> {
        let spawner = Arc::new_cyclic(|this| Self {
            this: this.clone(),
            host: host.downgrade(),
            net: Arc::downgrade(net),
            kinds: Kinds::default(),
            next: AtomicUsize::new(0),
            view: OnceLock::new(),
            joiner: OnceLock::new(),
            drains: Drains::default(),
            served: Served::default(),
            quota: Quota::default(),
            refused: AtomicU64::new(0),
        });
        net.router
            .route_members(crate::wire::tags::SPAWN, Arc::downgrade(&spawner), Spawner::on_spawn);
        net.router.route_members(
            crate::wire::tags::DRAINING,
            Arc::downgrade(&spawner),
            Spawner::on_draining,
        );
        spawner
    }

    /// What it reads of the cluster, and how a new actor joins a group
    /// (once; the node's).
    pub(crate) fn install(&self, view: Box<dyn View>, joiner: Joiner) {
        let _ = self.view.set(view);
        let _ = self.joiner.set(joiner);
    }

    /// Makes `A` startable as `name`; false if the name was taken.
    pub(crate) fn add_kind<A: Kind>(&self, name: &str) -> bool {
        self.kinds.add::<A>(name)
    }

    fn net(&self) -> Result<Arc<Network>, SpawnFailure> {
        self.net.upgrade().ok_or(SpawnFailure::ShutDown)
    }

    /// Starts an actor of `kind` from `args` on a node chosen by `at`, in
    /// `group` if given, and returns a ref to it once it runs.
    pub(crate) async fn spawn<A: Kind>(
        &self,
        host: &Host,
        at: &Placement,
        kind: &str,
        args: &A::Args,
        timeout: Duration,
    ) -> Result<ActorRef<A>, SpawnFailure> {
        let target = self.choose(&*self.net()?, at, kind)?;
        let bytes = crate::wire::encode(args).map_err(|e| SpawnError::BadArgs {
            node: target.clone(),
            kind: kind.to_owned(),
            reason: format!("the arguments did not encode: {e}"),
        })?;
        let spawned = self
            .spawn_at(host, &target, kind, bytes, None, timeout)
            .await?;
        let actor = spawned
            .into_ref::<A>(host)
            .map_err(SpawnFailure::Dispatch)?;
        actor.ok_or_else(|| {
            SpawnFailure::Spawn(SpawnError::Failed {
                node: target,
                kind: kind.to_owned(),
                reason: format!("kind {kind:?} is not a {}", std::any::type_name::<A>()),
            })
        })
    }

    /// [`Spawner::spawn`] on node `target` (chosen already), with encoded
    /// arguments, in `group` if given.
    async fn spawn_at(
        &self,
        host: &Host,
        target: &str,
        kind: &str,
        bytes: Vec<u8>,
        group: Option<String>,
        timeout: Duration,
    ) -> Result<Spawned, SpawnFailure> {
        let net = self.net()?;
        if *target == *net.me.name {
            let actor = self.start_here(host, kind, &bytes, group, None).await;
            let actor = actor.map_err(|r| SpawnError::from_refusal(r, target, kind))?;
            return Ok(Spawned::Here(actor));
        }
        let deadline = platform::deadline(timeout);
        let link = net.link_named(target);
        let conn = net
            .connected_for(&link, deadline, timeout)
            .await
            .map_err(SpawnFailure::Unreachable)?;
        let msg = Control::Spawn {
            kind: kind.to_owned(),
            args: bytes,
            group,
        };
        let left = deadline.saturating_duration_since(platform::now());
        let (node_id, reply) = host
            .in_node(link.control_ask(&conn, &msg, left))
            .await
            .map_err(SpawnFailure::Ask)?;
        let outcome: Result<u64, Refusal> = crate::wire::decode(&reply)
            .map_err(|e| SpawnFailure::Ask(AskError::Decode(e.to_string())))?;
        let local = outcome.map_err(|r| SpawnError::from_refusal(r, target, kind))?;
        let id = crate::actor::ActorId {
            node: node_id,
            local,
        };
        Ok(Spawned::There(id, link))
    }

    /// Starts an actor of `kind` on this node, exported to the wire, in
    /// `group` if given.
    async fn start_here(
        &self,
        host: &Host,
        kind: &str,
        bytes: &[u8],
        group: Option<String>,
        spawner: Option<&str>,
    ) -> Result<Arc<dyn Exported>, Refusal> {
        if self.drains.here() {
            return Err(Refusal::Leaving);
        }
        if !self.view.get().is_none_or(|v| v.has_quorum()) {
            return Err(Refusal::Failed(
                "this node does not reach a quorum of the cluster (it may be on a partition's losing side)".into(),
            ));
        }
        let _place = match spawner {
            Some(peer) => {
                let limits = self
                    .net()
                    .map_err(|_| Refusal::Failed("this node is shutting down".into()))?
                    .limits;
                match self
                    .quota
                    .admit(peer, limits.spawns_in_flight, limits.spawned_actors)
                {
                    Ok(place) => Some(place),
                    Err(why) => {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(Refusal::Failed(why));
                    }
                }
            }
            None => None,
        };
        let actor = self.kinds.start(host, kind, bytes).await?;
        if let Some(group) = &group {
            let joined = match self.joiner.get() {
                Some(joiner) => joiner(group, &actor),
                None => Err("this node has no registry".into()),
            };
            if let Err(why) = joined {
                // refused: nothing of it stays behind
                actor.stop(true);
                return Err(Refusal::Failed(why));
            }
        }
        self.served.record(actor.clone());
        if let Some(peer) = spawner {
            self.quota.started(peer, actor.clone());
        }
        if let Ok(net) = self.net() {
            net.export_entry(actor.clone());
            // its spawner may stop it; an instance placed for the cluster
            // (in a group) any member that supervises it, as deployments
            // move between members and adopt what runs
            let who = match (&group, spawner) {
                (Some(_), _) => Some(crate::remote::Stopper::Any),
                (None, Some(peer)) => Some(crate::remote::Stopper::Peer(peer.into())),
                (None, None) => None,
            };
            if let Some(who) = who {
                net.grant_stop(actor.id().local, who);
            }
        }
        Ok(actor)
    }

    /// Peers' spawns refused at their quota so far, and the actors peers
    /// spawned still running here.
    pub(crate) fn quota_counts(&self) -> (u64, u64) {
        (
            self.refused.load(Ordering::Relaxed),
            self.quota.running() as u64,
        )
    }

    /// A peer's ask to start an actor of `kind`: answered with the new
    /// actor's number, or why not, once it runs.
    fn on_spawn(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        let Control::Spawn { kind, args, group } = msg else {
            return Ok(());
        };
        let Some(correlation) = caller.correlation else {
            return Err("spawn without a correlation id".into());
        };
        let (Some(net), Some(host)) = (self.net.upgrade(), self.host.upgrade()) else {
            return Ok(());
        };
        let conn = caller.conn.clone();
        let me = net.me.clone();
        let throttle = net.endpoint.throttle().clone();
        let (this, wanted) = (self.clone(), kind.clone());
        let spawner = caller.node().to_owned();
        let started =
            async move { this.start_here(&host, &wanted, &args, group, Some(&spawner)).await };
        let reply = move |outcome: Result<Arc<dyn Exported>, Refusal>| {
            let outcome: Result<u64, Refusal> = outcome.map(|actor| actor.id().local);
            if let Err(why) = &outcome {
                let peer = &conn.peer().node;
                platform::throttled_warn!(throttle, "spawn refused", source = peer,
                    node = %me, %peer, %kind, ?why, "spawn refused");
            }
            match crate::wire::encode(&outcome) {
                Ok(bytes) => send_reply(&conn, correlation, Ok(bytes)),
                Err(e) => tracing::error!(node = %me, "a spawn reply did not encode: {e}"),
            }
        };
        let mut started = Box::pin(started);
        // an actor started on this worker is ready at once: answer now,
        // without a task hop
        let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
        match started.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(outcome) => reply(outcome),
            std::task::Poll::Pending => {
                platform::spawn_local(async move { reply(started.await) });
            }
        }
        Ok(())
    }

    /// A peer's word that it drains: nothing more is placed there, and
    /// this node's remote children running there move (each starts a
    /// replacement elsewhere, then stops the original). Answered with the
    /// local numbers of the actors that move, for the peer to wait on.
    fn on_draining(self: &Arc<Self>, caller: &Caller<'_>, _: Control) -> Result<(), String> {
        let node = caller.node().to_owned();
        self.drains.peer_began(&node);
        let moving = self.drains.move_off(&node, Some(caller.incarnation()));
        tracing::info!(peer = %node, moving = moving.len(), "a peer drains: its actors supervised here move elsewhere");
        caller.reply(crate::wire::encode(&moving).map_err(|e| e.to_string())?)
    }

    /// Membership changed (a member suspected or declared down): if this
    /// node no longer reaches a quorum, the actors placed on it stop (see
    /// [`quorum`]).
    pub(crate) fn reach_changed(&self) {
        if self.view.get().is_none_or(|v| v.has_quorum()) {
            return;
        }
        let stopped = self.served.stop_all();
        if stopped > 0 {
            tracing::warn!(
                stopped,
                "this node reaches no quorum of the cluster: the actors placed on it stop (their supervisors restart them on the side that goes on)"
            );
        }
    }

    /// Moves `actor`, a remote child of a supervisor on this node, to node
    /// `to`: a replacement starts there, then the original stops (the
    /// supervisor sees no exit). False if no supervisor here has it.
    pub(crate) fn move_to(&self, actor: &crate::actor::ActorId, to: &str) -> bool {
        self.drains.move_to(actor, to)
    }

    /// Node `node`'s life is over (it left, was declared down, or
    /// restarted): a new life of it takes actors again.
    pub(crate) fn peer_gone(&self, node: &str) {
        self.drains.peer_gone(node);
    }

    /// Drains this node before it leaves: from now on it takes no new
    /// actor and no placement picks it; each of `members` is asked to move
    /// what its supervisors run here, and this node's own remote children
    /// running here move too. Waits until every actor that moves has
    /// stopped here, or `within` has passed; returns how many moved and
    /// how many were still here at the bound.
    pub(crate) async fn drain(&self, host: &Host, members: Vec<String>, within: Duration) -> Drained {
        self.drains.begin_here();
        let Ok(net) = self.net() else {
            return Drained::default();
        };
        let deadline = platform::deadline(within);
        let asks = members.into_iter().map(|peer| {
            let net = net.clone();
            async move {
                let link = net.link_named(&peer);
                let conn = link.conn.load_full()?;
                let left = deadline.saturating_duration_since(platform::now());
                match host.in_node(link.control_ask(&conn, &Control::Draining, left)).await {
                    Ok((_, reply)) => crate::wire::decode::<Vec<u64>>(&reply).ok(),
                    Err(e) => {
                        tracing::warn!(node = %net.me, %peer, "draining: the peer did not answer ({e}); what it supervises here is restarted once this node is gone");
                        None
                    }
                }
            }
        });
        let mut moving: Vec<u64> = futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        moving.extend(self.drains.move_off(&net.me.name, Some(net.me.incarnation)));
        let gone = moving.iter().filter_map(|local| net.exported(*local)).map(|actor| {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let watch = actor.watch(Box::new(move |_| {
                let _ = tx.send(());
            }));
            async move {
                let _ = rx.await;
                drop(watch);
            }
        });
        let waits: Vec<_> = gone.collect();
        let mut pending = futures_util::stream::FuturesUnordered::from_iter(waits);
        let mut moved = moving.len() - pending.len();
        loop {
            use futures_util::StreamExt;
            match tokio::time::timeout_at(deadline, pending.next()).await {
                Ok(Some(())) => moved += 1,
                Ok(None) | Err(_) => break,
            }
        }
        Drained {
            moved,
            left_behind: pending.len(),
        }
    }

    /// Picks the node `at` names for `kind`.
    fn choose(&self, net: &Network, at: &Placement, kind: &str) -> Result<String, SpawnError> {
        let no_node = || SpawnError::NoNode {
            placement: at.clone(),
            kind: kind.to_owned(),
        };
        let view = self.view.get();
        if !view.is_none_or(|v| v.has_quorum()) {
            return Err(SpawnError::NoQuorum {
                node: net.me.name.to_string(),
            });
        }
        let role = match at {
            // a member declared down is not dialed for a minute: refused now
            Placement::Node(n) => {
                let known_down = *n != *net.me.name && view.is_some_and(|v| v.known_down(n));
                return if known_down {
                    Err(no_node())
                } else if self.drains.is_draining(n, &net.me.name) {
                    Err(SpawnError::Leaving { node: n.clone() })
                } else {
                    Ok(n.clone())
                };
            }
            Placement::Role(r) => Some(r.as_str()),
            Placement::Any => None,
        };
        let mut candidates = view
            .map(|v| v.candidates(kind, role))
            .unwrap_or_default();
        candidates.retain(|n| !self.drains.is_draining(n, &net.me.name));
        if candidates.is_empty() {
            return Err(no_node());
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        Ok(candidates[i % candidates.len()].clone())
    }
}

impl RemoteSpawn for Spawner {
    fn spawn(
        &self,
        host: &Host,
        at: &Placement,
        kind: &str,
        args: Vec<u8>,
        group: Option<String>,
    ) -> SpawnFuture {
        let (this, host, at, kind) = (self.this.clone(), host.clone(), at.clone(), kind.to_owned());
        Box::pin(async move {
            let this = this
                .upgrade()
                .ok_or_else(|| "the node is shut down".to_owned())?;
            let spawn = async {
                let target = this.choose(&*this.net()?, &at, &kind)?;
                this.spawn_at(&host, &target, &kind, args, group, SPAWN_TIMEOUT)
                    .await
            };
            spawn.await.map_err(|e: SpawnFailure| e.to_string())
        })
    }

    fn on_drain(&self, actor: &crate::actor::ActorId, mover: crate::actor::Mover) -> u64 {
        self.drains.add_mover(actor, mover)
    }

    fn forget_mover(&self, key: u64) {
        self.drains.forget_mover(key);
    }

    fn reaches(&self, name: &str) -> bool {
        self.view.get().is_none_or(|v| v.reaches(name))
    }
}
