//! The cluster's sans-IO machines: who is in it and alive (SWIM
//! membership), and the registry of names, process groups and kinds. The
//! node's drivers (`node::members`, `node::global`) run them over the
//! nodes' connections.

mod membership;
mod registry;

pub use membership::{MemberEvent, MemberId, Membership, MembershipConfig};
pub use registry::{
    Applied, Change, ClusterRegistry, Published, Refused, Registration, RegistryEvent, Update,
    MAX_OWN_ENTRIES,
};

/// Bugs a test may plant, to show that the simulator finds them (it must
/// be able to fail). Off unless a test turns one on; nothing else reads
/// them.
pub mod planted {
    use std::sync::atomic::AtomicBool;

    /// The registry keeps the names and group members of a node that went
    /// down or left (the bug: `owner_gone` and `owner_disconnected` forget
    /// to drop them).
    pub static KEEP_NAMES_OF_GONE_NODES: AtomicBool = AtomicBool::new(false);
}
