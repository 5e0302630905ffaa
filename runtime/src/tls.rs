//! Certificates for mutual TLS between nodes: a cluster CA
//! that mints node certificates (what `arbour certs` writes), the set of CAs
//! a node trusts, and a node's own identity.

pub use crate::transport::{server_name, ClusterCa, NodeIdentity, TlsError, Trust, ALPN};
