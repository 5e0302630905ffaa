//! The remote side of [`ActorRef`]: what a ref to an actor on another node
//! holds, what a local actor looks like to the wire once it is reachable
//! from other nodes, and how refs travel inside messages.
//!
//! The actor layer does not know about QUIC. It states what it needs from a
//! node's transport as the [`Outbound`] trait (queue a tell, send an ask,
//! watch a remote actor) and what the transport may do to local actors as
//! [`Exported`]; the node implements the first and uses the second.
//!
//! # Refs inside messages
//!
//! An `ActorRef<A>` (for `A: RemoteActor`) is serde. Encoded, it is its
//! [`ActorId`]. While a node encodes or decodes a message it installs itself
//! as the *ref context* of the thread: encoding a ref to a local actor makes
//! that actor reachable from other nodes, and decoding a ref gives a local
//! ref when the id is this node's, or a remote ref through the connection to
//! the id's node otherwise (Akka resolves refs the same way, against the
//! `ActorSystem` doing the deserialisation). Outside a node (plain
//! `rmp_serde::from_slice`), decoding a ref is an error.

use super::actor_ref::{AskError, AskFuture, ForgetOnDrop, ReplyDecoder, Slot, TellError};
use super::host::Stats;
use super::lifecycle::Watcher;
use super::remote::{DispatchError, MessageTable, ReplyFuture};
use super::watch::Monitor;
use super::{ActorId, ActorRef, NodeId, RemoteActor};
use actix::{Actor, Context, Message};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Why the transport could not take a message for a remote actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutboundError {
    /// The connection's send buffer is over its limit (back-pressure).
    Full,
    /// No connection to the actor's node (in the actor's incarnation).
    NodeDown,
    /// The message could not be encoded, or is over the frame limit.
    Encode(String),
}

/// How a tell to a remote actor treats a busy connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insist {
    /// `try_tell`/`send`: refuse once the recipient's lane holds its limit,
    /// so the caller can take the message back or wait.
    No,
    /// Plain `tell`: queue unless the connection holds its whole outbound
    /// cap (an ordinary burst is queued, not dropped).
    Yes,
}

/// Writes a message's payload into the outgoing batch.
pub(crate) type PayloadWriter<'a> = &'a mut dyn FnMut(&mut Vec<u8>) -> Result<(), String>;

/// What a waiting remote ask receives: the reply's payload or why not.
pub(crate) type RemoteReply = Result<Vec<u8>, AskError>;

/// A remote ask in flight.
pub(crate) struct PendingReply {
    pub(crate) correlation: u64,
    pub(crate) rx: oneshot::Receiver<RemoteReply>,
}

/// The connection to one peer node, as remote refs see it. Implemented by
/// the node; every method is cheap and never blocks.
pub(crate) trait Outbound: Send + Sync + 'static {
    /// Queues a tell for `to` (on `to`'s data lane).
    fn tell(
        &self,
        to: &ActorId,
        tag: &str,
        insist: Insist,
        payload: PayloadWriter<'_>,
    ) -> Result<(), OutboundError>;
    /// Sends an ask for `to` (whose asker waits `timeout`); the reply (or
    /// `NodeDown`) arrives on the returned receiver.
    fn ask(
        &self,
        to: &ActorId,
        tag: &str,
        timeout: Duration,
        payload: PayloadWriter<'_>,
    ) -> Result<PendingReply, OutboundError>;
    /// The ask gave up waiting (timeout or dropped): its reply is late.
    fn forget(&self, correlation: u64);
    /// Calls `w` once when `to` exits (with its reason) or the connection to
    /// its node is lost (`NodeDown`). Returns a key for `demonitor`.
    fn monitor(&self, to: &ActorId, w: Watcher) -> u64;
    /// Cancels a monitor; true if it had not fired.
    fn demonitor(&self, to: &ActorId, key: u64) -> bool;
    /// Asks `to` to stop (`kill`: without its stop hooks).
    fn stop(&self, to: &ActorId, kill: bool);
    /// True if the node is connected in `to`'s incarnation.
    fn is_connected(&self, to: &ActorId) -> bool;
    /// Wakes `waker` when `to`'s lane may take more (at once if there is no
    /// connection: the retry then says why).
    fn want_room(&self, to: &ActorId, waker: &std::task::Waker);
    /// Runs `f` with this node as the thread's ref context (for decoding
    /// replies that carry refs).
    fn in_context(&self, f: &mut dyn FnMut());
}

/// What a remote ref holds besides its id: the way to its node, and how to
/// put each of its actor's declared messages on the wire.
pub(crate) struct RemotePart<A: Actor> {
    pub(crate) link: Arc<dyn Outbound>,
    pub(crate) table: Arc<MessageTable<A>>,
}

