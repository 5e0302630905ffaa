//! The `Node` handle: one node's identity, actors, names and supervisors,
//! and (once started with a listen address and a security setting) its
//! connections to other nodes, wired together.

mod cluster;
mod global;
mod inbound;
mod kinds;
mod members;
mod misconfig;
mod network;
mod remote_child;

pub use cluster::{Cluster, NodeStatus, Placement, SpawnError, SPAWN_TIMEOUT};
pub use kinds::Kind;
pub use misconfig::Misconfiguration;
pub use remote_child::RemoteChild;

use crate::actor::{export, remote_ref, ActorRef, AskError, DispatchError, Host, NodeId};
use crate::platform::{self, OnWorkers, Workers};
use crate::registry::{Registry, RegistryError};
use crate::supervision::{SupervisorError, SupervisorRef, SupervisorSpec};
use crate::transport::{
    ClusterCa, Endpoint, Liveness, NodeIdentity, PeerLimits, Redial, TlsError, TransportError,
    Trust,
};
use crate::wire::Hello;
use crate::RemoteActor;
use network::Network;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One arbour node. Cheap to clone. Dereferences to its [`Host`] (spawning,
/// ids, RNG, counters).
///
/// ```
/// let node = arbour::Node::builder("alpha").seed(42).incarnation(1).build();
/// assert_eq!(node.node_id().to_string(), "alpha#1");
/// ```
///
/// A started node owns its workers and everything on them (actors,
/// supervisors, connections). [`Node::shutdown`] stops it gracefully;
/// dropping the last handle does the same in the background; the simulator
/// may [`Node::crash`] it. Either way nothing of it remains afterwards.
#[derive(Clone, Debug)]
pub struct Node {
    inner: Arc<NodeInner>,
}

#[derive(Debug)]
struct NodeInner {
    host: Host,
    registry: Arc<Registry>,
    /// The network side; taken at shutdown, so the endpoint (and its port)
    /// is released even while handles to the node remain.
    net: arc_swap::ArcSwapOption<Network>,
    /// Whether the node was started with a network at all.
    networked: bool,
    /// The node's own workers (a started node).
    workers: Option<Workers>,
    /// Set once a shutdown (or crash) began.
    closing: AtomicBool,
    /// The node's wall clock (perhaps skewed).
    clock: platform::WallClock,
}

impl Drop for NodeInner {
    /// The last handle is gone: shut down gracefully in the background, on
    /// the node's first worker, then stop the workers.
    fn drop(&mut self) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (net, host) = (self.net.swap(None), self.host.clone());
        let Some(workers) = self.workers.take() else {
            if let Some(net) = net {
                net.shutdown();
            }
            return;
        };
        let w = workers.clone();
        let job = move || {
            platform::spawn_local(async move {
                graceful(&host, net.as_ref()).await;
                w.stop();
            });
        };
        if workers.run_on(0, job).is_err() {
            workers.stop();
        }
    }
}

impl std::ops::Deref for Node {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.inner.host
    }
}

impl AsRef<Host> for Node {
    fn as_ref(&self) -> &Host {
        &self.inner.host
    }
}

/// How long a leaving node waits for its peers to take its goodbye, and
/// then for its connections to close.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// The graceful part of a shutdown: root supervisors stop their trees, last
/// started first (each child with its own shutdown timeout, as in OTP);
/// then every peer is told goodbye and the endpoint closes.
async fn graceful(host: &Host, net: Option<&Arc<Network>>) {
    host.in_node(async {
        for root in host.take_roots().into_iter().rev() {
            (root.shutdown)().await;
        }
        if let Some(net) = net {
            net.leave(GOODBYE_WAIT).await;
        }
    })
    .await
}

