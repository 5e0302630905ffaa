//! Erlang/OTP supervision trees (DESIGN.md §4).
//!
//! [`SupervisorSpec`] describes a supervisor (strategy, intensity, period,
//! auto-shutdown, optional backoff) and its [`ChildSpec`]s; `start` runs it and
//! returns a [`SupervisorRef`] with OTP's runtime API. The decisions are made
//! by the pure [`core::Core`]; the [`Supervisor`] actor carries them out.

pub mod core;
mod directory;
mod handle;
mod slots;
mod spec;
mod supervisor;

pub use handle::SupervisorRef;
pub use spec::{
    AutoShutdown, Backoff, ChildKind, ChildSpec, Restart, Shutdown, Strategy, SupervisorError,
    SupervisorSpec, DEFAULT_WORKER_SHUTDOWN,
};
pub use supervisor::{ChildCounts, ChildInfo, Supervisor};
