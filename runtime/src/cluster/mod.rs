//! Who is in the cluster and alive: the SWIM membership machine (sans-IO,
//! over `foca`) and its driver, which runs it over the nodes' connections
//! and tells what it decides as [`MemberEvent`]s.

mod members;
mod membership;

pub(crate) use members::Members;
pub use membership::{MemberEvent, MemberId, Membership, MembershipConfig};
