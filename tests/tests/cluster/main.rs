//! Cluster behaviour: membership, the registry, supervisors with remote children, in one process; and whole clusters of node processes (loopback, `arbour up`, separate hosts in network namespaces).
//!
//! (Tests that hold the whole process, its RSS or its log subscriber, stay in
//! binaries of their own: `hostile_logs`, `node_cycles`, `remote_burst`.)

mod drain;
mod hosts;
mod membership;
mod partition;
mod paused;
mod processes;
mod rebalance;
mod registry;
mod rolling;
mod singleton;
mod singletons;
mod supervision;
mod up;