impl<A: Actor<Context = Context<A>>> RemotePart<A> {
    /// Encodes `msg` into the link's batch for `to`.
    pub(crate) fn tell<M: 'static>(
        &self,
        to: &ActorId,
        msg: M,
        insist: Insist,
    ) -> Result<(), TellError<M>> {
        let Some(out) = self.table.outgoing::<M>() else {
            let why = format!(
                "{} is not declared for the wire",
                std::any::type_name::<M>()
            );
            return Err(TellError::Encode(msg, why));
        };
        let encode = out.encode;
        match self
            .link
            .tell(to, out.tag, insist, &mut |buf| encode(&msg, buf))
        {
            Ok(()) => Ok(()),
            Err(OutboundError::Full) => Err(TellError::MailboxFull(msg)),
            Err(OutboundError::NodeDown) => Err(TellError::NodeDown(msg)),
            Err(OutboundError::Encode(why)) => Err(TellError::Encode(msg, why)),
        }
    }

    /// Sends an ask of `msg` to `to`; the future resolves with the decoded
    /// reply, an error reply, `NodeDown`, or `Timeout` after `timeout`.
    pub(crate) fn ask<M>(
        &self,
        to: &ActorId,
        msg: &M,
        timeout: Duration,
    ) -> Result<AskFuture<M::Result>, AskError>
    where
        M: Message + 'static,
        M::Result: Send + 'static,
    {
        let out = self
            .table
            .outgoing::<M>()
            .ok_or_else(|| AskError::UnknownMessage(std::any::type_name::<M>().to_owned()))?;
        let encode = out.encode;
        let pending = match self
            .link
            .ask(to, out.tag, timeout, &mut |buf| encode(msg, buf))
        {
            Ok(p) => p,
            Err(OutboundError::Full) => return Err(AskError::MailboxFull),
            Err(OutboundError::NodeDown) => return Err(AskError::NodeDown(to.node.clone())),
            Err(OutboundError::Encode(why)) => return Err(AskError::Encode(why)),
        };
        let (table, link) = (self.table.clone(), self.link.clone());
        let decode: ReplyDecoder<M::Result> = Box::new(move |bytes| {
            let mut result = None;
            link.in_context(&mut || result = Some(table.decode_reply::<M>(bytes)));
            result.unwrap_or_else(|| Err(AskError::Decode("reply not decoded".into())))
        });
        Ok(AskFuture::Remote {
            rx: pending.rx,
            decode,
            pending: ForgetOnDrop {
                link: self.link.clone(),
                correlation: pending.correlation,
                node: to.node.clone(),
                armed: true,
            },
            timeout,
            timer: None,
        })
    }
}

/// A local actor as the transport sees it once it is reachable from other
/// nodes: type-erased dispatch by tag, and its lifecycle.
pub(crate) trait Exported: Send + Sync + 'static {
    /// The actor's id.
    fn id(&self) -> &ActorId;
    /// True once no instance will ever run behind it again.
    fn is_closed(&self) -> bool;
    /// Decodes and tells.
    fn tell(&self, tag: &str, payload: &[u8]) -> Result<(), DispatchError>;
    /// Decodes and asks; the future yields the encoded reply.
    fn ask(
        &self,
        tag: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<ReplyFuture, DispatchError>;
    /// Calls `w` when the current instance exits (at once with `NoActor` if
    /// none runs).
    fn watch(&self, w: Watcher) -> Monitor;
    /// Cancels a watch.
    fn unwatch(&self, m: Monitor) -> bool;
    /// Stops (or kills) the current instance.
    fn stop(&self, kill: bool);
    /// Wakes `waker` when the current instance's mailbox may have room
    /// again (after its next turn, or when it exits); false if no instance
    /// runs.
    fn want_room(&self, waker: &std::task::Waker) -> bool;
    /// The typed `ActorRef<A>`, for decoding a ref that came home.
    fn as_any(&self) -> &dyn Any;
}

struct ExportedRef<A: Actor> {
    actor: ActorRef<A>,
    table: MessageTable<A>,
}

