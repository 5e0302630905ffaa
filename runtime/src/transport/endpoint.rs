//! A node's QUIC endpoint: mutual TLS (see [`Trust`]), then arbour's own
//! handshake on the connection's first bidirectional stream, its control
//! lane. The decisions are the sans-IO handshake machine's (`handshake.rs`); this module
//! does the I/O: it sends what the machine says, feeds it what arrives, and
//! carries out its verdict (admit, or refuse with a precise reason logged on
//! both sides, and close). A peer that says nothing is dropped after the
//! handshake timeout; one that sends garbage is dropped at once.

use super::handshake::{Handshake, Role, Step};
use super::limits::{Admission, HandshakeGate, HandshakeSlot, LimitCounters, PeerLimits};
use super::tls::{server_name, NodeIdentity, TlsError, Trust};
use crate::platform::{LogThrottle, NodeRng};
use crate::platform::throttled_warn;
use crate::wire::{FrameDecoder, Hello, Limits, Refusal, WireError};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Application close code: the handshake was refused.
pub const CLOSE_REFUSED: u32 = 1;
/// Application close code: the peer broke the protocol.
pub const CLOSE_PROTOCOL: u32 = 2;
/// Application close code: a duplicate connection (the other one is kept).
pub const CLOSE_DUPLICATE: u32 = 3;
/// Application close code: the node is shutting down.
pub const CLOSE_SHUTDOWN: u32 = 4;
/// Application close code: the cluster declared the peer down.
pub const CLOSE_DOWN: u32 = 5;

/// How a lost peer is noticed: an idle connection is probed every
/// `keep_alive`, and silence for `idle_timeout` counts as a lost connection
/// (its asks fail with `NodeDown` and its monitors fire). A peer that shuts
/// down says goodbye instead and is noticed at once.
///
/// Defaults: probe every 500 ms, lost after 3 s of silence. A shorter
/// timeout notices a killed node sooner and risks calling a merely slow
/// one lost; keep `keep_alive` well under `idle_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// How often an idle connection is probed.
    pub keep_alive: Duration,
    /// How long silence may last before the connection counts as lost.
    pub idle_timeout: Duration,
}

impl Liveness {
    /// For a member of a cluster: probe an idle connection every 5 s, lost
    /// after 15 s of silence. SWIM is its failure detector (a killed member
    /// is down everywhere in about a second, which closes its connections);
    /// the keep-alive only keeps the connection. A full mesh of 100 members
    /// has 4,950 connections, and 500 ms keep-alives on them were 90% of
    /// its packets (the simulator's bench: 38,000 datagrams a second).
    pub fn for_members() -> Self {
        Self {
            keep_alive: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
        }
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(3),
        }
    }
}

/// How long a new connection may take to say who it is.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connection could not be made or was refused.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The socket could not be bound.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// TLS identities or configuration.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// QUIC rejected the TLS configuration.
    #[error("QUIC TLS configuration: {0}")]
    QuicConfig(String),
    /// The connection attempt could not start.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was closed (including TLS failures: a wrong
    /// secret or CA ends here).
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The handshake was refused: by the peer, or by us.
    #[error("handshake refused by {}: {reason}", if *.by_peer { "the peer" } else { "us" })]
    Refused {
        /// Whether the peer refused (else we did).
        by_peer: bool,
        /// Why, as the refusing node put it.
        reason: String,
        /// The refusal itself, as the refusing node saw it (`ours` is the
        /// refuser's), when it said so.
        refusal: Option<Refusal>,
    },
    /// The peer sent malformed bytes.
    #[error("malformed input from the peer: {0}")]
    Wire(#[from] WireError),
    /// The peer said nothing in time.
    #[error("the peer did not complete the handshake in time")]
    HandshakeTimeout,
    /// The peer broke the handshake protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl TransportError {
    /// The code the peer closed the connection with, if it closed it
    /// (during the handshake or the TLS handshake).
    #[must_use]
    pub fn peer_close_code(&self) -> Option<u32> {
        match self {
            TransportError::Connection(e) => peer_close_code(e),
            _ => None,
        }
    }
}

