//! Monitors (Erlang's `monitor/2`): a one-shot [`Down`] when an actor's
//! current instance exits, for local and remote actors alike.
//!
//! Locally a monitor is a watcher on the instance's lifecycle. Across nodes
//! the monitoring node keeps the watcher (in its session's
//! [`PeerMonitors`](peer::PeerMonitors)) and sends the watched node a
//! `monitor` signal on the actor's data lane (so it is in place before
//! anything sent after it); the watched node's [`RemoteMonitors`] keeps a
//! watch on behalf of the peer (bounded per peer, one watch per watched
//! actor) and sends `down` back. A lost connection fires every monitor
//! across it with `NodeDown`, a peer's goodbye with `Shutdown`.

mod exits;
mod peer;
mod remote;

pub use exits::Exits;

pub(crate) use remote::RemoteMonitors;

pub use crate::actor::watch::Monitor;
use crate::actor::{ActorId, ActorRef, ExitReason};
use actix::{Actor, Context, Message, Recipient};

/// Sent to a monitoring actor when the monitored actor's instance exits.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct Down {
    /// The actor that exited.
    pub id: ActorId,
    /// Why it exited (`NoActor` if it was already gone when monitored).
    pub reason: ExitReason,
}

impl<A: Actor<Context = Context<A>>> ActorRef<A> {
    /// Sends [`Down`] to `to` when the current instance exits (immediately,
    /// with `NoActor`, if none is running). One notification per monitor:
    /// a monitor watches one instance, as Erlang's does. From a task rather
    /// than an actor, await [`ActorRef::exited`] instead; to follow a
    /// supervised child through its restarts, use [`ActorRef::exits`].
    ///
    /// ```
    /// # use actix::prelude::*;
    /// # struct Worker;
    /// # impl Actor for Worker { type Context = Context<Self>; }
    /// struct Watcher;
    /// impl Actor for Watcher { type Context = Context<Self>; }
    /// impl Handler<arbour::Down> for Watcher {
    ///     type Result = ();
    ///     fn handle(&mut self, down: arbour::Down, _: &mut Context<Self>) {
    ///         println!("{} exited: {}", down.id, down.reason);
    ///     }
    /// }
    /// # arbour::Node::builder("doc").workers(1).run(|node| async move {
    /// let worker = node.spawn(Worker);
    /// let _monitor = worker.monitor(Watcher.start().recipient());
    /// let exited = worker.exited(); // the same, as a future
    /// worker.stop();
    /// assert_eq!(exited.await, arbour::ExitReason::Shutdown);
    /// # }).unwrap();
    /// ```
    pub fn monitor(&self, to: Recipient<Down>) -> Monitor {
        let id = self.slot.id.clone();
        self.watch(Box::new(move |reason| {
            to.do_send(Down {
                id,
                reason: reason.clone(),
            })
        }))
    }
}
