//! Talking to other nodes: refs, asks, monitors and exits across nodes, in one process and across processes, and peers that misbehave.
//!
//! (Tests that hold the whole process, its RSS or its log subscriber, stay in
//! binaries of their own: `hostile_logs`, `node_cycles`, `remote_burst`.)

mod hostile_peers;
mod in_process;
mod processes;
