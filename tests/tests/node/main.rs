//! A node's own runtime (workers, placement, shutdown) and the demo as a person runs it.
//!
//! (Tests that hold the whole process, its RSS or its log subscriber, stay in
//! binaries of their own: `hostile_logs`, `node_cycles`, `remote_burst`.)

mod demo;
mod runtime;