/// The application code the peer closed a connection with (`CLOSE_*`), if
/// the peer closed it.
pub(crate) fn peer_close_code(e: &quinn::ConnectionError) -> Option<u32> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => u32::try_from(u64::from(c.error_code)).ok(),
        _ => None,
    }
}

/// A connected, authenticated peer node.
#[derive(Debug)]
pub struct Peer {
    /// Who the peer said it is (after TLS and the arbour handshake).
    pub hello: Hello,
    /// What its certificate lets it be.
    pub role: super::PeerRole,
    pub(crate) conn: quinn::Connection,
    pub(crate) control: (quinn::SendStream, quinn::RecvStream),
    /// Bytes that followed the handshake on the control stream.
    pub(crate) decoder: FrameDecoder,
    pub(crate) limits: Limits,
}

impl Peer {
    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// The QUIC connection (for opening data lanes).
    pub fn connection(&self) -> &quinn::Connection {
        &self.conn
    }

    /// The control lane (the handshake's stream).
    pub fn control(&mut self) -> (&mut quinn::SendStream, &mut quinn::RecvStream) {
        (&mut self.control.0, &mut self.control.1)
    }
}

/// One node's QUIC endpoint.
#[derive(Debug)]
pub struct Endpoint {
    quic: quinn::Endpoint,
    hello: Hello,
    limits: Limits,
    peer_limits: PeerLimits,
    gate: HandshakeGate,
    counters: Arc<LimitCounters>,
    throttle: Arc<LogThrottle>,
    /// This node's wall clock: a peer's life may not be ahead of it by
    /// more than [`PeerLimits::incarnation_ahead`].
    clock: crate::platform::WallClock,
    /// What this node's own certificate lets it be.
    role: super::PeerRole,
}

/// A connection attempt the handshake gate took on: it holds its place
/// under [`PeerLimits::handshakes_in_flight`] until its handshake ends.
#[derive(Debug)]
pub struct Admitted {
    incoming: quinn::Incoming,
    _slot: HandshakeSlot,
}

impl Admitted {
    /// Where the attempt comes from.
    pub fn remote_address(&self) -> SocketAddr {
        self.incoming.remote_address()
    }
}

/// QUIC transport settings: keep-alive probes, the idle timeout that turns
/// silence into a lost connection, and stream windows sized for batched
/// message traffic.
///
/// Only the streams arbour uses are allowed (quinn's defaults let a peer open
/// 100 of each kind, every one buffering up to its window): the dialer may
/// open one bidirectional stream, the control lane, and the listener none;
/// either side may open [`MAX_UNI_STREAMS`] unidirectional ones at a time
/// (its data lanes, and a stream per large frame in flight; a sender past
/// the limit waits).
fn transport_config(liveness: Liveness, listener: bool) -> Arc<quinn::TransportConfig> {
    let mut t = base_transport(liveness);
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(u32::from(listener)));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(MAX_UNI_STREAMS));
    Arc::new(t)
}

/// Keep-alive, idle timeout and windows, with quinn's default stream
/// limits (a raw QUIC floor in benchmarks uses it as is).
fn base_transport(liveness: Liveness) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(liveness.keep_alive));
    t.max_idle_timeout(liveness.idle_timeout.try_into().ok());
    t.stream_receive_window(quinn::VarInt::from_u32(2 * 1024 * 1024));
    t.send_window(8 * 1024 * 1024);
    t
}

/// Unidirectional streams a peer may have open on a connection at once.
pub const MAX_UNI_STREAMS: u32 = 48;

