//! [`Net`]: a node's network as its user sees it (its address, dialing a
//! peer, who is connected, the counters), from [`Node::net`].

use super::wiring::Services;
use super::{Node, NodeError};
use crate::actor::{Host, NodeId};
use crate::platform;
use crate::remote::{Misconfiguration, NetStats};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A node's network, from [`Node::net`]. Cheap to clone; a handle taken
/// before the node shut down answers as a shut-down node does.
#[derive(Clone, Debug)]
pub struct Net {
    host: Host,
    services: Result<Arc<Services>, Unavailable>,
}

/// Why a node has no network to use.
#[derive(Clone, Copy, Debug)]
enum Unavailable {
    ShutDown,
    NoNetwork,
}

impl Node {
    /// The node's network: its listen address, dialing a peer, the peers
    /// connected now and the network's counters.
    pub fn net(&self) -> Net {
        let services = match self.inner.net.load_full() {
            Some(s) => Ok(s),
            None if self.inner.networked => Err(Unavailable::ShutDown),
            None => Err(Unavailable::NoNetwork),
        };
        Net {
            host: self.inner.host.clone(),
            services,
        }
    }
}

impl Net {
    fn services(&self) -> Result<&Arc<Services>, NodeError> {
        self.services.as_ref().map_err(|u| match u {
            Unavailable::ShutDown => NodeError::ShutDown,
            Unavailable::NoNetwork => NodeError::NoNetwork,
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        Ok(self.services()?.net.endpoint.local_addr()?)
    }

    /// Dials node `node` at `addr` and waits for the handshake. The address
    /// is remembered: a lost connection is redialed with backoff. A node
    /// that refuses us (another secret, CA, cluster name or protocol
    /// version) is [`NodeError::Refused`], saying which.
    pub async fn connect(&self, node: &str, addr: SocketAddr) -> Result<(), NodeError> {
        let net = &self.services()?.net;
        net.remember(node, addr);
        match self.host.in_node(net.dial(node, addr)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match Misconfiguration::of(&e) {
                Some(cause) => NodeError::Refused {
                    node: node.to_owned(),
                    cause,
                },
                None => NodeError::Transport(e),
            }),
        }
    }

    /// What this node keeps per peer it heard of: sessions, remembered
    /// addresses, entries of the dial table (connected or redialing). A
    /// member forgotten by membership, or declared down without ever being
    /// reached, leaves all three.
    pub fn peers_held(&self) -> (usize, usize, usize) {
        self.services
            .as_ref()
            .map(|s| s.net.peers_held())
            .unwrap_or_default()
    }

    /// The peer nodes connected now.
    pub fn peers(&self) -> Vec<NodeId> {
        self.services
            .as_ref()
            .map(|s| s.net.connected())
            .unwrap_or_default()
    }

    /// Waits until `node` is connected, up to `timeout`; false if it is not.
    pub async fn wait_for(&self, node: &str, timeout: Duration) -> bool {
        let Ok(services) = self.services() else {
            return false;
        };
        let net = &services.net;
        let link = net.link_named(node);
        net.connected_to(&link, platform::deadline(timeout))
            .await
            .is_ok()
    }

    /// The network's counters (all zero without a network).
    pub fn stats(&self) -> NetStats {
        self.services
            .as_ref()
            .map(|s| {
                let (refused, dropped, doubted) =
                    s.members.as_ref().map_or((0, 0, 0), |m| m.vetted());
                let (spawns_refused, peer_spawned_running) = s.spawner.quota_counts();
                NetStats {
                    registry_refused: s.replica.refused(),
                    registry_replica_entries: s.replica.replica_entries(),
                    spawns_refused,
                    peer_spawned_running,
                    membership_malformed: s.members.as_ref().map_or(0, |m| m.malformed()),
                    membership_refused: refused,
                    membership_updates_dropped: dropped,
                    membership_downs_doubted: doubted,
                    ..s.net.stats()
                }
            })
            .unwrap_or_default()
    }
}
