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
