//! Who is in the cluster and alive: the SWIM membership machine (sans-IO,
//! over `foca`) and its driver, which runs it over the nodes' connections
//! and tells what it decides as [`MemberEvent`]s.

mod handle;
mod members;
mod machine;

pub use handle::Membership;
pub(crate) use members::Members;
pub use machine::{MemberEvent, MemberId, MembershipMachine, MembershipConfig};