/// The QUIC crypto configurations of a node's TLS identity.
fn quic_crypto(
    trust: &Trust,
    identity: &NodeIdentity,
    liveness: Liveness,
) -> Result<(Arc<QuicServerConfig>, quinn::ClientConfig), TransportError> {
    let server = QuicServerConfig::try_from(trust.server_config(identity)?)
        .map_err(|e| TransportError::QuicConfig(e.to_string()))?;
    let client = QuicClientConfig::try_from(trust.client_config(identity)?)
        .map_err(|e| TransportError::QuicConfig(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client));
    client.transport_config(transport_config(liveness, false));
    Ok((Arc::new(server), client))
}

fn server_config(server: Arc<QuicServerConfig>, liveness: Liveness) -> quinn::ServerConfig {
    let mut config = quinn::ServerConfig::with_crypto(server);
    config.transport_config(transport_config(liveness, true));
    config
}

impl Endpoint {
    /// Whether the life `hello` claims (wall-clock milliseconds at its
    /// start) is at most [`PeerLimits::incarnation_ahead`] ahead of this
    /// node's clock.
    fn life_not_ahead(&self, hello: &Hello) -> Result<(), Refusal> {
        let latest = self.latest_life();
        if hello.incarnation <= latest {
            return Ok(());
        }
        Err(Refusal::Identity(format!(
            "the hello's life {} is {} ms ahead of the latest this node allows ({latest}: its \
             clock plus PeerLimits::incarnation_ahead, {:?}): are the hosts' clocks set?",
            hello.incarnation,
            hello.incarnation - latest,
            self.peer_limits.incarnation_ahead,
        )))
    }

    /// The latest life a peer may claim: this node's wall clock in
    /// milliseconds plus [`PeerLimits::incarnation_ahead`] (lives are the
    /// wall-clock milliseconds of a node's start).
    pub fn latest_life(&self) -> u64 {
        let now = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let ahead = u64::try_from(self.peer_limits.incarnation_ahead.as_millis()).unwrap_or(u64::MAX);
        now.saturating_add(ahead)
    }
}

/// The role the peer's (verified) certificate gives it; a member if there
/// is none to read (only a dialed node's, whose name TLS checked).
fn peer_role(conn: &quinn::Connection) -> super::PeerRole {
    conn.peer_identity()
        .and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
        .and_then(|certs| certs.first().map(super::role_of))
        .unwrap_or_default()
}

