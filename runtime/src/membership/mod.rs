//! Who is in the cluster and alive: the SWIM membership machine (sans-IO,
//! over `foca`) and its driver, which runs it over the nodes' connections
//! and tells what it decides as [`MemberEvent`]s; the split-brain resolver
//! (sans-IO too), which decides which side of a partition goes on.

mod handle;
mod link;
mod members;
mod machine;
mod resolver;
pub mod vet;

pub use handle::Membership;
pub(crate) use members::Members;
pub use machine::{MemberEvent, MemberId, MembershipMachine, MembershipConfig};
pub use resolver::{survives, Counted, Resolver, SplitBrain, Strategy, Verdict, WhenUnstable};
