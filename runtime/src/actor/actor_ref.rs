//! `ActorRef<A>`: the one handle users hold to an actor.
//!
//! A ref points at a *slot*; the slot holds the current instance (its mailbox
//! sender and lifecycle). A supervisor refills the slot when it restarts the
//! child, so a ref stays valid across restarts, and a local tell costs one
//! atomic load plus actix's enqueue.
//!
//! # Full mailboxes
//!
//! A mailbox has a capacity (default [`DEFAULT_MAILBOX`] messages). It is
//! the point at which senders that *can* wait or take a message back are
//! told so; a plain tell is queued anyway, as Erlang's `!`, Akka's `tell`
//! and actix's `do_send` queue it:
//! - [`ActorRef::tell`] queues the message and never blocks. To a remote
//!   actor it is queued on the connection up to the node's outbound cap
//!   ([`NodeBuilder::outbound_cap`](crate::NodeBuilder::outbound_cap), 64 MiB
//!   by default); only past that cap is it dropped, logged and counted
//!   ([`StatsSnapshot::outbound_drops`](crate::StatsSnapshot));
//! - [`ActorRef::try_tell`] hands the message back in [`TellError::MailboxFull`]
//!   when the mailbox (or, remotely, the recipient's lane) is at capacity;
//! - [`ActorRef::tell_when_room`] waits (asynchronously) until there is room;
//! - [`ActorRef::ask`] fails with [`AskError::MailboxFull`], or with
//!   [`Ask::wait_if_full`] waits for room within the ask's timeout.

use super::host::Stats;
use super::lifecycle::{HasLife, LifeRef, Lifecycle};
use super::remote_ref::RemoteReply;
use super::remote_ref::{Insist, Outbound, RemotePart};
use super::{ActorId, ExitReason, NodeId};
use actix::dev::channel::AddressSender;
use actix::dev::SendError;
use actix::{Actor, Context, Handler, Message};
use arc_swap::ArcSwapOption;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// Mailbox capacity used when none is given.
pub const DEFAULT_MAILBOX: usize = 1024;

/// How long an ask waits for its reply unless told otherwise (Erlang's
/// `gen_server:call` default).
pub const DEFAULT_ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// A running actor instance: where to send, and its life (one allocation).
pub(crate) struct Instance<A: Actor> {
    pub(crate) tx: AddressSender<A>,
    /// Whether the mailbox has a capacity (else tells skip actix's
    /// capacity check, which costs ~45 instructions a message).
    pub(crate) bounded: bool,
    pub(crate) life: Lifecycle,
    /// Set once a message whose handler runs a future beside the actor
    /// was sent to it: its task then polls what it spawns (see
    /// `platform::capture`), so a panic there is the actor's.
    pub(crate) captures: AtomicBool,
}

/// Whether a handler that returns `R` has actix run a future beside the
/// actor, as a task of its own: a `ResponseFuture` (`Pin<Box<dyn
/// Future>>`) or `Response::fut`. (`ResponseActFuture`, `ActorResponse`
/// and `AtomicResponse` run inside the actor's own context.) Decided from
/// the type's name, a constant per handler; a unit test holds the names.
#[inline]
pub(crate) fn spawns_beside<R>() -> bool {
    // both forms hold a boxed future (a fat pointer): smaller results,
    // most of them, are told apart at compile time, with no name compared
    let boxed = std::mem::size_of::<Pin<Box<dyn Future<Output = ()>>>>();
    if std::mem::size_of::<R>() < boxed {
        return false;
    }
    let name = std::any::type_name::<R>();
    name.starts_with("core::pin::Pin<alloc::boxed::Box<dyn core::future::future::Future")
        || name.starts_with("actix::handler::Response<")
}

impl<A: Actor<Context = Context<A>>> Instance<A> {
    /// Notes, before `M` is queued, whether its handler runs a future
    /// beside the actor ([`spawns_beside`]).
    #[inline]
    pub(crate) fn note<M>(&self)
    where
        A: Handler<M>,
        M: Message,
    {
        if spawns_beside::<<A as Handler<M>>::Result>() && !self.captures.load(Ordering::Relaxed) {
            self.captures.store(true, Ordering::Relaxed);
        }
    }

