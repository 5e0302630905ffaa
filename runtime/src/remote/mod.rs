//! Talking to other nodes, above the transport: one [`Network`] per node
//! (connections to peers: dial, accept, redial, leave), one [`Session`]
//! per peer node (asks, monitors across it, what is sent to it), what
//! arrives on a connection (envelopes handed to local actors, replies,
//! control messages), and the [`Router`] that hands each control message to
//! the service that registered its tag.
//!
//! This room knows no service above it: membership, the registry, spawning
//! and the node's status register their control tags with the router, and
//! learn of peers coming and going from [`PeerEvent`]s, which `node` routes.

mod exposed;
mod inbound;
mod misconfig;
mod network;
mod router;

pub use misconfig::Misconfiguration;
pub use network::NetStats;

pub(crate) use inbound::{send_reply, Control};
pub(crate) use network::{
    MonitorsFor, Network, PeerEvent, Session, SessionMonitors, Tuning, Unreachable,
};
pub(crate) use exposed::Stopper;
pub(crate) use router::Caller;