/// Whether the peer's TLS certificate names `node`, the node its hello
/// claims to be.
fn certificate_names(conn: &quinn::Connection, node: &str) -> Result<(), Refusal> {
    let wrong = |why: String| Refusal::Identity(format!("the hello says {node}, {why}"));
    let certs = conn
        .peer_identity()
        .and_then(|id| {
            id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .ok_or_else(|| wrong("but there is no client certificate".into()))?;
    let leaf = certs
        .first()
        .ok_or_else(|| wrong("but the certificate chain is empty".into()))?;
    let name = server_name(node).map_err(|e| wrong(e.to_string()))?;
    webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| wrong(format!("but its certificate does not parse ({e})")))?
        .verify_is_valid_for_subject_name(&name)
        .map_err(|_| wrong("but its certificate names another node".into()))
}

/// Connection ids from the node's seeded RNG (quinn's default draws them
/// from the OS), so a simulated run replays the same packets.
struct SeededCids(NodeRng);

impl quinn::ConnectionIdGenerator for SeededCids {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        let mut b = [0u8; 8];
        self.0.fill_bytes(&mut b);
        quinn::ConnectionId::new(&b)
    }

    fn cid_len(&self) -> usize {
        8
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// 32 bytes from `rng`'s stream for `purpose`.
fn key_bytes(rng: &NodeRng, purpose: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    rng.derive(purpose).fill_bytes(&mut out);
    out
}

impl Endpoint {
    /// Binds `addr` (port 0 picks a free port) with this node's TLS identity,
    /// accepting peers whose certificates chain to `trust`. Call from within
    /// a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        trust: &Trust,
        identity: &NodeIdentity,
        hello: Hello,
    ) -> Result<Self, TransportError> {
        let runtime = Arc::new(quinn::TokioRuntime);
        Self::bind_with(addr, trust, identity, hello, Liveness::default(), runtime)
    }

    /// [`Endpoint::bind`] with quinn's default stream limits instead of
    /// arbour's (one control stream, 48 unidirectional): a raw QUIC floor
    /// for benchmarks that open streams of their own. Not for nodes.
    pub fn bind_raw(
        addr: SocketAddr,
        trust: &Trust,
        identity: &NodeIdentity,
        hello: Hello,
    ) -> Result<Self, TransportError> {
        let liveness = Liveness::default();
        let (server, mut client) = quic_crypto(trust, identity, liveness)?;
        client.transport_config(Arc::new(base_transport(liveness)));
        let mut config = quinn::ServerConfig::with_crypto(server);
        config.transport_config(Arc::new(base_transport(liveness)));
        let quic = quinn::Endpoint::server(config, addr)?;
        Ok(Self::around(quic, client, hello, identity))
    }

    /// [`Endpoint::bind`] with the given liveness settings, its tasks spawned
    /// through `runtime` (a node passes one that keeps them on its workers).
    pub fn bind_with(
        addr: SocketAddr,
        trust: &Trust,
        identity: &NodeIdentity,
        hello: Hello,
        liveness: Liveness,
        runtime: Arc<dyn quinn::Runtime>,
    ) -> Result<Self, TransportError> {
        let (server, client) = quic_crypto(trust, identity, liveness)?;
        let socket = std::net::UdpSocket::bind(addr)?;
        let quic = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server_config(server, liveness)),
            socket,
            runtime,
        )?;
        Ok(Self::around(quic, client, hello, identity))
    }

    /// Like [`Endpoint::bind`], on a socket and runtime supplied by the
    /// platform (the simulator's in-memory network and tokio-time runtime).
    /// Every random choice quinn makes (reset keys, its RNG, connection ids,
    /// token keys) comes from `seed`, so the same seed sends the same
    /// packets at the same virtual times (TLS key shares still differ in
    /// content, not in size).
    pub fn bind_socket(
        socket: Arc<dyn quinn::AsyncUdpSocket>,
        runtime: Arc<dyn quinn::Runtime>,
        trust: &Trust,
        identity: &NodeIdentity,
        hello: Hello,
        seed: u64,
        liveness: Liveness,
    ) -> Result<Self, TransportError> {
        let rng = NodeRng::from_seed(seed);
        let (server, client) = quic_crypto(trust, identity, liveness)?;
        let mut config = quinn::EndpointConfig::new(Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &key_bytes(&rng, "reset key"),
        )));
        config.rng_seed(Some(key_bytes(&rng, "quinn rng")));
        let cids = rng.derive("connection ids");
        config.cid_generator(move || Box::new(SeededCids(cids.derive("generator"))));
        let token_key =
            ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &key_bytes(&rng, "token key"))
                .extract(&[]);
        let mut server = quinn::ServerConfig::new(server, Arc::new(token_key));
        server.transport_config(transport_config(liveness, true));
        let quic =
            quinn::Endpoint::new_with_abstract_socket(config, Some(server), socket, runtime)?;
        Ok(Self::around(quic, client, hello, identity))
    }

    fn around(
        mut quic: quinn::Endpoint,
        client: quinn::ClientConfig,
        hello: Hello,
        identity: &NodeIdentity,
    ) -> Self {
        quic.set_default_client_config(client);
        let peer_limits = PeerLimits::default();
        Self {
            role: identity.chain.first().map(super::role_of).unwrap_or_default(),
            quic,
            hello,
            limits: Limits::default(),
            gate: HandshakeGate::new(&peer_limits),
            peer_limits,
            counters: Arc::default(),
            throttle: Arc::default(),
            clock: crate::platform::WallClock::default(),
        }
    }

    /// Sets how long a new connection may take to complete the handshake.
    pub fn with_handshake_timeout(mut self, d: Duration) -> Self {
        self.peer_limits.handshake_timeout = d;
        self
    }

    /// Holds peers to `limits` (the handshake's; the connection's are
    /// applied where connections start).
    pub fn with_limits(mut self, limits: PeerLimits) -> Self {
        self.gate = HandshakeGate::new(&limits);
        self.peer_limits = limits;
        self
    }

    /// Reads `clock` for this node's time (a peer's hello may not claim a
    /// life ahead of it by more than [`PeerLimits::incarnation_ahead`]).
    pub fn with_clock(mut self, clock: crate::platform::WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// What this node's own certificate lets it be (a client publishes no
    /// registry part, and takes no part in membership).
    pub fn role(&self) -> super::PeerRole {
        self.role
    }

    /// The limits peers are held to.
    pub fn peer_limits(&self) -> &PeerLimits {
        &self.peer_limits
    }

    /// Refusals at the limits so far.
    pub fn counters(&self) -> &Arc<LimitCounters> {
        &self.counters
    }

    /// The throttle for log lines a peer can provoke.
    pub fn throttle(&self) -> &Arc<LogThrottle> {
        &self.throttle
    }

    /// Incoming handshakes in flight now.
    pub fn handshakes_in_flight(&self) -> usize {
        self.gate.in_flight()
    }

    /// Closes every connection and stops accepting new ones.
    pub fn close(&self) {
        self.quic
            .close(CLOSE_SHUTDOWN.into(), b"node shutting down");
    }

    /// This node's hello.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.quic.local_addr()?)
    }

    /// The underlying quinn endpoint (an escape hatch, e.g. for tests that
    /// must misbehave at the QUIC level).
    pub fn quic(&self) -> &quinn::Endpoint {
        &self.quic
    }

    /// Dials node `node` at `addr` and performs the handshake.
    pub async fn connect(&self, addr: SocketAddr, node: &str) -> Result<Peer, TransportError> {
        let conn = self.quic.connect(addr, node)?.await.inspect_err(|e| {
            if matches!(e, quinn::ConnectionError::TimedOut) {
                // nobody answered (a peer that is down): redials say so at debug
                tracing::debug!(peer = %addr, node, "no answer: {e}");
            } else {
                tracing::warn!(peer = %addr, node, "TLS handshake failed: {e}");
            }
        })?;
        let (send, recv) = conn.open_bi().await?;
        let hs = Handshake::new(Role::Dialer, self.hello.clone(), self.limits);
        let timeout = self.peer_limits.handshake_timeout;
        match tokio::time::timeout(timeout, self.drive(hs, conn.clone(), send, recv)).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!(peer = %addr, node, "handshake timed out after {timeout:?}");
                conn.close(CLOSE_PROTOCOL.into(), b"handshake timeout");
                Err(TransportError::HandshakeTimeout)
            }
        }
    }

    /// Waits for the next incoming connection and performs its handshake.
    /// `None` once the endpoint is closed. (A node runs handshakes
    /// concurrently: [`Endpoint::incoming`], then
    /// [`Endpoint::handshake_incoming`] in a task of its own.)
    pub async fn accept(&self) -> Option<Result<Peer, TransportError>> {
        let admitted = self.incoming().await?;
        Some(self.handshake_incoming(admitted).await)
    }

    /// The next connection attempt the handshake gate takes on, before TLS
    /// completes (attempts past the limits are answered with a Retry or
    /// refused meanwhile, keeping no state). `None` once the endpoint is
    /// closed.
    pub async fn incoming(&self) -> Option<Admitted> {
        loop {
            let incoming = self.quic.accept().await?;
            if let Some(admitted) = self.admit(incoming) {
                return Some(admitted);
            }
        }
    }

    fn admit(&self, incoming: quinn::Incoming) -> Option<Admitted> {
        let peer = incoming.remote_address();
        let validated = incoming.remote_address_validated();
        match self.gate.admit(peer.ip(), validated, incoming.may_retry()) {
            Admission::Accept(slot) => Some(Admitted {
                incoming,
                _slot: slot,
            }),
            Admission::Retry => {
                self.counters.handshakes_retried.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "asking for address validation (handshakes in flight: {})", self.gate.in_flight());
                if incoming.retry().is_err() {
                    tracing::debug!(%peer, "retry not possible");
                }
                None
            }
            Admission::Refuse => {
                self.counters.handshakes_refused.fetch_add(1, Ordering::Relaxed);
                throttled_warn!(self.throttle, "handshakes at cap", source = &peer.ip().to_string(), %peer,
                    "refusing a connection attempt: {} handshakes in flight, the cap{}",
                    self.gate.in_flight(),
                    if validated { "" } else { " for unvalidated addresses" });
                incoming.refuse();
                None
            }
            Admission::RefuseSource => {
                self.counters
                    .handshakes_refused_per_source
                    .fetch_add(1, Ordering::Relaxed);
                throttled_warn!(self.throttle, "handshakes at cap per source", source = &peer.ip().to_string(), %peer,
                    "refusing a connection attempt: its address already has {} handshakes in flight (PeerLimits::handshakes_per_source)",
                    self.peer_limits.handshakes_per_source);
                incoming.refuse();
                None
            }
        }
    }

    /// Completes TLS and the arbour handshake of an incoming connection,
    /// all within the handshake timeout counted from its first packet.
    pub async fn handshake_incoming(&self, admitted: Admitted) -> Result<Peer, TransportError> {
        let Admitted { incoming, _slot } = admitted;
        let peer = incoming.remote_address();
        let timeout = self.peer_limits.handshake_timeout;
        let opened = std::cell::OnceCell::new();
        let handshake = async {
            let conn = incoming.await.inspect_err(|e| self.tls_failed(peer, e))?;
            let _ = opened.set(conn.clone());
            let (send, recv) = conn.accept_bi().await.inspect_err(|e| {
                throttled_warn!(self.throttle, "handshake failed", source = &peer.ip().to_string(), %peer, "handshake failed: {e}");
            })?;
            let hs = Handshake::new(Role::Listener, self.hello.clone(), self.limits);
            self.drive(hs, conn, send, recv).await
        };
        match tokio::time::timeout(timeout, handshake).await {
            Ok(Ok(admitted)) => {
                tracing::info!(%peer, node = %admitted.hello.node, incarnation = admitted.hello.incarnation, "peer connected");
                Ok(admitted)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                self.counters.handshakes_timed_out.fetch_add(1, Ordering::Relaxed);
                throttled_warn!(self.throttle, "handshake timeout", source = &peer.ip().to_string(), %peer,
                    "handshake timed out after {timeout:?} (counted from its first packet)");
                if let Some(conn) = opened.get() {
                    conn.close(CLOSE_PROTOCOL.into(), b"handshake timeout");
                }
                // else dropping the half-open attempt closes it
                Err(TransportError::HandshakeTimeout)
            }
        }
    }

    /// An incoming TLS handshake failed: logged (throttled: anyone can
    /// provoke this); an attempt that merely went silent only at debug.
    fn tls_failed(&self, peer: SocketAddr, e: &quinn::ConnectionError) {
        match e {
            quinn::ConnectionError::TimedOut => {
                tracing::debug!(%peer, "TLS handshake abandoned: {e}");
            }
            quinn::ConnectionError::ConnectionClosed(c) if u64::from(c.error_code) & !0xff == 0x100 => {
                throttled_warn!(self.throttle, "tls failed", source = &peer.ip().to_string(), %peer,
                    "TLS handshake failed: the node at {peer} refused our certificate \
                     (another cluster secret, cluster name or CA?): {e}")
            }
            _ => throttled_warn!(self.throttle, "tls failed", source = &peer.ip().to_string(), %peer, "TLS handshake failed: {e}"),
        }
    }

    /// Runs the handshake machine `hs` over the control stream: sends what
    /// it says, feeds it what arrives (within the handshake timeout), and
    /// carries out its verdict.
    async fn drive(
        &self,
        mut hs: Handshake,
        conn: quinn::Connection,
        mut send: quinn::SendStream,
        mut recv: quinn::RecvStream,
    ) -> Result<Peer, TransportError> {
        let addr = conn.remote_address();
        let written = match hs.opening()? {
            Some(hello) => send.write_all(&hello).await.map_err(|e| {
                TransportError::Protocol(format!("sending the hello: {e}"))
            }),
            None => Ok(()),
        };
        written?;
        let verdict = async {
            let mut buf = [0u8; 4096];
            loop {
                let n = match recv.read(&mut buf).await {
                    Ok(Some(n)) => n,
                    Ok(None) => {
                        return Step::Failed(TransportError::Protocol(
                            "stream ended before the handshake did".into(),
                        ))
                    }
                    // closed by the peer, with its code: a peer that holds
                    // this node's life down closes as soon as it admitted
                    // the dialer, often before the welcome is read
                    Err(quinn::ReadError::ConnectionLost(
                        e @ quinn::ConnectionError::ApplicationClosed(_),
                    )) => return Step::Failed(TransportError::Connection(e)),
                    Err(e) => return Step::Failed(TransportError::Protocol(format!("reading: {e}"))),
                };
                let vouch = |hello: &Hello| {
                    certificate_names(&conn, &hello.node)?;
                    self.life_not_ahead(hello)
                };
                match hs.on_bytes(&buf[..n], vouch) {
                    Step::NeedMore => continue,
                    step => return step,
                }
            }
        }
        .await;
        match verdict {
            Step::Admitted { theirs, reply } => {
                if let Some(reply) = reply {
                    send.write_all(&reply).await.map_err(|e| {
                        TransportError::Protocol(format!("sending the welcome: {e}"))
                    })?;
                }
                let role = peer_role(&conn);
                Ok(Peer {
                    hello: theirs,
                    role,
                    conn,
                    control: (send, recv),
                    decoder: hs.into_decoder(),
                    limits: self.limits,
                })
            }
            Step::Refuse { reject, refusal } => {
                self.counters.hellos_refused.fetch_add(1, Ordering::Relaxed);
                let reason = refusal.to_string();
                throttled_warn!(self.throttle, refusal.kind(), source = &addr.ip().to_string(), peer = %addr, "refusing the peer: {reason}");
                if send.write_all(&reject).await.is_ok() {
                    let _ = send.finish();
                    // let the reject reach the peer before the close does
                    let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
                }
                conn.close(CLOSE_REFUSED.into(), reason.as_bytes());
                Err(TransportError::Refused {
                    by_peer: false,
                    reason,
                    refusal: Some(refusal),
                })
            }
            Step::RefusedByPeer { reason, refusal } => {
                tracing::warn!(peer = %addr, "the peer refused us, saying: {reason}");
                Err(TransportError::Refused {
                    by_peer: true,
                    reason,
                    refusal,
                })
            }
            Step::Failed(e) => {
                if e.peer_close_code() == Some(CLOSE_DOWN) {
                    // the peer's cluster holds this node down: membership
                    // says so (a warning per attempt here would be noise)
                    tracing::debug!(peer = %addr, "handshake ended: {e}");
                } else {
                    throttled_warn!(self.throttle, "handshake failed", source = &addr.ip().to_string(), peer = %addr, "handshake failed: {e}");
                }
                conn.close(CLOSE_PROTOCOL.into(), e.to_string().as_bytes());
                Err(e)
            }
            Step::NeedMore => unreachable_need_more(),
        }
    }
}

/// The handshake loop only returns a verdict; `NeedMore` never leaves it.
fn unreachable_need_more() -> Result<Peer, TransportError> {
    Err(TransportError::Protocol(
        "the handshake ended without a verdict".into(),
    ))
}
