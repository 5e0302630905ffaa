//! Erlang/OTP supervision trees: what a supervisor is told, and what it
//! tells.
//!
//! [`SupervisorSpec`] describes a supervisor
//! (strategy, intensity, period, auto-shutdown, optional [`Backoff`]) and
//! its [`ChildSpec`]s; `start` runs it and returns a
//! [`SupervisorRef`] with OTP's runtime API
//! (`which_children` gives [`ChildInfo`]s, `count_children`
//! [`ChildCounts`], ...). The everyday items are at the crate root; this
//! face holds the rest. The decisions are made by a pure core (`decision`);
//! the [`SupervisorActor`] carries them out.

#[cfg(feature = "internals")]
pub mod decision;
#[cfg(not(feature = "internals"))]
#[allow(dead_code)]
pub(crate) mod decision;
mod directory;
pub(crate) mod handle;
mod remote_child;
pub(crate) mod slots;
pub(crate) mod spec;
mod supervisor;

pub use decision::ChildStatus;
pub(crate) use handle::SupervisorRef;
#[cfg(feature = "internals")]
pub use remote_child::RemoteChild;
pub use spec::{AutoShutdown, Backoff, ChildShutdown, ChildType, DEFAULT_WORKER_SHUTDOWN};
pub(crate) use spec::{ChildSpec, SupervisorError, SupervisorSpec};
pub use supervisor::{ChildCounts, ChildInfo, ChildSelector, ChildSpecInfo, SupervisorActor};
