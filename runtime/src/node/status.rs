//! How one node sees the cluster, asked of any node ([`Node::status_of`]):
//! `arbour.status.v3` (v2 had no `left`; v1 named members by (name,
//! incarnation) pairs), answered by the node's wiring.

use super::{Node, NodeError};
use crate::actor::NodeId;
use crate::platform;
use crate::wire::Control;
use std::time::Duration;

/// How one node sees the cluster ([`Node::status_of`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeId,
    /// The members it sees alive (itself excluded).
    pub up: Vec<NodeId>,
    /// The members it remembers as declared down.
    pub down: Vec<NodeId>,
    /// The members it remembers as left (they said goodbye).
    pub left: Vec<NodeId>,
    /// Restarts its supervisors have made since it started.
    pub restarts: u64,
}

impl Node {
    /// Asks node `node` (connecting if need be, up to `timeout`) how it
    /// sees the cluster. Works from a node that is not a member (a status
    /// tool), with the cluster's credentials.
    pub async fn status_of(&self, node: &str, timeout: Duration) -> Result<NodeStatus, NodeError> {
        let services = self.services()?;
        let net = &services.net;
        let deadline = platform::deadline(timeout);
        let link = net.link_named(node);
        let conn = net.connected_for(&link, deadline, timeout).await?;
        let left = deadline.saturating_duration_since(platform::now());
        let (_, reply) = self
            .inner
            .host
            .in_node(link.control_ask(&conn, &Control::Status, left))
            .await?;
        crate::wire::decode(&reply)
            .map_err(|e| NodeError::Ask(crate::AskError::Decode(e.to_string())))
    }
}
