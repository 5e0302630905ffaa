//! `arbour-sim`: deterministic, seeded runs of arbour in one process.
//!
//! Today it runs one node's supervision trees under paused tokio time on one
//! thread, with faults chosen by the node's seeded RNG, and records an event
//! trace stamped with virtual time. The same seed gives the same trace (the
//! determinism rule: time, randomness and threads only through `platform`, checked by hashing two runs); a failing
//! run names its seed. [`SimCluster`] starts whole nodes (real QUIC and TLS)
//! on the simulated network ([`SimNet`]: seeded latency, jitter, loss,
//! duplication, reordering, bandwidth, cut and one-way links); the cluster
//! simulator grows from it.

pub mod cluster;
pub mod cluster_scenarios;
pub mod deployment;
pub mod net;
pub mod scenarios;
mod trace;

pub use cluster::SimCluster;
pub use deployment::SimDeployment;
pub use net::{Counts, Faults, SimNet, SimSocket};
pub use trace::Trace;

use std::future::Future;

/// Runs `f` on a fresh current-thread runtime with paused time, inside a
/// `LocalSet` (the simulator's shape: one thread, virtual time).
pub fn run_paused<Fut: Future>(f: impl FnOnce() -> Fut) -> Fut::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    tokio::task::LocalSet::new().block_on(&rt, f())
}
