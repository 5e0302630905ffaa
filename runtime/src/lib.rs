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
//!   why ([`NodeError::Refused`], [`net::Misconfiguration`]).
//! - Watching: [`ActorRef::monitor`], [`ActorRef::exited`],
//!   [`ActorRef::exits`] (every exit of a supervised child);
//!   [`ActorRef::recipient`] turns any ref into the actix `Recipient`
//!   that monitors and event subscriptions deliver to.
//!
//! ## As a cluster
//!
//! - Membership: [`NodeBuilder::seed_node`] joins a SWIM cluster over the
//!   nodes' own connections; [`Node::membership`]
//!   ([`cluster::Membership`], [`cluster::MemberEvent`]); tuning in
//!   [`cluster::MembershipConfig`].
//! - Names and process groups on every node: [`Node::global`]
//!   ([`cluster::GlobalRegistry`], [`cluster::RegistryEvent`]).
//! - Remote spawn: [`cluster::Kind`], [`Node::kind`], [`Node::spawn_kind`]
//!   ([`cluster::Placement`], [`cluster::SpawnError`]).
//! - Supervisors with children on other nodes: [`ChildSpec::remote`].
//!
//! ## Where things are
//!
//! Every item has one path: everyday ones at the crate root, the rest in
//! [`cluster`], [`net`] and [`supervision`]. The crate's rooms (see
//! ARCHITECTURE.md) are public only with the `internals` feature, for the
//! simulator, the tests, the benchmarks and the fuzzer: not a stable API.

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

/// Declares a method that is public only with the `internals` feature, and
/// crate-private otherwise (what the simulator and the tests reach into).
macro_rules! internal_fn {
    ($(#[$meta:meta])* fn $name:ident $($rest:tt)*) => {
        #[cfg(feature = "internals")]
        $(#[$meta])*
        pub fn $name $($rest)*
        #[cfg(not(feature = "internals"))]
        $(#[$meta])*
        #[allow(dead_code)]
        pub(crate) fn $name $($rest)*
    };
    ($(#[$meta:meta])* async fn $name:ident $($rest:tt)*) => {
        #[cfg(feature = "internals")]
        $(#[$meta])*
        pub async fn $name $($rest)*
        #[cfg(not(feature = "internals"))]
        $(#[$meta])*
        #[allow(dead_code)]
        pub(crate) async fn $name $($rest)*
    };
}

pub use arbour_macros::message;

/// What the macros expand to refers to (not an API).
#[doc(hidden)]
pub mod __private {
    pub use actix;
    pub use serde;
}

internal_mod!(
    /// Actors, their ids, refs, hosts, remote messages and watches.
    actor
);
internal_mod!(
    /// Monitors and `Down`, and the monitors across a peer connection.
    monitor
);
internal_mod!(
    /// The `Node` handle, its builder and the wiring of its rooms.
    node
);
internal_mod!(
    /// Local names, and the cluster-wide registry (machine, driver, handle).
    registry
);
pub mod supervision;
internal_mod!(
    /// Cluster membership: the SWIM machine, its driver, the user handle.
    membership
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
    /// Cluster singletons: one instance on the oldest candidate, handed
    /// over when it leaves or goes down.
    singleton
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

/// The cluster: who is in it ([`Membership`](cluster::Membership), from
/// [`Node::membership`]), names and process groups every node sees
/// ([`GlobalRegistry`](cluster::GlobalRegistry), from [`Node::global`]),
/// actor kinds started on any node ([`Node::kind`], [`Node::spawn_kind`]),
/// singletons ([`Singleton`](cluster::Singleton)), and how one node sees it all ([`Node::status_of`]).
pub mod cluster {
    pub use crate::actor::HANDOVER_MARGIN;
    pub use crate::membership::{
        MemberEvent, MemberId, Membership, MembershipConfig, SplitBrain, Strategy, WhenUnstable,
    };
    pub use crate::node::{NodeStatus, SpawnKind, DEFAULT_DRAIN_TIMEOUT};
    pub use crate::registry::{GlobalRegistry, RegistryEvent};
    pub use crate::singleton::{Singleton, SingletonRef};
    pub use crate::spawn::{Kind, Placement, SpawnError, SPAWN_TIMEOUT};
}

/// The network: a node's own ([`Net`](net::Net), from [`Node::net`]: its
/// address, dialing, the peers connected, the counters), how a node proves it belongs ([`Security`](net::Security),
/// mutual TLS from a cluster secret or certificate files), the bounds peers
/// are held to ([`PeerLimits`](net::PeerLimits)), the network's counters
/// ([`NetStats`](net::NetStats)), and why a peer could not be joined
/// ([`Misconfiguration`](net::Misconfiguration)).
pub mod net {
    pub use crate::node::Net;
    pub use crate::remote::{Misconfiguration, NetStats};
    pub use crate::transport::{
        role_of, server_name, ClusterCa, NodeIdentity, PeerLimits, PeerRole, Security, TlsError,
        TransportError, Trust, ALPN, CLIENT_UNIT,
    };
}

pub use actor::watch::Monitor;
pub use actor::{
    Accepts, ActorId, ActorRef, Ask, AskError, AskFuture, ContextExt, DispatchError, ExitReason,
    MessageTable, NodeId, Protocol, Remote, RemoteActor, RemoteMessage, Service, SpawnOptions,
    StartError, StatsSnapshot, TellError, WorkerPlacement, DEFAULT_ASK_TIMEOUT, DEFAULT_MAILBOX,
};
pub use monitor::{Down, Exits};
pub use node::{Node, NodeBuilder, NodeError};
pub use platform::{termination, WorkersError};
pub use registry::{Registry, RegistryError};
pub use supervision::handle::SupervisorRef;
pub use supervision::spec::{ChildSpec, Restart, Strategy, SupervisorError, SupervisorSpec};
