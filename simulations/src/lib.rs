//! `arbour-sim`: deterministic, seeded runs of arbour in one process.
//!
//! Whole nodes of the real stack (quinn, TLS, SWIM, the registry,
//! supervisors, actors) run on one thread under paused tokio time, on
//! [`SimNet`], an in-memory datagram network with seeded latency, jitter,
//! loss, duplication, reordering, bandwidth caps and partitions.
//! [`SimCluster`] starts them (and restarts them as new lives);
//! [`SimDeployment`] runs a cluster file's nodes and deployments with an
//! `App`'s kinds; [`cluster_scenarios`] holds the built-in scenarios
//! (workload, fault plan, invariants) behind the `arbour-sim` CLI. Time,
//! randomness and threads come only through `arbour::platform` (the
//! determinism rule), so a seed replays the same [`Trace`]; a failing run
//! names its seed.

pub mod cluster;
pub mod cluster_scenarios;
pub mod deployment;
pub mod net;
pub mod scenarios;
mod trace;
pub mod wan;

pub use cluster::SimCluster;
pub use deployment::SimDeployment;
pub use net::{Counts, Faults, SimNet, SimSocket};
pub use trace::Trace;

use std::future::Future;
use std::time::Duration;

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

/// Asks `check` now and then every `every` of virtual time until it holds
/// (`Ok`) or `limit` has passed; its last answer. The scenarios' bounded
/// waits for a cluster to settle.
pub async fn eventually<T, E>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let answer = check();
        if answer.is_ok() || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(every).await;
    }
}
