//! Talking to other nodes (DESIGN.md §5). For now: the TLS identities and
//! configurations every connection uses; the quinn endpoint, peer
//! connections and lanes build on them.

mod tls;

pub use tls::{server_name, ClusterCa, NodeIdentity, TlsError};