    /// Queues `msg` if the mailbox is under its capacity.
    #[inline]
    fn try_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        self.note::<M>();
        if self.bounded {
            self.tx.try_send(msg, true)
        } else {
            self.tx.do_send(msg)
        }
    }
}

impl<A: Actor> HasLife for Instance<A> {
    fn life(&self) -> &Lifecycle {
        &self.life
    }
}

impl<A: Actor> Instance<A> {
    /// This instance as a type-erased lifecycle handle.
    pub(crate) fn life_ref(self: &Arc<Self>) -> LifeRef {
        LifeRef::new(self.clone())
    }
}

/// The stable target of refs: the supervisor refills `current` on restart.
pub(crate) struct Slot<A: Actor> {
    pub(crate) id: ActorId,
    pub(crate) current: ArcSwapOption<Instance<A>>,
    closed: AtomicBool,
    pub(crate) stats: Arc<Stats>,
    /// Set for a ref to an actor on another node; `current` then stays
    /// empty, so the local path pays one branch for it only when it would
    /// have failed anyway.
    pub(crate) remote: Option<Box<RemotePart<A>>>,
    /// Bumped when an instance is put in or the slot closes, for
    /// [`ActorRef::exits`] (made on its first use: most slots never need it;
    /// last, off the send path's cache line).
    pub(crate) changes: std::sync::OnceLock<tokio::sync::watch::Sender<u64>>,
}

impl<A: Actor> Slot<A> {
    pub(crate) fn new(id: ActorId, stats: Arc<Stats>) -> Self {
        Self {
            id,
            current: ArcSwapOption::empty(),
            closed: AtomicBool::new(false),
            changes: std::sync::OnceLock::new(),
            stats,
            remote: None,
        }
    }

    /// The slot of a remote actor.
    pub(crate) fn remote(id: ActorId, stats: Arc<Stats>, part: RemotePart<A>) -> Self {
        Self {
            remote: Some(Box::new(part)),
            ..Self::new(id, stats)
        }
    }

    /// Puts `inst` (or nothing) in the slot.
    pub(crate) fn set(&self, inst: Option<Arc<Instance<A>>>) {
        let fresh = inst.is_some();
        self.current.store(inst);
        if fresh {
            self.changed();
        }
    }