impl<A: RemoteActor> Exported for ExportedRef<A> {
    fn id(&self) -> &ActorId {
        self.actor.id()
    }
    fn is_closed(&self) -> bool {
        self.actor.slot.is_closed()
    }
    fn tell(&self, tag: &str, payload: &[u8]) -> Result<(), DispatchError> {
        self.table.dispatch_tell(&self.actor, tag, payload)
    }
    fn ask(
        &self,
        tag: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<ReplyFuture, DispatchError> {
        self.table.dispatch_ask(&self.actor, tag, payload, timeout)
    }
    fn watch(&self, w: Watcher) -> Monitor {
        self.actor.watch(w)
    }
    fn unwatch(&self, m: Monitor) -> bool {
        self.actor.demonitor(m)
    }
    fn stop(&self, kill: bool) {
        if kill {
            self.actor.kill()
        } else {
            self.actor.stop()
        }
    }
    fn want_room(&self, waker: &std::task::Waker) -> bool {
        self.actor.want_room(waker)
    }
    fn as_any(&self) -> &dyn Any {
        &self.actor
    }
}

/// `actor` (a local ref) as seen from the wire. Fails if two of its
/// accepted messages share a tag.
pub(crate) fn export<A: RemoteActor>(
    actor: &ActorRef<A>,
) -> Result<Arc<dyn Exported>, DispatchError> {
    Ok(Arc::new(ExportedRef {
        actor: actor.clone(),
        table: MessageTable::for_actor()?,
    }))
}

/// A ref to actor `id` on another node, reached through `link`.
pub(crate) fn remote_ref<A: RemoteActor>(
    id: ActorId,
    link: Arc<dyn Outbound>,
    stats: Arc<Stats>,
) -> Result<ActorRef<A>, DispatchError> {
    let part = RemotePart {
        link,
        table: Arc::new(MessageTable::for_actor()?),
    };
    Ok(ActorRef::from_slot(Arc::new(Slot::remote(id, stats, part))))
}

/// A ref that names `id` but reaches nothing (a stale incarnation, or an
/// actor this node no longer has): tells are dead letters, asks fail.
pub(crate) fn dead_ref<A: Actor<Context = Context<A>>>(
    id: ActorId,
    stats: Arc<Stats>,
) -> ActorRef<A> {
    let slot = Slot::new(id, stats);
    slot.close();
    ActorRef::from_slot(Arc::new(slot))
}

/// What a node offers to the encoding and decoding of refs.
pub(crate) trait RefContext: Send + Sync {
    /// This node.
    fn me(&self) -> &NodeId;
    /// The node's counters (for refs made while decoding).
    fn stats(&self) -> Arc<Stats>;
    /// Makes a local actor reachable from other nodes (idempotent).
    fn export(&self, id: &ActorId, make: &mut dyn FnMut() -> Option<Arc<dyn Exported>>);
    /// The exported local actor with this number, if any.
    fn local(&self, local: u64) -> Option<Arc<dyn Exported>>;
    /// The way to `node` (a link that fails with `NodeDown` if there is no
    /// connection to it).
    fn link(&self, node: &NodeId) -> Arc<dyn Outbound>;
}

thread_local! {
    static CONTEXT: RefCell<Option<Arc<dyn RefContext>>> = const { RefCell::new(None) };
}

/// Runs `f` with `ctx` as the thread's ref context (restoring the previous
/// one after, so contexts nest). Free when `ctx` is already installed.
pub(crate) fn with_context<R>(ctx: &Arc<dyn RefContext>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn RefContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CONTEXT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let installed = CONTEXT.with(|c| c.borrow().as_ref().is_some_and(|cur| Arc::ptr_eq(cur, ctx)));
    if installed {
        return f();
    }
    let prev = CONTEXT.with(|c| c.borrow_mut().replace(ctx.clone()));
    let _restore = Restore(prev);
    f()
}

fn current_context() -> Option<Arc<dyn RefContext>> {
    CONTEXT.with(|c| c.borrow().clone())
}

impl<A: RemoteActor> Serialize for ActorRef<A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.slot.remote.is_none() {
            if let Some(ctx) = current_context() {
                ctx.export(self.id(), &mut || export(self).ok());
            }
        }
        self.id().serialize(s)
    }
}

impl<'de, A: RemoteActor> Deserialize<'de> for ActorRef<A> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = ActorId::deserialize(d)?;
        let ctx = current_context()
            .ok_or_else(|| D::Error::custom("an ActorRef can only be decoded by an arbour node"))?;
        resolve_ref(&*ctx, id).map_err(|e| D::Error::custom(e.to_string()))
    }
}

/// A ref to actor `id` as node `ctx` sees it: local when the id is the
/// node's own (dead if that actor is gone or of another life), remote
/// through the link to its node otherwise.
pub(crate) fn resolve_ref<A: RemoteActor>(
    ctx: &dyn RefContext,
    id: ActorId,
) -> Result<ActorRef<A>, DispatchError> {
    if id.node.name != ctx.me().name {
        let link = ctx.link(&id.node);
        return remote_ref(id, link, ctx.stats());
    }
    let here = (id.node.incarnation == ctx.me().incarnation)
        .then(|| ctx.local(id.local))
        .flatten();
    Ok(here
        .and_then(|e| e.as_any().downcast_ref::<ActorRef<A>>().cloned())
        .unwrap_or_else(|| dead_ref(id, ctx.stats())))
}
