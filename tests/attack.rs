//! Misbehaving peers, for the hostile-peer tests and benchmark. None goes
//! through arbour's own connection code:
//!
//! - [`HalfOpen`] is a QUIC client built on the sans-IO `quinn-proto`: it
//!   sends a ClientHello and then only PINGs in the Initial space, never
//!   reading an answer, so its handshakes never finish (with no certificate
//!   at all: anyone on the network can do this).
//! - [`partial_frame`] is the start of a frame that announces more bytes
//!   than are ever sent.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

/// Many QUIC connection attempts that never complete their handshake but
/// keep showing signs of life.
pub struct HalfOpen {
    socket: UdpSocket,
    endpoint: quinn_proto::Endpoint,
    conns: Vec<quinn_proto::Connection>,
    handles: Vec<quinn_proto::ConnectionHandle>,
    buf: Vec<u8>,
    /// Datagrams sent so far.
    pub datagrams: u64,
}

impl std::fmt::Debug for HalfOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HalfOpen")
            .field("attempts", &self.conns.len())
            .field("datagrams", &self.datagrams)
            .finish()
    }
}

impl HalfOpen {
    /// Starts `n` attempts at `server` (each sends its ClientHello).
    pub fn start(server: SocketAddr, n: usize) -> Self {
        Self::start_from("127.0.0.1:0".parse().expect("addr"), server, n)
    }

    /// [`HalfOpen::start`] from address `bind` (another loopback address
    /// is another host, as far as the node can tell).
    pub fn start_from(bind: SocketAddr, server: SocketAddr, n: usize) -> Self {
        let socket = UdpSocket::bind(bind).expect("bind the attacker's socket");
        let mut endpoint = quinn_proto::Endpoint::new(
            Arc::new(quinn_proto::EndpointConfig::default()),
            None,
            false,
            Some([7; 32]),
        );
        let config = client_config();
        let now = Instant::now();
        let (handles, conns) = (0..n)
            .map(|_| {
                endpoint
                    .connect(now, config.clone(), server, "alpha")
                    .expect("connect")
            })
            .unzip();
        let mut attack = Self {
            socket,
            endpoint,
            conns,
            handles,
            buf: Vec::with_capacity(1500),
            datagrams: 0,
        };
        attack.flush();
        attack
    }

    /// Every attempt sends one Initial PING (what keeps a half-open
    /// connection alive for a server that has no deadline of its own).
    pub fn ping(&mut self) {
        for c in &mut self.conns {
            c.ping();
        }
        self.flush();
    }

    /// Reads what the node sends for `within` and answers its Retries (and
    /// nothing else): the attempts then come from an address the node knows
    /// is real, and hold validated handshake slots while they stay silent.
    /// Returns how many Retries were answered.
    /// (Reads without blocking, so a node on the same thread runs.)
    pub async fn answer_retries(&mut self, within: std::time::Duration) -> usize {
        let until = Instant::now() + within;
        let mut answered = 0;
        let mut data = [0u8; 2048];
        self.socket.set_nonblocking(true).expect("nonblocking");
        while Instant::now() < until {
            let Ok((n, from)) = self.socket.recv_from(&mut data) else {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                continue;
            };
            // a long header of type Retry (QUIC v1: bits 0x30 == 0x30)
            if n == 0 || data[0] & 0x80 == 0 || data[0] & 0x30 != 0x30 {
                continue;
            }
            let mut buf = Vec::new();
            let event = self.endpoint.handle(
                Instant::now(),
                from,
                None,
                None,
                bytes::BytesMut::from(&data[..n]),
                &mut buf,
            );
            if let Some(quinn_proto::DatagramEvent::ConnectionEvent(h, ev)) = event {
                if let Some(i) = self.handles.iter().position(|x| *x == h) {
                    self.conns[i].handle_event(ev);
                    answered += 1;
                }
            }
        }
        self.socket.set_nonblocking(false).expect("blocking");
        self.flush();
        answered
    }

    /// Attempts in the flood.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    fn flush(&mut self) {
        let now = Instant::now();
        for c in &mut self.conns {
            self.buf.clear();
            while let Some(t) = c.poll_transmit(now, 1, &mut self.buf) {
                // a full socket buffer loses a datagram, as the network may
                let _ = self.socket.send_to(&self.buf[..t.size], t.destination);
                self.datagrams += 1;
                self.buf.clear();
            }
        }
        let _ = &self.endpoint;
    }
}

/// A QUIC client configuration offering arbour's ALPN, with a certificate
/// from a CA the node does not trust (it never gets as far as showing it).
fn client_config() -> quinn_proto::ClientConfig {
    let ca = arbour::transport::ClusterCa::from_secret("elsewhere", "nobody's").expect("ca");
    let id = ca.issue("mallory", [3; 32]).expect("identity");
    let tls = ca
        .trust()
        .expect("trust")
        .client_config(&id)
        .expect("client config");
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    quinn_proto::ClientConfig::new(Arc::new(quic))
}

/// The first `sent` bytes of an envelope frame that announces `announced`
/// bytes (kind byte and body), so the receiver waits for the rest.
pub fn partial_frame(announced: u32, sent: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + sent);
    out.extend_from_slice(&announced.to_be_bytes());
    out.push(4); // an envelope
    out.resize(4 + sent, 0);
    out
}