    fn changed(&self) {
        if let Some(tx) = self.changes.get() {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// No instance will ever be put here again (the child was removed, or an
    /// unsupervised actor exited).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.set(None);
        self.changed();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Wakes `waker` when a full mailbox (or a remote actor's lane) may have
    /// room again; at once if nothing runs behind the slot.
    pub(crate) fn want_room(&self, waker: &std::task::Waker) {
        if let Some(remote) = &self.remote {
            return remote.link.want_room(&self.id, waker);
        }
        match self.current.load().as_ref() {
            Some(inst) => inst.life.want_room(waker),
            None => waker.wake_by_ref(),
        }
    }
}

fn tell_outcome<M>(sent: Result<(), SendError<M>>) -> Result<(), TellError<M>> {
    match sent {
        Ok(()) => Ok(()),
        Err(SendError::Full(m)) => Err(TellError::MailboxFull(m)),
        Err(SendError::Closed(m)) => Err(TellError::ActorGone(m)),
    }
}

/// A tell that was not delivered; the message comes back.
#[derive(Debug, thiserror::Error)]
pub enum TellError<M> {
    /// The mailbox is at capacity.
    #[error("mailbox full")]
    MailboxFull(M),
    /// No instance is running behind the ref.
    #[error("actor is gone")]
    ActorGone(M),
    /// The actor's node is not connected (remote refs).
    #[error("the actor's node is down or unreachable")]
    NodeDown(M),
    /// The message cannot go on the wire (remote refs): the actor does not
    /// declare its type in [`RemoteActor`](crate::RemoteActor), or it does
    /// not encode, or it is over the frame limit.
    #[error("cannot send to a remote actor: {1}")]
    Encode(M, String),
}

/// Why an ask got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// No reply within the timeout; a late reply is dropped.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The actor exited (or was not there) before replying.
    #[error("actor is gone ({0})")]
    ActorGone(ExitReason),
    /// The actor's node is down or unreachable.
    #[error("node {0} is down or unreachable")]
    NodeDown(NodeId),
    /// The actor's node shut down (it said goodbye) before replying.
    #[error("node {0} shut down before replying")]
    NodeShutdown(NodeId),
    /// The actor does not accept this message tag from the wire.
    #[error("the actor does not accept message tag {0:?}")]
    UnknownMessage(String),
    /// The message or its reply could not be decoded.
    #[error("could not decode: {0}")]
    Decode(String),
    /// The message or its reply could not be encoded (it does not
    /// serialize, or it is over the frame limit).
    #[error("could not encode: {0}")]
    Encode(String),
    /// The mailbox was full and the caller chose not to wait.
    #[error("mailbox full")]
    MailboxFull,
    /// The actor panicked while this request was queued or being handled.
    #[error("handler panicked: {0}")]
    Panicked(String),
    /// The actor's node was already serving its maximum of asks from this
    /// node (that maximum, its `PeerLimits::served_asks`); the ask was not
    /// delivered. Try again later, or ask less at once.
    #[error("the remote node is serving its maximum of {0} asks from this node")]
    Overloaded(u32),
}

impl AskError {
    fn from_exit(life: &Lifecycle) -> Self {
        match life.exit_reason() {
            Some(ExitReason::Panic(m)) => AskError::Panicked(m.clone()),
            Some(r) => AskError::ActorGone(r.clone()),
            None => AskError::ActorGone(ExitReason::NoActor),
        }
    }
}

/// A handle to an actor, on this node or another, that survives restarts of a
/// supervised actor. Cheap to clone.
pub struct ActorRef<A: Actor> {
    pub(crate) slot: Arc<Slot<A>>,
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        Self {
            slot: self.slot.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActorRef({})", self.slot.id)
    }
}

impl<A: Actor> PartialEq for ActorRef<A> {
    fn eq(&self, other: &Self) -> bool {
        self.slot.id == other.slot.id
    }
}

impl<A: Actor> Eq for ActorRef<A> {}

impl<A: Actor<Context = Context<A>>> ActorRef<A> {
    pub(crate) fn from_slot(slot: Arc<Slot<A>>) -> Self {
        Self { slot }
    }

    /// The actor's cluster-wide id (stable across supervised restarts).
    pub fn id(&self) -> &ActorId {
        &self.slot.id
    }

    /// True if an instance is running behind this ref right now (for a
    /// remote actor: if its node is connected in the actor's incarnation).
    pub fn is_alive(&self) -> bool {
        if let Some(remote) = &self.slot.remote {
            return remote.link.is_connected(&self.slot.id);
        }
        self.slot
            .current
            .load()
            .as_ref()
            .is_some_and(|i| i.life.is_alive())
    }

    /// Fire-and-forget. Never blocks, and queues the message even past the
    /// mailbox's capacity (as Erlang's `!` does); if no instance is running
    /// it is counted as a dead letter. To a remote actor the message is
    /// queued on the connection up to the node's outbound cap, past which it
    /// is dropped, logged and counted ([`StatsSnapshot::outbound_drops`](crate::StatsSnapshot::outbound_drops)). Order is
    /// FIFO per sender→receiver pair.
    ///
    /// ```
    /// # use actix::prelude::*;
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Context = Context<Self>; }
    /// # #[derive(Message)] #[rtype(result = "u64")] struct Add(u64);
    /// # impl Handler<Add> for Counter {
    /// #     type Result = u64;
    /// #     fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # arbour::Node::builder("doc").workers(1).run(|node| async move {
    /// let counter = node.spawn(Counter(0));
    /// counter.tell(Add(1)); // returns at once
    /// counter.tell(Add(2));
    /// assert_eq!(counter.ask(Add(0)).await, Ok(3), "handled in order");
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn tell<M>(&self, msg: M)
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let guard = self.slot.current.load();
        let outcome = match guard.as_ref() {
            Some(inst) => {
                inst.note::<M>();
                tell_outcome(inst.tx.do_send(msg))
            }
            None => match &self.slot.remote {
                Some(remote) => remote.tell(&self.slot.id, msg, Insist::Yes),
                None => Err(TellError::ActorGone(msg)),
            },
        };
        match outcome {
            Ok(()) => {}
            Err(TellError::MailboxFull(_)) => {
                let n = self
                    .slot
                    .stats
                    .outbound_drops
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        to = %self.slot.id, dropped = n,
                        "tell dropped: the connection to the actor's node holds its whole \
                         outbound cap (the peer or the network is slower than the sender)"
                    );
                }
            }
            Err(TellError::ActorGone(_) | TellError::NodeDown(_)) => {
                self.slot.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
            }
            Err(TellError::Encode(_, why)) => {
                tracing::warn!(to = %self.slot.id, "tell dropped: {why}");
                self.slot.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fire-and-forget that hands the message back if it cannot be queued
    /// now: the mailbox (or, for a remote actor, its lane on the connection)
    /// is at capacity, or nothing runs behind the ref.
    #[inline]
    pub fn try_tell<M>(&self, msg: M) -> Result<(), TellError<M>>
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let guard = self.slot.current.load();
        let Some(inst) = guard.as_ref() else {
            return match &self.slot.remote {
                Some(remote) => remote.tell(&self.slot.id, msg, Insist::No),
                None => Err(TellError::ActorGone(msg)),
            };
        };
        tell_outcome(inst.try_tell(msg))
    }

