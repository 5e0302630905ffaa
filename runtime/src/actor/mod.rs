//! Actors, their identities and the refs users hold to them.

pub(crate) mod actor_ref;
mod exit;
mod forward;
mod host;
mod id;
mod lifecycle;
mod placement;
mod protocol;
mod recipient;
mod remote;
mod remote_ref;
mod task;
pub(crate) mod watch;

pub use actor_ref::{
    ActorRef, Ask, AskError, AskFuture, TellError, DEFAULT_ASK_TIMEOUT, DEFAULT_MAILBOX,
};
pub use exit::{ContextExt, ExitReason};
pub use host::{Host, SpawnOptions, StartError, Stats, StatsSnapshot};
pub use id::{ActorId, NodeId};
pub use placement::{Kind, Placement, WorkerPlacement, HANDOVER_MARGIN};
pub use protocol::{Accepts, Protocol, Remote, Service};
pub use remote::{DispatchError, MessageTable, RemoteActor, RemoteMessage};

pub(crate) use actor_ref::Slot;
pub(crate) use forward::forward;
pub(crate) use host::{start_instance, Root, WeakHost};
pub(crate) use lifecycle::{ExitSink, LifeRef, Lifecycle, Watcher, WeakLife};
pub(crate) use placement::{
    run_on_io, run_placed, run_placed_async, Mover, RemoteSpawn, SpawnFuture, Spawned,
};
pub(crate) use remote_ref::{
    dead_ref, export, remote_ref, resolve_ref, with_context, Exported, Insist, Outbound,
    OutboundError, PayloadWriter, PendingReply, RefContext, RemoteReply,
};
pub(crate) use task::catch_actor_panic as catch_panic;
