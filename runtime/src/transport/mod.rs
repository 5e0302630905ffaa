//! Talking to other nodes (DESIGN.md §5): TLS identities, and the QUIC
//! endpoint with arbour's handshake. Lanes, envelopes and remote refs build
//! on these.

mod endpoint;
mod peers;
mod pending;
mod tls;

pub use endpoint::{Endpoint, Peer, TransportError, DEFAULT_HANDSHAKE_TIMEOUT};
pub use peers::{Offer, PeerTable, Redial};
pub use pending::{lane_for, PendingAsks};
pub use tls::{server_name, ClusterCa, NodeIdentity, TlsError};