    /// Fire-and-forget that waits (asynchronously) for room in a full
    /// mailbox, or for a remote actor's lane to drain. Fails only if the
    /// message cannot be delivered at all (no instance, node down, not
    /// encodable).
    pub async fn tell_when_room<M>(&self, msg: M) -> Result<(), TellError<M>>
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let mut msg = Some(msg);
        std::future::poll_fn(|cx| {
            poll_room(&self.slot, cx, || {
                let m = msg.take()?; // taken only by a try that returns
                match self.try_tell(m) {
                    Err(TellError::MailboxFull(m)) => {
                        msg = Some(m);
                        None
                    }
                    other => Some(other),
                }
            })
        })
        .await
    }

    /// Request/response. Await it; set a deadline with [`Ask::timeout`]
    /// (default [`DEFAULT_ASK_TIMEOUT`]). The same call works for an actor
    /// on another node ([`Node::lookup`](crate::Node::lookup)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use actix::prelude::*;
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Context = Context<Self>; }
    /// # #[derive(Message)] #[rtype(result = "u64")] struct Add(u64);
    /// # impl Handler<Add> for Counter {
    /// #     type Result = u64;
    /// #     fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # arbour::Node::builder("doc").workers(1).run(|node| async move {
    /// let counter = node.spawn(Counter(0));
    /// assert_eq!(counter.ask(Add(2)).await, Ok(2));
    /// let r = counter.ask(Add(3)).timeout(Duration::from_millis(100)).await;
    /// assert_eq!(r, Ok(5));
    /// # }).unwrap();
    /// ```
    pub fn ask<M>(&self, msg: M) -> Ask<'_, A, M>
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        Ask {
            to: self,
            msg,
            timeout: DEFAULT_ASK_TIMEOUT,
            wait_if_full: false,
        }
    }

    /// An ask that fails at once, handing the message back, if the mailbox
    /// is full (the wire dispatcher waits for room itself).
    pub(crate) fn try_ask<M>(
        &self,
        msg: M,
        timeout: Duration,
    ) -> Result<AskFuture<M::Result>, (M, AskError)>
    where
        A: Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let guard = self.slot.current.load();
        match guard.as_ref() {
            Some(inst) => enqueue(inst, msg, timeout),
            None => Ok(self.ask(msg).timeout(timeout).into_future()),
        }
    }

    /// Resolves with the exit reason of the current instance (`NoActor` if
    /// none is running).
    pub fn exited(&self) -> impl Future<Output = ExitReason> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        self.watch(Box::new(move |reason| {
            let _ = tx.send(reason.clone());
        }));
        async move { rx.await.unwrap_or(ExitReason::NoActor) }
    }

    /// Asks the current instance to stop gracefully (exit reason `Shutdown`).
    pub fn stop(&self) {
        if let Some(remote) = &self.slot.remote {
            remote.link.stop(&self.slot.id, false);
        }
        if let Some(i) = self.slot.current.load().as_ref() {
            i.life.request_stop();
        }
    }

    /// Kills the current instance without running its stop hooks (`Killed`).
    pub fn kill(&self) {
        if let Some(remote) = &self.slot.remote {
            remote.link.stop(&self.slot.id, true);
        }
        if let Some(i) = self.slot.current.load().as_ref() {
            i.life.request_kill();
        }
    }

    /// Wakes `waker` after the current instance's next turn (its mailbox
    /// then has room) or when it exits; false if no local instance runs.
    pub(crate) fn want_room(&self, waker: &std::task::Waker) -> bool {
        match self.slot.current.load().as_ref() {
            Some(inst) => {
                inst.life.want_room(waker);
                true
            }
            None => false,
        }
    }
}

