//! [`NodeBuilder`]: how a node is described, and its three ends:
//! [`NodeBuilder::build`] (no network, no threads: on the caller's
//! `LocalSet`), [`NodeBuilder::start`] (networked, on one worker embedded
//! in the caller's `LocalSet`) and [`NodeBuilder::run`] (networked, on
//! worker threads of its own until its main future ends).

use super::wiring::{ClusterTuning, Services};
use super::{Node, NodeError, NodeInner};
use crate::actor::Host;
use crate::platform::{self, OnWorkers, Workers};
use crate::monitor::RemoteMonitors;
use crate::registry::Registry;
use crate::remote::{Network, Tuning};
use crate::transport::{Endpoint, Liveness, PeerLimits, Redial, Security};
use crate::wire::Hello;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
            network_thread: true,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
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
    membership: Option<crate::membership::MembershipConfig>,
    clock: platform::WallClock,
    seeds: Vec<(String, SocketAddr)>,
    roles: Vec<String>,
    redial: Redial,
    socket: Option<(Arc<dyn quinn::AsyncUdpSocket>, Arc<dyn quinn::Runtime>)>,
    workers: Option<usize>,
    network_thread: bool,
    drain_timeout: Duration,
}

/// How long a leaving node waits, unless told otherwise, for what it runs
/// for other nodes' supervisors to start elsewhere
/// ([`NodeBuilder::drain_timeout`]).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub fn rng_seed(mut self, seed: u64) -> Self {
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
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
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

    /// Like [`NodeBuilder::secret`], but the node presents a client's
    /// certificate: it connects, asks, tells, watches and looks up, and
    /// the nodes refuse it membership, registry writes and spawns
    /// ([`Security::SecretAsClient`](crate::net::Security::SecretAsClient)).
    pub fn secret_as_client(mut self, secret: impl Into<String>) -> Self {
        self.security = Some(Security::SecretAsClient(secret.into()));
        self
    }

    /// A client of a secret-mode cluster, from the credential its operator
    /// gave it (`arbour credential`,
    /// [`ClusterCa::client_credential`](crate::net::ClusterCa::client_credential))
    /// instead of the secret: it can mint a client's certificate and no
    /// member's.
    pub fn client_credential(mut self, credential: impl Into<String>) -> Self {
        self.security = Some(Security::ClientCredential(credential.into()));
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
    /// [`StatsSnapshot::outbound_drops`](crate::StatsSnapshot::outbound_drops)). Default 64 MiB: an ordinary
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
    /// fire). See [`Node::membership`].
    pub fn membership(mut self, config: crate::membership::MembershipConfig) -> Self {
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
    /// [`Placement::Role`](crate::cluster::Placement::Role) picks among the nodes that have it.
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
    pub fn redial(mut self, r: crate::platform::Backoff) -> Self {
        self.redial = r;
        self
    }

    internal_fn! {
        /// Uses a socket and runtime supplied by the platform instead of an OS
        /// socket (the simulator's in-memory network).
        fn socket(
            mut self,
            socket: Arc<dyn quinn::AsyncUdpSocket>,
            runtime: Arc<dyn quinn::Runtime>,
        ) -> Self {
            self.socket = Some((socket, runtime));
            self
        }
    }

    /// Worker threads for the actors of a node started with
    /// [`NodeBuilder::run`] (default: one per available core). Each is an
    /// OS thread with a current-thread runtime and a `LocalSet`. A networked
    /// node has one more thread for its network (see
    /// [`NodeBuilder::network_thread`]). A node started inside a caller's
    /// `LocalSet` ([`NodeBuilder::start`]) has one worker, embedded there,
    /// which runs everything.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// Whether a node started with [`NodeBuilder::run`] runs its network
    /// (QUIC, membership, the registry, spawn and monitor services) on a
    /// thread of its own where no actor runs (default: true). Actors that
    /// keep every worker busy for seconds then delay no probe's answer, and
    /// the cluster never declares their node down for it (Akka and Orleans
    /// keep their cluster machinery off the user's threads for the same
    /// reason). The price is a thread hop each way: a remote message or
    /// ask reply is handed between the network's thread and the actor's.
    /// With `false` the network shares the first worker with the actors
    /// placed there: a remote ask round trip to an actor on that worker
    /// costs no hop, but a handler that computes for a second there holds
    /// up the failure detector for that second.
    pub fn network_thread(mut self, own: bool) -> Self {
        self.network_thread = own;
        self
    }

    /// How long a graceful shutdown (a signal, [`Node::shutdown`]) waits
    /// for the node's drain (default 10 s): each actor it runs for a
    /// supervisor elsewhere is first started on another node, then stopped
    /// here, and no placement picks the node meanwhile. Whatever has not
    /// moved when the bound passes stops with the node and is restarted by
    /// its supervisor, as after any exit. `Duration::ZERO` leaves at once.
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
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
            downed: AtomicBool::new(false),
            drain_timeout: self.drain_timeout,
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
    /// the process gets SIGINT, SIGTERM or SIGHUP; then shuts it down gracefully
    /// ([`Node::shutdown`]) and returns. `main` runs on the node's first
    /// worker. The whole program of a node binary is `fn main` plus this
    /// call; no runtime to build by hand:
    ///
    /// ```no_run
    /// fn main() -> Result<(), arbour::NodeError> {
    ///     arbour::Node::builder("alpha")
    ///         .secret("change-me")
    ///         .run(|node| async move {
    ///             println!("{} listening on {:?}", node.node_id(), node.net().local_addr());
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
        // a networked node's network gets a thread no user actor runs on
        let workers = if self.network_thread && self.wants_network() {
            Workers::threads_with_io(&self.name, n)?
        } else {
            Workers::threads(&self.name, n)?
        };
        let (node_tx, node_rx) = tokio::sync::oneshot::channel();
        let (out_tx, out_rx) = tokio::sync::oneshot::channel();
        let on_worker = workers.clone();
        workers.run_on(workers.io(), move || {
            platform::spawn_local(async move {
                let workers = on_worker.clone();
                match self.start_on(on_worker).await {
                    Ok(node) => {
                        let _ = node_tx.send(Ok(node.clone()));
                        // `main` is user code: on the first user worker, in
                        // a task of its own so that a panic reaches the caller
                        let ran = workers.run_on(0, move || {
                            let ran = platform::spawn_local(main(node));
                            platform::spawn_local(async move {
                                let _ = out_tx.send(ran.await);
                            });
                        });
                        if let Err(e) = ran {
                            tracing::warn!("the node's main could not start: {e}");
                        }
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
            // a node the cluster declared down shut itself down, and
            // `main` with it
            if out.is_none() && node.inner.downed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(NodeError::Downed);
            }
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

    /// True if the node is to have a network (without a security setting,
    /// that is a configuration error).
    fn wants_network(&self) -> bool {
        self.listen.is_some()
            || !self.peers.is_empty()
            || self.socket.is_some()
            || self.membership.is_some()
            || self.security.is_some()
    }

    /// Starts the node's network with `workers` as its workers, on their I/O
    /// worker; everything it spawns lands there.
    ///
    /// A builder with no security setting, no listen address, no peers and
    /// no socket makes a node without a network (a local program).
    async fn start_on(self, workers: Workers) -> Result<Node, NodeError> {
        let mut inner = self.node_inner(Some(workers.clone()));
        let security = match self.security.clone() {
            Some(security) => security,
            None if !self.wants_network() => {
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
        let this_node = Arc::new(std::sync::OnceLock::new());
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
                .with_limits(self.limits)
                .with_clock(self.clock);
                let net_rng = host.rng().derive("net");
                let cluster = self.membership.clone().map(|config| {
                    let tuning = ClusterTuning {
                        config,
                        expected_size: (self.seeds.len() as u32 + 1).max(3),
                        seeds: self.seeds.clone(),
                        roles: self.roles.clone(),
                    };
                    (tuning, net_rng.owned("membership"))
                });
                let monitors = RemoteMonitors::new(self.limits.peer_monitors);
                let net = Network::new(
                    host.node_id().clone(),
                    host.counters().clone(),
                    endpoint,
                    net_rng,
                    Tuning {
                        data_lanes: self.data_lanes,
                        limits: self.limits,
                        redial: self.redial,
                    },
                    monitors.clone(),
                    workers.downgrade(),
                );
                monitors.attach(&net);
                let services = Services::wire(&host, net.clone(), cluster);
                if let Some(members) = &services.members {
                    platform::spawn_local(members.clone().run());
                    platform::spawn_local(shut_down_when_downed(
                        members.downed(),
                        this_node.clone(),
                    ));
                }
                platform::spawn_local(net.clone().accept_loop());
                platform::spawn_local(net.clone().flush_logs());
                for (peer, addr) in self.peers {
                    net.remember(&peer, addr);
                    platform::spawn_local(net.clone().keep_dialing(peer, addr));
                }
                Ok::<_, NodeError>(services)
            })
            .await?;
        inner.net = arc_swap::ArcSwapOption::from(Some(net));
        inner.networked = true;
        let node = Node {
            inner: Arc::new(inner),
        };
        let _ = this_node.set(Arc::downgrade(&node.inner));
        Ok(node)
    }
}

/// Shuts the node down once membership says the cluster declared it down
/// (Orleans' rule: a silo told it is dead terminates; Akka's
/// `run-coordinated-shutdown-when-down`). Its actors stop, what waits on
/// other nodes fails, and its supervisors' trees stop in order; a member
/// the cluster holds down must not go on acting as one.
async fn shut_down_when_downed(
    mut downed: tokio::sync::watch::Receiver<bool>,
    node: Arc<std::sync::OnceLock<std::sync::Weak<NodeInner>>>,
) {
    if downed.wait_for(|d| *d).await.is_err() {
        return;
    }
    let Some(inner) = node.get().and_then(std::sync::Weak::upgrade) else {
        return;
    };
    if inner.closing.load(std::sync::atomic::Ordering::Acquire) {
        return; // it was shutting down already: it left, it was not downed
    }
    inner.downed.store(true, std::sync::atomic::Ordering::Release);
    Node { inner }.shutdown().await;
}

/// The cores this process may use (at least one).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
