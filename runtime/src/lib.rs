//! # arbour
//!
//! An actor-model distributed runtime for Rust: ordinary `actix` actors,
//! reachable through [`ActorRef`]s on this node or another one (QUIC with
//! mutual TLS), kept alive by Erlang/OTP-style supervisor trees, on a
//! [`Node`] that owns its worker threads and shuts down as a unit.
//!
//! ## Quick start
//!
//! ```
//! use actix::prelude::*;
//! use arbour::{ChildSpec, Node, SupervisorSpec};
//!
//! struct Counter(u64);
//! impl Actor for Counter { type Context = Context<Self>; }
//!
//! #[derive(Message)]
//! #[rtype(result = "u64")]
//! struct Add(u64);
//! impl Handler<Add> for Counter {
//!     type Result = u64;
//!     fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 {
//!         self.0 += n;
//!         self.0
//!     }
//! }
//!
//! fn main() -> Result<(), arbour::NodeError> {
//!     // a node on its own worker threads, until this future ends (or SIGINT)
//!     Node::builder("alpha").run(|node| async move {
//!         // a supervisor with one permanent child, restarted if it crashes
//!         let sup = SupervisorSpec::one_for_one()
//!             .child(ChildSpec::worker("counter", || Counter(0)))
//!             .start(&node)
//!             .await
//!             .expect("supervisor starts");
//!         let counter = sup.child::<Counter>("counter").expect("child ref");
//!         counter.tell(Add(2)); // fire-and-forget
//!         assert_eq!(counter.ask(Add(3)).await, Ok(5)); // request/response
//!     })?;
//!     Ok(())
//! }
//! ```

//!
//! ## Across nodes
//!
//! - A remote message is declared once: [`#[arbour::message(tag = "…",
//!   reply = T)]`](message).
//! - A service's messages are declared once, in a crate its clients and its
//!   server share: [`protocol!`]. A client holds a [`Remote<P>`] and can send
//!   only those messages; the server says [`serves!`], and must handle all
//!   of them (both checked at compile time). See the `arbour-echo` example:
//!   two binaries that share only such a crate.
//! - A node started with [`NodeBuilder::secret`] (or certificate files)
//!   listens on QUIC with mutual TLS: [`Node::expose`] names an actor,
//!   [`Node::lookup`] finds one on another node. A node that refuses us says
//!   why ([`NodeError::Refused`], [`Misconfiguration`]).
//! - Watching: [`ActorRef::monitor`], [`ActorRef::exited`],
//!   [`ActorRef::exits`] (every exit of a supervised child).
//!
//! ## As a cluster
//!
//! - Membership: [`NodeBuilder::seed_node`] joins a SWIM cluster over the
//!   nodes' own connections; [`Node::members`], [`Node::member_events`]
//!   ([`MemberEvent`]); tuning in [`MembershipConfig`].
//! - Names and process groups on every node: [`Node::cluster`]
//!   ([`GlobalRegistry`], [`RegistryEvent`]).
//! - Remote spawn: [`Kind`], [`Node::kind`], [`Node::spawn_kind`]
//!   ([`Placement`], [`SpawnError`]).
//! - Supervisors with children on other nodes: [`ChildSpec::remote`].

/// Declares a module that is part of the user API only with the
/// `internals` feature (for the simulator, the tests, the benchmarks and
/// the fuzzer; not a stable API), and crate-private otherwise (tokio's
/// `cfg_test_util!` pattern).
macro_rules! internal_mod {
    ($(#[$meta:meta])* $name:ident) => {
        #[cfg(feature = "internals")]
        $(#[$meta])*
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        $(#[$meta])*
        #[allow(dead_code, unused_imports, unreachable_pub)]
        pub(crate) mod $name;
    };
}

pub use arbour_macros::message;

/// What the macros expand to refers to (not an API).
#[doc(hidden)]
pub mod __private {
    pub use actix;
    pub use serde;
}

pub mod actor;
pub mod monitor;
pub mod node;
pub mod registry;
pub mod supervision;
pub mod tls;

internal_mod!(
    /// Cluster membership: the SWIM machine and its driver.
    cluster
);
internal_mod!(
    /// Talking to other nodes above the transport: connections, sessions,
    /// what arrives, the control-message router.
    remote
);
internal_mod!(
    /// Remote spawn: kinds, placement, the spawn client and server.
    spawn
);
internal_mod!(
    /// The node's view of the outside world (clock, RNG, workers, sockets).
    platform
);
internal_mod!(
    /// Talking to other nodes: TLS, the QUIC endpoint, connections, lanes.
    transport
);
internal_mod!(
    /// What crosses the network: frames, envelopes, control messages.
    wire
);

pub use actor::Stats;
pub use actor::{
    Accepts, ActorId, ActorRef, Ask, AskError, ContextExt, ExitReason, Host, MessageTable, NodeId,
    Protocol, Remote, RemoteActor, RemoteMessage, Service, SpawnOptions, StartError, StatsSnapshot,
    TellError,
};
pub use actor::{Kind, Placement, WorkerPlacement};
pub use cluster::{MemberEvent, MemberId, MembershipConfig};
pub use monitor::{Down, Exits, Monitor};
pub use node::{NetStats, Node, NodeBuilder, NodeError, NodeStatus, Security};
pub use platform::{termination, WorkersError};
pub use registry::{GlobalRegistry, Registry, RegistryError, RegistryEvent};
pub use remote::Misconfiguration;
pub use spawn::{SpawnError, SPAWN_TIMEOUT};
pub use supervision::{
    AutoShutdown, Backoff, ChildCounts, ChildInfo, ChildSelector, ChildShutdown, ChildSpec,
    ChildSpecInfo, ChildStatus, ChildType, RemoteChild, Restart, Strategy, SupervisorError,
    SupervisorRef, SupervisorSpec,
};
pub use transport::{PeerLimits, TlsError, TransportError};