/// An ask being built; `.await` it.
#[derive(Debug)]
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<'a, A: Actor, M> {
    to: &'a ActorRef<A>,
    msg: M,
    timeout: Duration,
    wait_if_full: bool,
}

impl<A: Actor, M> Ask<'_, A, M> {
    /// Fails with [`AskError::Timeout`] if no reply arrives within `d`.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Waits for room in a full mailbox (within the timeout) instead of
    /// failing with [`AskError::MailboxFull`].
    pub fn wait_if_full(mut self) -> Self {
        self.wait_if_full = true;
        self
    }
}

type BoxedAsk<R> = Pin<Box<dyn Future<Output = Result<R, AskError>> + Send>>;

/// Turns a remote reply's payload into the ask's result.
pub(crate) type ReplyDecoder<R> = Box<dyn Fn(&[u8]) -> Result<R, AskError> + Send>;

/// Tells the link that a remote ask stopped waiting (timed out or was
/// dropped), so its reply, if it comes, is dropped and counted as late.
pub(crate) struct ForgetOnDrop {
    pub(crate) link: Arc<dyn Outbound>,
    pub(crate) correlation: u64,
    pub(crate) node: NodeId,
    pub(crate) armed: bool,
}

impl ForgetOnDrop {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.link.forget(self.correlation);
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an ask: `ref.ask(msg).into_future()` (what `.await`
    /// does). It owns what it needs and borrows nothing, so it can be
    /// moved into a task of its own:
    ///
    /// ```
    /// # use actix::prelude::*;
    /// # use std::future::IntoFuture;
    /// # struct Counter;
    /// # impl Actor for Counter { type Context = Context<Self>; }
    /// # #[derive(Message)] #[rtype(result = "u64")] struct Get;
    /// # impl Handler<Get> for Counter { type Result = u64; fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 { 7 } }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(
    /// # tokio::task::LocalSet::new().run_until(async {
    /// # let node = arbour::Node::builder("n").build();
    /// let counter = node.spawn(Counter);
    /// let reply = counter.ask(Get).into_future();
    /// let task = tokio::task::spawn_local(reply);
    /// assert_eq!(task.await.unwrap(), Ok(7));
    /// # }));
    /// ```
    ///
    /// Its timeout timer is armed lazily: on the first `Pending` the future
    /// reschedules itself once, and only if the reply is still missing at
    /// the next poll does it read the clock and register a tokio timer. A
    /// same-thread round trip thus never touches the clock or the timer
    /// wheel (about 120 ns saved per ask); the cost is that the timeout
    /// starts one scheduler round after the ask was sent.
    #[project = AskProj]
    #[allow(missing_debug_implementations)]
    pub enum AskFuture<R> {
        /// Already decided (gone, full).
        #[doc(hidden)]
        Done { result: Option<Result<R, AskError>> },
        /// Queued; waiting for the reply or the deadline.
        #[doc(hidden)]
        Waiting {
            rx: oneshot::Receiver<R>,
            life: LifeRef,
            timeout: Duration,
            polled: bool,
            #[pin]
            timer: Option<tokio::time::Sleep>,
        },
        /// Waiting for room in a full mailbox first.
        #[doc(hidden)]
        Boxed { fut: BoxedAsk<R> },
        /// Sent to a remote actor; waiting for the reply or the deadline.
        #[doc(hidden)]
        Remote {
            rx: oneshot::Receiver<RemoteReply>,
            decode: ReplyDecoder<R>,
            pending: ForgetOnDrop,
            timeout: Duration,
            #[pin]
            timer: Option<tokio::time::Sleep>,
        },
    }
}

impl<R> Future for AskFuture<R> {
    type Output = Result<R, AskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project() {
            AskProj::Done { result } => Poll::Ready(
                result
                    .take()
                    .unwrap_or(Err(AskError::ActorGone(ExitReason::NoActor))),
            ),
            AskProj::Waiting {
                rx,
                life,
                timeout,
                polled,
                mut timer,
            } => {
                match Pin::new(rx).poll(cx) {
                    Poll::Ready(Ok(r)) => return Poll::Ready(Ok(r)),
                    Poll::Ready(Err(_closed)) => {
                        return Poll::Ready(Err(AskError::from_exit(life)))
                    }
                    Poll::Pending => {}
                }
                if !*polled {
                    *polled = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                if timer.is_none() {
                    timer.set(Some(tokio::time::sleep(*timeout)));
                }
                match timer.as_pin_mut().map(|t| t.poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Err(AskError::Timeout(*timeout))),
                    _ => Poll::Pending,
                }
            }
            AskProj::Boxed { fut } => fut.as_mut().poll(cx),
            AskProj::Remote {
                rx,
                decode,
                pending,
                timeout,
                mut timer,
            } => {
                match Pin::new(rx).poll(cx) {
                    Poll::Ready(Ok(reply)) => {
                        pending.disarm();
                        // the serving node gave up at our own deadline
                        let reply = reply.map_err(|e| match e {
                            AskError::Timeout(_) => AskError::Timeout(*timeout),
                            e => e,
                        });
                        return Poll::Ready(reply.and_then(|bytes| decode(&bytes)));
                    }
                    Poll::Ready(Err(_closed)) => {
                        pending.disarm();
                        return Poll::Ready(Err(AskError::NodeDown(pending.node.clone())));
                    }
                    Poll::Pending => {}
                }
                if timer.is_none() {
                    timer.set(Some(tokio::time::sleep(*timeout)));
                }
                match timer.as_pin_mut().map(|t| t.poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Err(AskError::Timeout(*timeout))),
                    _ => Poll::Pending,
                }
            }
        }
    }
}