/// Why a node could not start, or a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The builder's settings are incomplete or contradictory.
    #[error("node configuration: {0}")]
    Config(String),
    /// Certificates or keys.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding, dialing or the handshake.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The node was built without a network ([`NodeBuilder::build`]).
    #[error("this node has no network (start it with NodeBuilder::start)")]
    NoNetwork,
    /// The node was shut down (or crashed).
    #[error("the node is shut down")]
    ShutDown,
    /// The node was reached and the connection refused, by it or by us,
    /// for a reason of configuration (told from this node's side).
    #[error("cannot join node {node}: {cause}")]
    Refused {
        /// The node.
        node: String,
        /// What differs.
        cause: Misconfiguration,
    },
    /// No connection to the node came up in time.
    #[error(
        "no connection to node {node} within {waited:?}: dial it with Node::connect \
         or list it with NodeBuilder::peer, and check that it runs with the same \
         cluster name and secret"
    )]
    NotConnected {
        /// The node.
        node: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// The peer node has no actor exposed under that name.
    #[error("node {node} has no actor named {name:?}")]
    NotFound {
        /// The node asked.
        node: String,
        /// The name.
        name: String,
    },
    /// No actor was registered in the cluster under that name in time
    /// ([`Cluster::wait_for`]).
    #[error("no actor is registered as {name:?} in the cluster (waited {waited:?})")]
    NotRegistered {
        /// The name.
        name: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// The lookup failed (node down, timeout).
    #[error("lookup: {0}")]
    Ask(#[from] AskError),
    /// The name is taken.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Starting an actor on another node ([`Node::spawn_on`]).
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The actor's message table is invalid (two messages share a tag).
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The node's workers could not start, or are stopped.
    #[error(transparent)]
    Workers(#[from] platform::WorkersError),
}

/// Which of a node's workers an actor or supervisor goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerPlacement {
    /// The next worker in round-robin order.
    #[default]
    RoundRobin,
    /// This worker (0-based; a node has [`NodeBuilder::workers`] of them).
    Worker(usize),
}

impl WorkerPlacement {
    /// For a node without workers of its own (it runs on its caller's
    /// thread, its one "worker 0"): any placement but another worker.
    fn only_here(self) -> Result<(), platform::WorkersError> {
        match self {
            WorkerPlacement::Worker(i) if i > 0 => Err(platform::WorkersError::NoSuchWorker(i, 1)),
            _ => Ok(()),
        }
    }

    fn index(self, workers: &Workers) -> Result<usize, platform::WorkersError> {
        match self {
            WorkerPlacement::RoundRobin => Ok(workers.next_index()),
            WorkerPlacement::Worker(i) if i < workers.len() => Ok(i),
            WorkerPlacement::Worker(i) => {
                Err(platform::WorkersError::NoSuchWorker(i, workers.len()))
            }
        }
    }
}

/// Forwards `events` to `to` until either is gone.
pub(crate) async fn forward<M>(
    mut events: tokio::sync::broadcast::Receiver<M>,
    to: actix::Recipient<M>,
    node: NodeId,
) where
    M: actix::Message<Result = ()> + Clone + Send + 'static,
{
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(e) => {
                if !to.connected() {
                    return;
                }
                to.do_send(e);
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(node = %node, dropped = n, "a slow subscriber missed events")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Runs `f` on a worker of `host` chosen by `at` (at once if that is this
/// thread) and returns what it returned.
pub(crate) async fn run_placed<R, F>(host: &Host, at: WorkerPlacement, f: F) -> Result<R, NodeError>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let Some(workers) = host.workers() else {
        at.only_here()?;
        return Ok(f());
    };
    let index = at.index(&workers)?;
    if workers.current() == Some(index) || (index == 0 && workers.reachable_here()) {
        return Ok(f());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    workers
        .run_on(index, move || {
            let _ = tx.send(f());
        })
        .map_err(NodeError::Workers)?;
    rx.await
        .map_err(|_| NodeError::Workers(platform::WorkersError::Closed))
}

/// Counters of the node's network side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Replies that arrived after their ask stopped waiting (dropped).
    pub late_replies: u64,
    /// Messages from the wire with an unknown tag or an undecodable payload.
    pub undeliverable: u64,
    /// Monitors that peers hold on this node's actors now.
    pub peer_monitors: u64,
    /// Peers' monitors refused because the peer held its maximum
    /// ([`PeerLimits::peer_monitors`]).
    pub monitors_refused: u64,
    /// Incoming handshakes in flight now ([`PeerLimits::handshakes_in_flight`]).
    pub handshakes_in_flight: u64,
    /// Connection attempts refused at the handshake cap.
    pub handshakes_refused: u64,
    /// Connection attempts asked to validate their address first (QUIC
    /// Retry), past [`PeerLimits::unvalidated_handshakes`].
    pub handshakes_retried: u64,
    /// Handshakes dropped at [`PeerLimits::handshake_timeout`].
    pub handshakes_timed_out: u64,
    /// Connections closed for holding more unfinished frame bytes than
    /// [`PeerLimits::unfinished_frame_bytes`], or a frame unfinished past
    /// [`PeerLimits::frame_deadline`].
    pub unfinished_frames_refused: u64,
    /// Peers' asks being served now.
    pub served_asks_in_flight: u64,
    /// Peers' asks answered `Overloaded` at [`PeerLimits::served_asks`].
    pub served_asks_refused: u64,
    /// Membership packets that did not decode (dropped).
    pub membership_malformed: u64,
}

impl Node {
    /// Starts describing a node called `name`.
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            seed: None,
            incarnation: None,
            cluster: "arbour".into(),
            listen: None,
            security: None,
            peers: Vec::new(),
            data_lanes: crate::transport::DEFAULT_DATA_LANES,
            limits: PeerLimits::default(),
            liveness: Liveness::default(),
            liveness_set: false,
            protocol_version: None,
            membership: None,
            clock: platform::WallClock::default(),
            seeds: Vec::new(),
            roles: Vec::new(),
            redial: crate::transport::default_redial(),
            socket: None,
            workers: None,
        }
    }

    /// The node's local name registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The node's actor host.
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    fn net(&self) -> Result<Arc<Network>, NodeError> {
        match self.inner.net.load_full() {
            Some(net) => Ok(net),
            None if self.inner.networked => Err(NodeError::ShutDown),
            None => Err(NodeError::NoNetwork),
        }
    }

    /// Shuts the node down gracefully and waits until nothing of it runs:
    /// root supervisors stop their trees in OTP order (last started first,
    /// each child within its shutdown timeout); every peer is told goodbye,
    /// so its monitors of this node's actors fire at once (`Shutdown`) and
    /// its asks pending here fail at once ([`AskError::NodeShutdown`]); the
    /// endpoint closes; the workers stop, ending whatever else ran on them.
    /// Calling it again waits for the first call to finish.
    ///
    /// Called from a task on the node's own worker, that task ends with the
    /// node: this returns only to callers outside the node.
    pub async fn shutdown(&self) {
        if !self.inner.closing.swap(true, Ordering::AcqRel) {
            let net = self.inner.net.swap(None);
            graceful(&self.inner.host, net.as_ref()).await;
            if let Some(w) = &self.inner.workers {
                w.stop();
            }
            if let Some(net) = net {
                net.shutdown();
            }
        }
        if let Some(w) = &self.inner.workers {
            w.stopped().await;
        }
    }

    /// Ends the node at once, as a crash would: every task and actor of it
    /// is dropped with its workers, no stopping hook runs, no peer is told
    /// (peers notice through the idle timeout). For the simulator and for
    /// tests of what survives a crash. Resolves once nothing of it runs.
    pub async fn crash(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let net = self.inner.net.swap(None);
        if let Some(w) = &self.inner.workers {
            w.stop();
            w.stopped().await;
        }
        drop(net);
    }

    /// The time on this node's wall clock (the host's, shifted by
    /// [`NodeBuilder::clock_skew_ms`]). For timestamps an actor shows to
    /// people; never for timeouts or ordering (use the monotonic clock).
    pub fn wall_clock(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// Pauses the node (the simulator's SIGSTOP, or a long GC pause): none
    /// of its tasks runs until [`Node::resume`]; its timers fall due and its
    /// packets wait meanwhile. Only a node embedded in the caller's
    /// `LocalSet` ([`NodeBuilder::start`]) can be paused: false otherwise.
    #[cfg(feature = "internals")]
    pub fn pause(&self) -> bool {
        self.inner.workers.as_ref().is_some_and(Workers::pause)
    }

    /// Lets a paused node run again.
    #[cfg(feature = "internals")]
    pub fn resume(&self) {
        if let Some(w) = &self.inner.workers {
            w.resume();
        }
    }

    /// True once a shutdown or crash began.
    pub fn is_shut_down(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Starts an actor made by `make` on a worker of this node chosen by
    /// `at` (round-robin by default), and returns its ref once it runs.
    /// `make` runs on that worker, so the actor itself need not be `Send`.
    pub async fn spawn_on_worker<A, F>(
        &self,
        at: WorkerPlacement,
        make: F,
    ) -> Result<ActorRef<A>, NodeError>
    where
        A: actix::Actor<Context = actix::Context<A>>,
        F: FnOnce() -> A + Send + 'static,
    {
        let host = self.inner.host.clone();
        run_placed(&self.inner.host, at, move || host.spawn(make())).await
    }

    /// Starts `spec` on a worker of this node chosen by `at` (round-robin by
    /// default); its children run on the same worker.
    pub async fn start_supervisor(
        &self,
        at: WorkerPlacement,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, SupervisorError> {
        let Some(workers) = self.workers() else {
            at.only_here()
                .map_err(|e| SupervisorError::Placement(e.to_string()))?;
            return spec.start(&self.inner.host).await;
        };
        let index = at
            .index(&workers)
            .map_err(|e| SupervisorError::Placement(e.to_string()))?;
        if workers.current() == Some(index) || (index == 0 && workers.reachable_here()) {
            return spec.start(&self.inner.host).await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let host = self.inner.host.clone();
        workers
            .run_on(index, move || {
                platform::spawn_local(async move {
                    let _ = tx.send(spec.start(&host).await);
                });
            })
            .map_err(|e| SupervisorError::Placement(e.to_string()))?;
        rx.await.map_err(|_| {
            SupervisorError::Placement(format!("worker {index} stopped before the start"))
        })?
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        Ok(self.net()?.endpoint.local_addr()?)
    }

    /// Registers `actor` under `name` in the local registry and makes it
    /// reachable from other nodes by that name ([`Node::lookup`]).    ///
    /// ```
    /// # use actix::prelude::*;
    /// # use std::time::Duration;
    /// # use arbour::Node;
    /// struct Echo;
    /// impl Actor for Echo { type Context = Context<Self>; }
    /// #[arbour::message(tag = "doc.ping.v1", reply = u64)]
    /// struct Ping(u64);
    /// arbour::remote_actor!(Echo { Ping });
    /// impl Handler<Ping> for Echo {
    ///     type Result = u64;
    ///     fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 { n + 1 }
    /// }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(
    /// # tokio::task::LocalSet::new().run_until(async {
    /// let alpha = Node::builder("alpha").secret("s3cret").start().await?;
    /// alpha.expose("echo", &alpha.spawn(Echo))?;
    /// let beta = Node::builder("beta")
    ///     .secret("s3cret")
    ///     .peer("alpha", alpha.local_addr()?)
    ///     .start()
    ///     .await?;
    /// let echo = beta.lookup::<Echo>("alpha", "echo", Duration::from_secs(5)).await?;
    /// assert_eq!(echo.ask(Ping(1)).await, Ok(2));
    /// # Ok::<(), arbour::NodeError>(())
    /// # })).unwrap();
    /// ```
    pub fn expose<A: RemoteActor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let net = self.net()?;
        let exported = export(actor)?;
        self.inner.registry.register(name, actor)?;
        net.expose(name, exported);
        Ok(())
    }

    /// A ref to the actor that node `node` exposes as `name`. Waits (up to
    /// `timeout`) for a connection to `node` if there is none yet; a node
    /// that refuses us (another secret, CA, cluster name or protocol
    /// version) is [`NodeError::Refused`], saying which, at once. See
    /// [`Node::expose`] for an example.
    pub async fn lookup<A: RemoteActor>(
        &self,
        node: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<ActorRef<A>, NodeError> {
        let net = self.net()?;
        let deadline = platform::deadline(timeout);
        let link = net.link_named(node);
        let conn = net.connected_for(&link, deadline, timeout).await?;
        let left = deadline.saturating_duration_since(platform::now());
        let (node_id, found) = link.whereis(&conn, name, left).await?;
        let Some(local) = found else {
            return Err(NodeError::NotFound {
                node: node.to_owned(),
                name: name.to_owned(),
            });
        };
        let id = crate::ActorId {
            node: node_id,
            local,
        };
        Ok(remote_ref(id, link, self.inner.host.counters().clone())?)
    }

    /// Dials node `node` at `addr` and waits for the handshake. The address
    /// is remembered: a lost connection is redialed with backoff.
    pub async fn connect(&self, node: &str, addr: SocketAddr) -> Result<(), NodeError> {
        let net = self.net()?;
        net.remember(node, addr);
        match self.inner.host.in_node(net.dial(node, addr)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match Misconfiguration::of(&e) {
                Some(cause) => NodeError::Refused {
                    node: node.to_owned(),
                    cause,
                },
                None => NodeError::Transport(e),
            }),
        }
    }

    /// The cluster's members alive as far as this node knows (itself
    /// excluded); empty without membership ([`NodeBuilder::seed_node`]).
    pub fn members(&self) -> Vec<crate::cluster::MemberId> {
        self.inner
            .net
            .load()
            .as_ref()
            .and_then(|n| n.members.as_ref().map(|m| m.members()))
            .unwrap_or_default()
    }

    /// The members that went down and are still remembered (each until
    /// [`MembershipConfig::remove_down_after`](crate::MembershipConfig::remove_down_after)
    /// has passed; then it is [`MemberEvent::Forgotten`](crate::MemberEvent::Forgotten)).
    pub fn members_down(&self) -> Vec<crate::cluster::MemberId> {
        self.inner
            .net
            .load()
            .as_ref()
            .and_then(|n| n.members.as_ref().map(|m| m.down()))
            .unwrap_or_default()
    }

    /// Membership changes from now on (`Up`, `Suspect`, `Down`, `Left`,
    /// `Replaced`, `Forgotten`); `None` without membership.
    pub fn member_events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::cluster::MemberEvent>> {
        let net = self.inner.net.load();
        net.as_ref()?.members.as_ref().map(|m| m.subscribe())
    }

    /// Sends every membership change from now on to actor `to`, until it
    /// is gone. Events a slow subscriber falls 1,024 behind on are dropped
    /// for it, and the drop is logged with its count.
    pub fn subscribe_members(&self, to: actix::Recipient<crate::cluster::MemberEvent>) {
        if let Some(events) = self.member_events() {
            platform::spawn_local(forward(events, to, self.node_id().clone()));
        }
    }

    /// The peer nodes connected now.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        self.inner
            .net
            .load()
            .as_ref()
            .map(|n| n.connected())
            .unwrap_or_default()
    }

    /// Waits until `node` is connected, up to `timeout`; false if it is not.
    pub async fn wait_for_peer(&self, node: &str, timeout: Duration) -> bool {
        let Ok(net) = self.net() else {
            return false;
        };
        let link = net.link_named(node);
        net.connected_to(&link, platform::deadline(timeout))
            .await
            .is_ok()
    }

    /// The network side's counters.
    pub fn net_stats(&self) -> NetStats {
        use std::sync::atomic::Ordering::Relaxed;
        self.inner
            .net
            .load()
            .as_ref()
            .map(|n| {
                let (peer_monitors, monitors_refused) = n.peer_monitors();
                let c = n.endpoint.counters();
                NetStats {
                    late_replies: n.late_replies(),
                    undeliverable: n.undeliverable.load(Relaxed),
                    peer_monitors,
                    monitors_refused,
                    handshakes_in_flight: n.endpoint.handshakes_in_flight() as u64,
                    handshakes_refused: c.handshakes_refused.load(Relaxed),
                    handshakes_retried: c.handshakes_retried.load(Relaxed),
                    handshakes_timed_out: c.handshakes_timed_out.load(Relaxed),
                    unfinished_frames_refused: c.unfinished_frames_refused.load(Relaxed),
                    served_asks_in_flight: n.served_asks_in_flight(),
                    served_asks_refused: c.served_asks_refused.load(Relaxed),
                    membership_malformed: n.members.as_ref().map_or(0, |m| m.malformed()),
                }
            })
            .unwrap_or_default()
    }

    /// Closes every connection and stops listening at once, without a
    /// goodbye (peers see a lost connection: `NodeDown`). The actors keep
    /// running; [`Node::shutdown`] is the graceful way to stop a node.
    pub fn shutdown_network(&self) {
        if let Some(net) = self.inner.net.load().as_ref() {
            net.shutdown();
        }
    }
}

/// How a node proves it belongs to the cluster (mutual TLS, always).
#[derive(Clone, Debug)]
pub enum Security {
    /// Every node derives the same CA from the cluster name and this secret,
    /// and mints its own certificate from it.
    Secret(String),
    /// PEM files, as `arbour certs` makes them: the cluster's CA certificate,
    /// and this node's certificate (naming the node) and private key.
    Files {
        /// The CA certificate(s) whose members this node accepts.
        ca: PathBuf,
        /// This node's certificate, issued by that CA.
        cert: PathBuf,
        /// This node's private key.
        key: PathBuf,
    },
}

impl Security {
    /// The CA a node trusts and the identity it presents. `rng` mints the
    /// key of a secret-mode identity (so a simulated run is reproducible).
    fn load(
        &self,
        cluster: &str,
        node: &str,
        rng: &platform::NodeRng,
        clock: platform::WallClock,
    ) -> Result<(Trust, NodeIdentity), TlsError> {
        match self {
            Security::Secret(secret) => {
                let ca = ClusterCa::from_secret(cluster, secret)?;
                let mut key_seed = [0u8; 32];
                rng.derive("tls identity").fill_bytes(&mut key_seed);
                Ok((ca.trust()?.with_clock(clock), ca.issue(node, key_seed)?))
            }
            Security::Files { ca, cert, key } => {
                let trust = Trust::from_pem_file(ca)?.with_clock(clock);
                let clusters = trust.arbour_clusters();
                if !clusters.is_empty() && !clusters.iter().any(|c| c == cluster) {
                    return Err(TlsError::WrongCluster {
                        path: ca.clone(),
                        theirs: clusters.join(", "),
                        ours: cluster.to_owned(),
                    });
                }
                let identity = NodeIdentity::from_pem_files(node, cert, key)?;
                trust.check(&identity)?;
                Ok((trust, identity))
            }
        }
    }
}

/// Builds a [`Node`].
#[derive(Clone)]
pub struct NodeBuilder {
    name: String,
    seed: Option<u64>,
    incarnation: Option<u64>,
    cluster: String,
    listen: Option<SocketAddr>,
    security: Option<Security>,
    peers: Vec<(String, SocketAddr)>,
    data_lanes: usize,
    limits: PeerLimits,
    liveness: Liveness,
    /// Whether the user chose `keep_alive` or `idle_timeout` (else a
    /// member gets [`Liveness::for_members`]).
    liveness_set: bool,
    protocol_version: Option<u16>,
    membership: Option<crate::cluster::MembershipConfig>,
    clock: platform::WallClock,
    seeds: Vec<(String, SocketAddr)>,
    roles: Vec<String>,
    redial: Redial,
    socket: Option<(Arc<dyn quinn::AsyncUdpSocket>, Arc<dyn quinn::Runtime>)>,
    workers: Option<usize>,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("name", &self.name)
            .field("cluster", &self.cluster)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// Seeds the node's RNG (default: derived from the incarnation).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the incarnation (default: wall-clock milliseconds at build).
    pub fn incarnation(mut self, n: u64) -> Self {
        self.incarnation = Some(n);
        self
    }

    /// The cluster's name (default `"arbour"`); nodes of other clusters are
    /// refused at the handshake.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = name.into();
        self
    }

    /// Where to listen (port 0 picks a free port). Default `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Mutual TLS from a cluster secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.security = Some(Security::Secret(secret.into()));
        self
    }

    /// Mutual TLS from PEM files (`arbour certs --out DIR` writes
    /// `DIR/ca.crt`, `DIR/<node>.crt` and `DIR/<node>.key`).
    pub fn tls_files(
        mut self,
        ca: impl Into<PathBuf>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.security = Some(Security::Files {
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Sets how the node proves it belongs to the cluster.
    pub fn security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// A peer to dial at start (and redial while it cannot be reached).
    pub fn peer(mut self, name: impl Into<String>, addr: SocketAddr) -> Self {
        self.peers.push((name.into(), addr));
        self
    }

    /// Data lanes per connection (default 4, at most 32: a connection
    /// allows 48 unidirectional streams at once, lanes and large frames).
    pub fn data_lanes(mut self, n: usize) -> Self {
        self.data_lanes = n.clamp(1, 32);
        self
    }

    /// Bytes that may wait on one peer connection before plain tells to that
    /// peer are dropped (logged and counted in
    /// [`Stats::outbound_drops`](crate::Stats)). Default 64 MiB: an ordinary
    /// burst is queued, not lost; the cap only bounds memory when a peer or
    /// the network stays slower than the senders for long.
    pub fn outbound_cap(mut self, bytes: usize) -> Self {
        self.limits.outbound_cap = bytes.max(1);
        self
    }

    /// How many monitors one peer may hold on this node's actors (default
    /// 100,000). Past it a peer's `monitor` is refused: its `Down` comes at
    /// once with an error reason saying so, and the refusal is logged and
    /// counted.
    pub fn max_peer_monitors(mut self, n: usize) -> Self {
        self.limits.peer_monitors = n;
        self
    }

    /// The bounds peers are held to: handshakes in flight and their
    /// deadline, bytes of unfinished frames, monitors, served asks, queued
    /// output (see [`PeerLimits`] for each, and its defaults). The other
    /// limit setters on this builder change one field of it.
    pub fn limits(mut self, limits: PeerLimits) -> Self {
        self.limits = PeerLimits {
            outbound_cap: limits.outbound_cap.max(1),
            ..limits
        };
        self
    }

    /// How often an idle connection is probed (default 500 ms; 5 s for a
    /// member of a cluster, whose failure detector is SWIM).
    pub fn keep_alive(mut self, d: Duration) -> Self {
        self.liveness.keep_alive = d;
        self.liveness_set = true;
        self
    }

    /// How long a silent connection lives before it counts as lost, failing
    /// its asks with `NodeDown` and firing its monitors (default 3 s). A
    /// peer that shuts down says goodbye and is noticed at once; this bounds
    /// how long a killed or cut-off one goes unnoticed. (A member of a
    /// cluster: default 15 s; SWIM declares a killed member down in about a
    /// second, and that closes its connections.)
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.liveness.idle_timeout = d;
        self.liveness_set = true;
        self
    }

    /// Takes part in cluster membership (SWIM) with these failure-detection
    /// settings: the node learns every member through any one it reaches,
    /// and a member that stops answering is declared down everywhere
    /// (its connections close: asks to it fail with `NodeDown`, monitors
    /// fire). See [`Node::members`] and [`Node::member_events`].
    pub fn membership(mut self, config: crate::cluster::MembershipConfig) -> Self {
        self.membership = Some(config);
        self
    }

    /// A seed node to join the cluster through (repeatable; a seed that is
    /// down does not stop the others). Turns membership on with its
    /// default settings unless [`NodeBuilder::membership`] set others.
    pub fn seed_node(mut self, name: impl Into<String>, addr: SocketAddr) -> Self {
        self.membership.get_or_insert_with(Default::default);
        self.seeds.push((name.into(), addr));
        self
    }

    /// Sets this node's wall clock `ms` milliseconds ahead of the host's
    /// (negative: behind), as the simulator does to give each node a skew
    /// of its own. Certificates are checked against it, and
    /// [`Node::wall_clock`] reads it; nothing else in arbour does.
    pub fn clock_skew_ms(mut self, ms: i64) -> Self {
        self.clock = platform::WallClock { skew_ms: ms };
        self
    }

    /// A role of this node (repeatable), which members see:
    /// [`Placement::Role`] picks among the nodes that have it.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Claims another protocol version in the handshake than this build's:
    /// only for testing what version skew between nodes looks like.
    #[doc(hidden)]
    pub fn protocol_version(mut self, version: u16) -> Self {
        self.protocol_version = Some(version);
        self
    }

    /// How long a new connection may take to say who it is (default 5 s).
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.limits.handshake_timeout = d;
        self
    }

    /// Redial backoff after a lost connection (default: 100 ms doubling to
    /// 10 s, 20 % jitter; a successful connection starts it over).
    pub fn redial(mut self, r: crate::Backoff) -> Self {
        self.redial = r;
        self
    }

    /// Uses a socket and runtime supplied by the platform instead of an OS
    /// socket (the simulator's in-memory network).
    pub fn socket(
        mut self,
        socket: Arc<dyn quinn::AsyncUdpSocket>,
        runtime: Arc<dyn quinn::Runtime>,
    ) -> Self {
        self.socket = Some((socket, runtime));
        self
    }

    /// Worker threads of a node started with [`NodeBuilder::run`] (default:
    /// one per available core). Each is an OS thread with a current-thread
    /// runtime and a `LocalSet`; the transport lives on the first. A node
    /// started inside a caller's `LocalSet` ([`NodeBuilder::start`]) has one
    /// worker, embedded there.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// Builds a node without a network or workers of its own (actors,
    /// supervisors, names), which spawns on its caller's `LocalSet`.
    pub fn build(self) -> Node {
        Node {
            inner: Arc::new(self.node_inner(None)),
        }
    }

    fn node_inner(&self, workers: Option<Workers>) -> NodeInner {
        let incarnation = self.incarnation.unwrap_or_else(platform::fresh_incarnation);
        let seed = self.seed.unwrap_or(incarnation);
        let host = Host::new(&self.name, incarnation, seed);
        if let Some(w) = &workers {
            host.set_workers(w);
        }
        NodeInner {
            host,
            registry: Arc::new(Registry::default()),
            net: arc_swap::ArcSwapOption::empty(),
            networked: false,
            workers,
            closing: AtomicBool::new(false),
            clock: self.clock,
        }
    }

    /// Builds the node and starts it inside the caller's tokio `LocalSet`,
    /// on one worker embedded there (tests, the simulator, a program that
    /// runs its own runtime): binds the endpoint, accepts peers, dials the
    /// configured ones. The runtime must have IO and time enabled.
    pub async fn start(self) -> Result<Node, NodeError> {
        let workers = Workers::embedded();
        match self.start_on(workers.clone()).await {
            Ok(node) => Ok(node),
            Err(e) => {
                workers.stop();
                Err(e)
            }
        }
    }

    /// Runs a node on its own worker threads until `main`'s future ends, or
    /// the process gets SIGINT or SIGTERM; then shuts it down gracefully
    /// ([`Node::shutdown`]) and returns. `main` runs on the node's first
    /// worker. The whole program of a node binary is `fn main` plus this
    /// call; no runtime to build by hand:
    ///
    /// ```no_run
    /// fn main() -> Result<(), arbour::NodeError> {
    ///     arbour::Node::builder("alpha")
    ///         .secret("change-me")
    ///         .run(|node| async move {
    ///             println!("{} listening on {:?}", node.node_id(), node.local_addr());
    ///             std::future::pending::<()>().await // serve until a signal
    ///         })?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// Returns `Some(output)` of `main`, or `None` if a signal ended it. A
    /// panic in `main` shuts the node down and then resumes on the caller.
    pub fn run<F, Fut>(self, main: F) -> Result<Option<Fut::Output>, NodeError>
    where
        F: FnOnce(Node) -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let n = self.workers.unwrap_or_else(available_cores);
        let workers = Workers::threads(&self.name, n)?;
        let (node_tx, node_rx) = tokio::sync::oneshot::channel();
        let (out_tx, out_rx) = tokio::sync::oneshot::channel();
        let on_worker = workers.clone();
        workers.run_on(0, move || {
            platform::spawn_local(async move {
                match self.start_on(on_worker).await {
                    Ok(node) => {
                        let _ = node_tx.send(Ok(node.clone()));
                        // its own task, so a panic in `main` reaches the caller
                        let ran = platform::spawn_local(main(node)).await;
                        let _ = out_tx.send(ran);
                    }
                    Err(e) => {
                        let _ = node_tx.send(Err(e));
                    }
                }
            });
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NodeError::Config(format!("the signal-watching runtime: {e}")))?;
        let result = rt.block_on(async {
            let node = node_rx
                .await
                .map_err(|_| NodeError::Workers(platform::WorkersError::Closed))??;
            let out = tokio::select! {
                out = out_rx => out.ok(),
                signal = platform::termination() => {
                    tracing::info!(node = %node.node_id(), "{signal}: shutting down");
                    None
                }
            };
            node.shutdown().await;
            Ok(out)
        });
        workers.join();
        match result {
            Ok(Some(Ok(out))) => Ok(Some(out)),
            // `main` panicked: the node is shut down; the panic goes on here
            Ok(Some(Err(ended))) if ended.is_panic() => {
                std::panic::resume_unwind(ended.into_panic())
            }
            Ok(Some(Err(_)) | None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts the node's network with `workers` as its workers; everything it
    /// spawns lands there.
    ///
    /// A builder with no security setting, no listen address, no peers and
    /// no socket makes a node without a network (a local program).
    async fn start_on(self, workers: Workers) -> Result<Node, NodeError> {
        let mut inner = self.node_inner(Some(workers.clone()));
        let wants_network = self.listen.is_some()
            || !self.peers.is_empty()
            || self.socket.is_some()
            || self.membership.is_some();
        let security = match self.security.clone() {
            Some(security) => security,
            None if !wants_network => {
                return Ok(Node {
                    inner: Arc::new(inner),
                })
            }
            None => {
                return Err(NodeError::Config(
                    "no security setting: give the cluster secret (NodeBuilder::secret) \
                     or certificate files (NodeBuilder::tls_files)"
                        .into(),
                ))
            }
        };
        let host = inner.host.clone();
        let liveness = if self.membership.is_some() && !self.liveness_set {
            Liveness::for_members()
        } else {
            self.liveness
        };
        let net = host
            .in_node(async {
                let (trust, identity) =
                    security.load(&self.cluster, &self.name, host.rng(), self.clock)?;
                let mut hello = Hello::new(&self.cluster, &self.name, host.node_id().incarnation);
                if let Some(v) = self.protocol_version {
                    hello.version = v;
                }
                let endpoint = match self.socket {
                    Some((socket, runtime)) => {
                        let runtime = Arc::new(OnWorkers::new(runtime, workers.downgrade()));
                        let seed = host.rng().derive("quic").next_u64();
                        Endpoint::bind_socket(
                            socket, runtime, &trust, &identity, hello, seed, liveness,
                        )?
                    }
                    None => {
                        let addr = self
                            .listen
                            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
                        let runtime = Arc::new(OnWorkers::new(
                            Arc::new(quinn::TokioRuntime),
                            workers.downgrade(),
                        ));
                        Endpoint::bind_with(addr, &trust, &identity, hello, liveness, runtime)?
                    }
                }
                .with_limits(self.limits);
                let net = Network::new(
                    &host,
                    host.counters().clone(),
                    endpoint,
                    host.rng().derive("net"),
                    network::Tuning {
                        data_lanes: self.data_lanes,
                        limits: self.limits,
                        redial: self.redial,
                    },
                    self.membership
                        .clone()
                        .map(|config| network::ClusterTuning {
                            config,
                            expected_size: (self.seeds.len() as u32 + 1).max(3),
                            seeds: self.seeds.clone(),
                            roles: self.roles.clone(),
                        }),
                );
                let weak: std::sync::Weak<dyn std::any::Any + Send + Sync> =
                    Arc::downgrade(&(net.clone() as Arc<dyn std::any::Any + Send + Sync>));
                host.set_network(weak);
                if let Some(members) = &net.members {
                    platform::spawn_local(members.clone().run(Arc::downgrade(&net)));
                }
                platform::spawn_local(net.clone().accept_loop());
                for (peer, addr) in self.peers {
                    net.remember(&peer, addr);
                    platform::spawn_local(net.clone().keep_dialing(peer, addr));
                }
                Ok::<_, NodeError>(net)
            })
            .await?;
        inner.net = arc_swap::ArcSwapOption::from(Some(net));
        inner.networked = true;
        Ok(Node {
            inner: Arc::new(inner),
        })
    }
}

/// The cores this process may use (at least one).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
