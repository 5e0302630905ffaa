//! Erlang/OTP supervision trees.
//!
//! [`SupervisorSpec`] describes a supervisor (strategy, intensity, period,
//! auto-shutdown, optional backoff) and its [`ChildSpec`]s; `start` runs it and
//! returns a [`SupervisorRef`] with OTP's runtime API. The decisions are made
//! by the pure [`decision::Core`]; the [`SupervisorActor`] actor carries them out.

pub mod decision;
mod directory;
mod handle;
mod remote_child;
pub(crate) mod slots;
mod spec;
mod supervisor;

pub use decision::ChildStatus;
pub use handle::SupervisorRef;
pub use remote_child::RemoteChild;
pub use spec::{
    AutoShutdown, Backoff, ChildShutdown, ChildSpec, ChildType, Restart, Strategy, SupervisorError,
    SupervisorSpec, DEFAULT_WORKER_SHUTDOWN,
};
pub use supervisor::{ChildCounts, ChildInfo, ChildSelector, ChildSpecInfo, SupervisorActor};