fn enqueue<A, M>(
    inst: &Arc<Instance<A>>,
    msg: M,
    timeout: Duration,
) -> Result<AskFuture<M::Result>, (M, AskError)>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    inst.note::<M>();
    match inst.tx.send(msg) {
        Ok(rx) => Ok(AskFuture::Waiting {
            rx,
            life: inst.life_ref(),
            timeout,
            polled: false,
            timer: None,
        }),
        Err(SendError::Full(m)) => Err((m, AskError::MailboxFull)),
        Err(SendError::Closed(m)) => Err((m, AskError::from_exit(&inst.life))),
    }
}

impl<'a, A, M> IntoFuture for Ask<'a, A, M>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    type Output = Result<M::Result, AskError>;
    type IntoFuture = AskFuture<M::Result>;

    fn into_future(self) -> Self::IntoFuture {
        let done = |e| AskFuture::Done {
            result: Some(Err(e)),
        };
        let guard = self.to.slot.current.load();
        let Some(inst) = guard.as_ref() else {
            if self.to.slot.remote.is_some() {
                return remote_ask(
                    self.to.slot.clone(),
                    self.msg,
                    self.timeout,
                    self.wait_if_full,
                );
            }
            return done(AskError::ActorGone(ExitReason::NoActor));
        };
        match enqueue(inst, self.msg, self.timeout) {
            Ok(f) => f,
            Err((msg, AskError::MailboxFull)) if self.wait_if_full => {
                let slot = self.to.slot.clone();
                let timeout = self.timeout;
                AskFuture::Boxed {
                    fut: Box::pin(ask_when_room(slot, msg, timeout)),
                }
            }
            Err((_, e)) => done(e),
        }
    }
}

