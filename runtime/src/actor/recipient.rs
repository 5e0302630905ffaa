//! An [`ActorRef`] as an actix [`Recipient`]: for the APIs that deliver
//! notifications to a `Recipient` (monitors' `Down`, membership and
//! registry events), so an actor known only by its ref, local or remote,
//! supervised or not, can receive them.

use super::ActorRef;
use actix::dev::channel::channel;
use actix::{Actor, Addr, Context, Handler, Message, Recipient};
use std::marker::PhantomData;

/// Forwards each message it gets to its ref (told, not asked).
struct Forward<A: Actor<Context = Context<A>>, M> {
    to: ActorRef<A>,
    _m: PhantomData<fn(M)>,
}

impl<A, M> Actor for Forward<A, M>
where
    A: Actor<Context = Context<A>>,
    M: 'static,
{
    type Context = Context<Self>;
}

impl<A, M> Handler<M> for Forward<A, M>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message<Result = ()> + Send + 'static,
{
    type Result = ();
    fn handle(&mut self, msg: M, _: &mut Context<Self>) {
        self.to.tell(msg);
    }
}

impl<A: Actor<Context = Context<A>>> ActorRef<A> {
    /// This ref as an actix `Recipient` of `M`: what is sent to it is told
    /// to this ref (so it follows a supervised child through its restarts,
    /// and reaches a remote actor over the wire). For notifications (`M`
    /// answers `()`), such as [`Down`](crate::Down) for
    /// [`ActorRef::monitor`], [`MemberEvent`](crate::cluster::MemberEvent) or
    /// [`RegistryEvent`](crate::cluster::RegistryEvent).
    ///
    /// A small forwarding actor on this thread's worker does it, for as
    /// long as the `Recipient` (or a clone of it) exists. Call it on a
    /// node's worker (inside an actor, or a task of the node).
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
    /// let watcher = node.spawn(Watcher);
    /// let _monitor = worker.monitor(watcher.recipient());
    /// # }).unwrap();
    /// ```
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message<Result = ()> + Send + 'static,
    {
        let (tx, rx) = channel(super::DEFAULT_MAILBOX);
        let ctx: Context<Forward<A, M>> = Context::with_receiver(rx);
        let forward = Forward {
            to: self.clone(),
            _m: PhantomData,
        };
        drop(crate::platform::spawn_local(ctx.into_future(forward)));
        Addr::new(tx).recipient()
    }
}
