//! Identities of nodes and actors, designed for the remote case: an id names
//! its node and that node's incarnation, so a ref to a node's previous life is
//! recognisably dead.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A node: its configured name and the incarnation of this run of it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId {
    /// The node's name (unique in the cluster).
    pub name: Arc<str>,
    /// Distinguishes successive runs of the same named node.
    pub incarnation: u64,
}

impl NodeId {
    /// A node id from a name and an incarnation.
    pub fn new(name: impl Into<Arc<str>>, incarnation: u64) -> Self {
        Self {
            name: name.into(),
            incarnation,
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.incarnation)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An actor, cluster-wide: its node and a number unique within that node's
/// incarnation. A supervised child keeps its id across restarts (the id names
/// the child's slot, which the supervisor refills).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActorId {
    /// The node the actor lives on.
    pub node: NodeId,
    /// Unique per node incarnation; never reused.
    pub local: u64,
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}>", self.node, self.local)
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_identity() {
        let a = ActorId {
            node: NodeId::new("alpha", 3),
            local: 17,
        };
        assert_eq!(a.to_string(), "<alpha#3.17>");
        let older = ActorId {
            node: NodeId::new("alpha", 2),
            local: 17,
        };
        assert_ne!(
            a, older,
            "a ref to an older incarnation is a different actor"
        );
    }
}
