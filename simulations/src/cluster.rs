//! Whole nodes on one thread, connected by the simulated network
//! ([`SimNet`]): real QUIC, TLS and arbour handshakes, but no OS socket and
//! no OS clock (quinn runs on tokio time, which the simulator pauses).
//! Every node's seed and incarnation, and the network's faults, come from
//! the cluster's seed.

use crate::net::{Faults, SimNet};
use arbour::platform::{NodeRng, TokioTimeRuntime};
use arbour::{Node, NodeError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The cluster name and secret every simulated node uses.
pub const CLUSTER: &str = "sim";
const SECRET: &str = "sim-secret";

/// A simulated network and the seed nodes are derived from.
#[derive(Debug)]
pub struct SimCluster {
    /// The network: faults, cut and heal links, record datagrams.
    pub net: SimNet,
    rng: NodeRng,
    next_host: u8,
    /// Each node name's address and its last life.
    lives: std::collections::BTreeMap<String, (SocketAddr, u64)>,
}

impl SimCluster {
    /// A clean network with one-way `latency`; node seeds come from
    /// `seed`.
    pub fn new(seed: u64, latency: Duration) -> Self {
        Self::with_faults(seed, Faults::latency(latency))
    }

    /// A network whose links have `faults`; node seeds and the faults'
    /// randomness come from `seed`.
    pub fn with_faults(seed: u64, faults: Faults) -> Self {
        Self {
            net: SimNet::new(seed, faults),
            rng: NodeRng::from_seed(seed),
            next_host: 1,
            lives: Default::default(),
        }
    }

    /// Starts node `name` at the next address (`10.0.0.N:7000`). Call inside
    /// the simulator's `LocalSet` (see [`run_paused`](crate::run_paused)).
    pub async fn start(&mut self, name: &str) -> Result<(Node, SocketAddr), NodeError> {
        self.start_with(name, |b| b).await
    }

    /// [`SimCluster::start`], with membership (SWIM): joining through
    /// `seed` (a node started before, by name and address), or founding
    /// the cluster with none.
    pub async fn start_member(
        &mut self,
        name: &str,
        seed: Option<(&str, SocketAddr)>,
    ) -> Result<(Node, SocketAddr), NodeError> {
        let seed = seed.map(|(n, a)| (n.to_owned(), a));
        self.start_with(name, move |b| {
            let b = b.membership(arbour::cluster::MembershipConfig::default());
            match seed {
                Some((n, a)) => b.seed_node(n, a),
                None => b,
            }
        })
        .await
    }

    /// [`SimCluster::start`], with `configure` applied to the node's builder.
    /// A name started before gets its old address and a newer life.
    pub async fn start_with(
        &mut self,
        name: &str,
        configure: impl FnOnce(arbour::NodeBuilder) -> arbour::NodeBuilder,
    ) -> Result<(Node, SocketAddr), NodeError> {
        self.start_at(name, None, configure).await
    }

    /// [`SimCluster::start_with`], at `addr` if given (a cluster file's
    /// `listen`) the first time `name` starts.
    pub async fn start_at(
        &mut self,
        name: &str,
        addr: Option<SocketAddr>,
        configure: impl FnOnce(arbour::NodeBuilder) -> arbour::NodeBuilder,
    ) -> Result<(Node, SocketAddr), NodeError> {
        let seed = self.rng.derive(name).next_u64();
        let (addr, incarnation) = match (self.lives.get(name), addr) {
            (Some((addr, last)), _) => (*addr, last + 1),
            (None, Some(addr)) => (addr, 1 + seed % 1_000_000),
            (None, None) => {
                let addr = SocketAddr::from(([10, 0, 0, self.next_host], 7000));
                self.next_host = self.next_host.wrapping_add(1);
                (addr, 1 + seed % 1_000_000)
            }
        };
        self.lives.insert(name.to_owned(), (addr, incarnation));
        let socket = self
            .net
            .bind(addr)
            .map_err(|e| NodeError::Config(format!("simulated socket {addr}: {e}")))?;
        let builder = Node::builder(name)
            .cluster_name(CLUSTER)
            .secret(SECRET)
            .rng_seed(seed ^ incarnation)
            .incarnation(incarnation)
            .socket(socket, Arc::new(TokioTimeRuntime));
        let node = configure(builder).start().await?;
        Ok((node, addr))
    }

    /// The address node `name` was started at.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.lives.get(name).map(|(a, _)| *a)
    }
}
