//! The cluster: who is in it and alive. (Membership so far; the registry,
//! remote spawn and supervisors across nodes build on it.)

mod membership;
mod registry;

pub use membership::{MemberEvent, MemberId, Membership, MembershipConfig};
pub use registry::{
    Applied, Change, ClusterRegistry, Published, Refused, Registration, RegistryEvent, Update,
    MAX_OWN_ENTRIES,
};
