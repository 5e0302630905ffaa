//! The `Node` handle: one node's identity, actors, names and supervisors,
//! and (once started with a listen address and a security setting) its
//! connections to other nodes, wired together (DESIGN.md §1).

mod inbound;
mod net;

use crate::actor::{export, remote_ref, ActorRef, AskError, DispatchError, Host, NodeId};
use crate::platform;
use crate::registry::{Registry, RegistryError};
use crate::transport::{
    ClusterCa, Endpoint, Liveness, NodeIdentity, Redial, TlsError, TransportError, Trust,
};
use crate::wire::Hello;
use crate::RemoteActor;
use net::Net;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One arbour node. Cheap to clone. Dereferences to its [`Host`] (spawning,
/// ids, RNG, counters).
///
/// ```
/// let node = arbour::Node::builder("alpha").seed(42).incarnation(1).build();
/// assert_eq!(node.node_id().to_string(), "alpha#1");
/// ```
#[derive(Clone, Debug)]
pub struct Node {
    host: Host,
    registry: Arc<Registry>,
    net: Option<Arc<Net>>,
}

impl std::ops::Deref for Node {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl AsRef<Host> for Node {
    fn as_ref(&self) -> &Host {
        &self.host
    }
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
    /// The lookup failed (node down, timeout).
    #[error("lookup: {0}")]
    Ask(#[from] AskError),
    /// The name is taken.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The actor's message table is invalid (two messages share a tag).
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
}

/// Counters of the node's network side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Replies that arrived after their ask stopped waiting (dropped).
    pub late_replies: u64,
    /// Messages from the wire with an unknown tag or an undecodable payload.
    pub undeliverable: u64,
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
            outbound_cap: crate::transport::DEFAULT_OUTBOUND_CAP,
            liveness: Liveness::default(),
            handshake_timeout: crate::transport::DEFAULT_HANDSHAKE_TIMEOUT,
            redial: Redial::default(),
            socket: None,
        }
    }

    /// The node's local name registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The node's actor host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    fn net(&self) -> Result<&Arc<Net>, NodeError> {
        self.net.as_ref().ok_or(NodeError::NoNetwork)
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        Ok(self.net()?.endpoint.local_addr()?)
    }

    /// Registers `actor` under `name` in the local registry and makes it
    /// reachable from other nodes by that name ([`Node::lookup`]).
    pub fn expose<A: RemoteActor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let net = self.net()?;
        let exported = export(actor)?;
        self.registry.register(name, actor)?;
        net.expose(name, exported);
        Ok(())
    }

    /// A ref to the actor that node `node` exposes as `name`. Waits (up to
    /// `timeout`) for a connection to `node` if there is none yet.
    pub async fn lookup<A: RemoteActor>(
        &self,
        node: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<ActorRef<A>, NodeError> {
        let net = self.net()?;
        let deadline = platform::now() + timeout;
        let link = net.link_named(node);
        let conn =
            net.connected_to(&link, deadline)
                .await
                .ok_or_else(|| NodeError::NotConnected {
                    node: node.to_owned(),
                    waited: timeout,
                })?;
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
        Ok(remote_ref(id, link, self.host.counters().clone())?)
    }

    /// Dials node `node` at `addr` and waits for the handshake. The address
    /// is remembered: a lost connection is redialed with backoff.
    pub async fn connect(&self, node: &str, addr: SocketAddr) -> Result<(), NodeError> {
        let net = self.net()?;
        net.remember(node, addr);
        net.dial(node, addr).await?;
        Ok(())
    }

    /// The peer nodes connected now.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        self.net.as_ref().map(|n| n.connected()).unwrap_or_default()
    }

    /// Waits until `node` is connected, up to `timeout`; false if it is not.
    pub async fn wait_for_peer(&self, node: &str, timeout: Duration) -> bool {
        let Ok(net) = self.net() else {
            return false;
        };
        let link = net.link_named(node);
        net.connected_to(&link, platform::now() + timeout)
            .await
            .is_some()
    }

    /// The network side's counters.
    pub fn net_stats(&self) -> NetStats {
        use std::sync::atomic::Ordering::Relaxed;
        self.net
            .as_ref()
            .map(|n| NetStats {
                late_replies: n.late_replies(),
                undeliverable: n.undeliverable.load(Relaxed),
            })
            .unwrap_or_default()
    }

    /// Closes every connection and stops listening. Remote asks pending on
    /// other nodes fail with `NodeDown` there.
    pub fn shutdown_network(&self) {
        if let Some(net) = &self.net {
            net.shutdown();
        }
    }
}

