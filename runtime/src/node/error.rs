//! Why a node could not start, or one of its operations failed.

use crate::actor::{AskError, DispatchError};
use crate::platform;
use crate::registry::RegistryError;
use crate::remote::{Misconfiguration, Unreachable};
use crate::spawn::{SpawnError, SpawnFailure};
use crate::transport::{TlsError, TransportError};
use std::time::Duration;

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
    /// The node was built without a network ([`NodeBuilder::build`](crate::NodeBuilder::build)).
    #[error("this node has no network (start it with NodeBuilder::start)")]
    NoNetwork,
    /// The node was shut down (or crashed).
    #[error("the node is shut down")]
    ShutDown,
    /// The cluster declared this node down (it was paused, starved or cut
    /// off long enough for the others to give up on it): the node shut
    /// itself down, as a member the cluster holds down must. Start it
    /// again to rejoin as a new life (`arbour run` does so by itself).
    #[error(
        "the cluster declared this node down, so it shut down; start it again to \
         rejoin the cluster as a new life"
    )]
    Downed,
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
        "no connection to node {node} within {waited:?}: dial it with node.net().connect() \
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
    /// Starting an actor on another node ([`Node::spawn_kind`](crate::Node::spawn_kind)).
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The actor's message table is invalid (two messages share a tag).
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The node's workers could not start, or are stopped.
    #[error(transparent)]
    Workers(platform::WorkersError),
}

impl From<Unreachable> for NodeError {
    fn from(u: Unreachable) -> Self {
        match u {
            Unreachable::Refused { node, cause } => NodeError::Refused { node, cause },
            Unreachable::NotConnected { node, waited } => NodeError::NotConnected { node, waited },
        }
    }
}

impl From<SpawnFailure> for NodeError {
    fn from(f: SpawnFailure) -> Self {
        match f {
            SpawnFailure::ShutDown => NodeError::ShutDown,
            SpawnFailure::Spawn(e) => NodeError::Spawn(e),
            SpawnFailure::Unreachable(u) => u.into(),
            SpawnFailure::Ask(e) => NodeError::Ask(e),
            SpawnFailure::Dispatch(e) => NodeError::Dispatch(e),
        }
    }
}

impl From<platform::WorkersError> for NodeError {
    fn from(e: platform::WorkersError) -> Self {
        NodeError::Workers(e)
    }
}
