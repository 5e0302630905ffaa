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
//!
//! ## Where arbour differs from OTP, on purpose
//!
//! - A static child may be named by its ref as well as its id
//!   (`terminate_child(&child)`): an Erlang pid changes at every restart, so
//!   OTP names static children by id only; an arbour ref survives restarts.
//!   A `simple_one_for_one` supervisor's children are named by ref, as in
//!   OTP (an id is `WrongStrategy`), or by the `TEMPLATE-N` id arbour gives
//!   each.
//! - A start function returns the actor, or `ignore`
//!   (`ChildSpec::worker_or_ignore`, `ChildSpec::template_or_ignore`), or an
//!   error; OTP's third form, `{ok, Pid, Info}`, has no counterpart: what
//!   the caller wants to know of a new child is an ask of the ref it gets.
//! - A child cannot unlink from its supervisor (OTP's `child_unlink` case):
//!   arbour has no links to drop; the supervisor watches each instance's
//!   lifecycle, so it always sees the child's exit and waits for it within
//!   the child's shutdown.

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
pub use remote_child::{Adopt, Release};
pub use spec::{AutoShutdown, Backoff, ChildShutdown, ChildType, DEFAULT_WORKER_SHUTDOWN};
pub(crate) use spec::{ChildSpec, SupervisorError, SupervisorSpec};
pub use supervisor::{ChildCounts, ChildInfo, ChildSelector, ChildSpecInfo, SupervisorActor};
