//! Talking to other nodes: TLS identities, and the QUIC
//! endpoint with arbour's handshake. Lanes, envelopes and remote refs build
//! on these.

mod connection;
mod endpoint;
mod handshake;
mod limits;
mod peers;
mod pending;
mod tls;

pub use connection::{
    Admit, Connection, FrameSink, LaneId, PushError, Stall, DEFAULT_DATA_LANES, DEFAULT_LANE_LIMIT,
    DEFAULT_OUTBOUND_CAP, LARGE_FRAME,
};
pub use endpoint::{
    Admitted, Endpoint, Liveness, Peer, TransportError, CLOSE_DUPLICATE, CLOSE_PROTOCOL, CLOSE_REFUSED,
    CLOSE_DOWN, CLOSE_SHUTDOWN, DEFAULT_HANDSHAKE_TIMEOUT,
};
pub use limits::{
    LimitCounters, PeerLimits, DEFAULT_FRAME_DEADLINE, DEFAULT_HANDSHAKES_IN_FLIGHT,
    DEFAULT_PEER_MONITORS, DEFAULT_SERVED_ASKS, DEFAULT_UNFINISHED_FRAME_BYTES, DEFAULT_UNVALIDATED_HANDSHAKES,
};
pub use peers::{default_redial, Lost, Offer, PeerTable, Redial, Timer};
pub use pending::{lane_for, PendingAsks};
pub use tls::{
    role_of, server_name, ClusterCa, NodeIdentity, PeerRole, Security, TlsError, Trust, ALPN,
    CLIENT_UNIT,
};
pub(crate) use tls::CLUSTER_DIFFERS;
