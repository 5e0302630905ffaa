//! Bugs a test may plant, to show that the simulator finds them (it must
//! be able to fail). Off unless a test turns one on; nothing else reads
//! them.

use std::sync::atomic::AtomicBool;

/// The registry keeps the names and group members of a node that went
/// down or left (the bug: `owner_gone` and `owner_disconnected` forget
/// to drop them).
pub static KEEP_NAMES_OF_GONE_NODES: AtomicBool = AtomicBool::new(false);