/// One step of waiting for room in `slot`: `attempt` (`None`: still full);
/// if full, ask to be woken when there may be room and try once more, so
/// room made between the try and the registration is not missed. The
/// common case (room at once) registers nothing.
fn poll_room<A: Actor, T>(
    slot: &Slot<A>,
    cx: &mut TaskContext<'_>,
    mut attempt: impl FnMut() -> Option<T>,
) -> Poll<T> {
    if let Some(done) = attempt() {
        return Poll::Ready(done);
    }
    slot.want_room(cx.waker());
    match attempt() {
        Some(done) => Poll::Ready(done),
        None => Poll::Pending,
    }
}

/// An ask whose mailbox (or, remotely, lane) is full: retries `attempt`
/// each time the slot may have room, until it is queued, fails otherwise,
/// or the deadline passes. `attempt` gets the time left.
async fn retry_while_full<A: Actor<Context = Context<A>>, R>(
    slot: &Slot<A>,
    timeout: Duration,
    mut attempt: impl FnMut(Duration) -> Result<AskFuture<R>, AskError>,
) -> Result<R, AskError> {
    let deadline = crate::platform::deadline(timeout);
    let queued = tokio::time::timeout_at(
        deadline,
        std::future::poll_fn(|cx| {
            poll_room(slot, cx, || {
                let left = deadline.saturating_duration_since(crate::platform::now());
                match attempt(left) {
                    Err(AskError::MailboxFull) => None,
                    other => Some(other),
                }
            })
        }),
    )
    .await;
    match queued {
        Ok(Ok(waiting)) => waiting.await.map_err(|e| match e {
            AskError::Timeout(_) => AskError::Timeout(timeout),
            e => e,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(AskError::Timeout(timeout)),
    }
}

/// A local ask waiting for room in a full mailbox.
async fn ask_when_room<A, M>(
    slot: Arc<Slot<A>>,
    msg: M,
    timeout: Duration,
) -> Result<M::Result, AskError>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    let mut msg = Some(msg);
    retry_while_full(&slot, timeout, |left| {
        let (Some(inst), Some(m)) = (slot.current.load_full(), msg.take()) else {
            return Err(AskError::ActorGone(ExitReason::NoActor));
        };
        enqueue(&inst, m, left).map_err(|(m, e)| {
            msg = Some(m);
            e
        })
    })
    .await
}

/// An ask of a remote actor: encoded into the link's batch; the reply is
/// decoded with the node as ref context. If the link's buffer is full,
/// fails with `MailboxFull` or, with `wait_if_full`, retries within the
/// timeout.
fn remote_ask<A, M>(
    slot: Arc<Slot<A>>,
    msg: M,
    timeout: Duration,
    wait_if_full: bool,
) -> AskFuture<M::Result>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    let Some(remote) = slot.remote.as_ref() else {
        return AskFuture::Done {
            result: Some(Err(AskError::ActorGone(ExitReason::NoActor))),
        };
    };
    match remote.ask(&slot.id, &msg, timeout) {
        Err(AskError::MailboxFull) if wait_if_full => AskFuture::Boxed {
            fut: Box::pin(async move {
                let target = slot.clone();
                let attempt = move |left| match target.remote.as_ref() {
                    Some(remote) => remote.ask(&target.id, &msg, left),
                    None => Err(AskError::ActorGone(ExitReason::NoActor)),
                };
                retry_while_full(&slot, timeout, attempt).await
            }),
        },
        Err(e) => AskFuture::Done {
            result: Some(Err(e)),
        },
        Ok(fut) => fut,
    }
}