/// How a node proves it belongs to the cluster (mutual TLS, DESIGN.md §5).
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
    ) -> Result<(Trust, NodeIdentity), TlsError> {
        match self {
            Security::Secret(secret) => {
                let ca = ClusterCa::from_secret(cluster, secret)?;
                let mut key_seed = [0u8; 32];
                rng.derive("tls identity").fill_bytes(&mut key_seed);
                Ok((ca.trust()?, ca.issue(node, key_seed)?))
            }
            Security::Files { ca, cert, key } => {
                let trust = Trust::from_pem_file(ca)?;
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
    outbound_cap: usize,
    liveness: Liveness,
    handshake_timeout: Duration,
    redial: Redial,
    socket: Option<(Arc<dyn quinn::AsyncUdpSocket>, Arc<dyn quinn::Runtime>)>,
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

    /// Data lanes per connection (default 4).
    pub fn data_lanes(mut self, n: usize) -> Self {
        self.data_lanes = n.max(1);
        self
    }

    /// Bytes that may wait on one peer connection before plain tells to that
    /// peer are dropped (logged and counted in
    /// [`Stats::outbound_drops`](crate::Stats)). Default 64 MiB: an ordinary
    /// burst is queued, not lost; the cap only bounds memory when a peer or
    /// the network stays slower than the senders for long.
    pub fn outbound_cap(mut self, bytes: usize) -> Self {
        self.outbound_cap = bytes.max(1);
        self
    }

    /// How often an idle connection is probed (default 500 ms).
    pub fn keep_alive(mut self, d: Duration) -> Self {
        self.liveness.keep_alive = d;
        self
    }

    /// How long a silent connection lives before it counts as lost, failing
    /// its asks with `NodeDown` and firing its monitors (default 3 s). A
    /// peer that shuts down says goodbye and is noticed at once; this bounds
    /// how long a killed or cut-off one goes unnoticed.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.liveness.idle_timeout = d;
        self
    }

    /// How long a new connection may take to say who it is (default 5 s).
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// Redial backoff after a lost connection.
    pub fn redial(mut self, r: Redial) -> Self {
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

    /// Builds a node without a network (actors, supervisors, names).
    pub fn build(self) -> Node {
        let incarnation = self.incarnation.unwrap_or_else(platform::fresh_incarnation);
        let seed = self.seed.unwrap_or(incarnation);
        Node {
            host: Host::new(&self.name, incarnation, seed),
            registry: Arc::new(Registry::default()),
            net: None,
        }
    }

    /// Builds the node and starts its network: binds the endpoint, accepts
    /// peers, dials the configured ones. Call on the worker that is to run
    /// the transport (inside a tokio `LocalSet`).
    pub async fn start(self) -> Result<Node, NodeError> {
        let Some(security) = self.security.clone() else {
            return Err(NodeError::Config(
                "no security setting: give the cluster secret (NodeBuilder::secret) \
                 or certificate files (NodeBuilder::tls_files)"
                    .into(),
            ));
        };
        let cfg = self.clone();
        let mut node = self.build();
        let (trust, identity) = security.load(&cfg.cluster, &cfg.name, node.rng())?;
        let hello = Hello::new(&cfg.cluster, &cfg.name, node.node_id().incarnation);
        let endpoint = match cfg.socket {
            Some((socket, runtime)) => {
                let seed = node.rng().derive("quic").next_u64();
                Endpoint::bind_socket(
                    socket,
                    runtime,
                    &trust,
                    &identity,
                    hello,
                    seed,
                    cfg.liveness,
                )?
            }
            None => {
                let addr = cfg
                    .listen
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
                Endpoint::bind_with(addr, &trust, &identity, hello, cfg.liveness)?
            }
        }
        .with_handshake_timeout(cfg.handshake_timeout);
        let net = Net::new(
            node.node_id().clone(),
            node.host.counters().clone(),
            endpoint,
            node.rng().derive("net"),
            cfg.data_lanes,
            cfg.outbound_cap,
            cfg.redial,
        );
        platform::spawn_local(net.clone().accept_loop());
        for (peer, addr) in cfg.peers {
            net.remember(&peer, addr);
            platform::spawn_local(net.clone().keep_dialing(peer, addr));
        }
        node.net = Some(net);
        Ok(node)
    }
}

/// Installs the default log subscriber: `tracing` to stderr, UTC RFC 3339
/// timestamps, filter from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
