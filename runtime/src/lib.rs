//! # arbour
//!
//! An actor-model distributed runtime for Rust: ordinary `actix` actors,
//! reachable through [`ActorRef`]s, kept alive by Erlang/OTP-style supervisor
//! trees.
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
//! # fn main() {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! tokio::task::LocalSet::new().block_on(&rt, async {
//!     let node = Node::builder("alpha").seed(7).build();
//!     // A supervisor with one permanent child, restarted if it crashes.
//!     let sup = SupervisorSpec::one_for_one()
//!         .child(ChildSpec::worker("counter", || Counter(0)))
//!         .start(&node)
//!         .await
//!         .expect("supervisor starts");
//!     let counter = sup.child::<Counter>("counter").expect("child ref");
//!     counter.tell(Add(2));
//!     assert_eq!(counter.ask(Add(3)).await, Ok(5));
//!     sup.shutdown().await;
//! });
//! # }
//! ```

pub mod actor;
pub mod monitor;
pub mod node;
pub mod platform;
pub mod registry;
pub mod supervision;
pub mod transport;
pub mod wire;

pub use actor::Stats;
pub use actor::{
    ActorId, ActorRef, Ask, AskError, ContextExt, ExitReason, Host, MessageTable, NodeId,
    RemoteActor, RemoteMessage, SpawnOptions, StartError, StatsSnapshot, TellError,
};
pub use monitor::{Down, Monitor};
pub use node::{init_logging, NetStats, Node, NodeBuilder, NodeError, Placement, Security};
pub use registry::{Registry, RegistryError};
pub use supervision::{
    AutoShutdown, Backoff, ChildCounts, ChildInfo, ChildKind, ChildShutdown, ChildSpec,
    ChildStatus, Restart, Strategy, SupervisorError, SupervisorRef, SupervisorSpec,
};
