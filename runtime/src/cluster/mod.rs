//! The cluster: who is in it and alive. (Membership so far; the registry,
//! remote spawn and supervisors across nodes build on it.)

mod membership;

pub use membership::{MemberEvent, MemberId, Membership, MembershipConfig};
