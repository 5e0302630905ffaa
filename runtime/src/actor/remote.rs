//! Messages and actors reachable from the wire.
//!
//! A message type implements [`RemoteMessage`]: serde, plus a stable wire tag
//! (never `type_name`, which changes with module paths and compiler versions).
//! An actor implements [`RemoteActor`] by listing the messages it accepts;
//! [`MessageTable`] turns that list into a dispatcher from (tag, bytes) to the
//! actor's handlers. Both traits work today with local refs, so user code does
//! not change when the network arrives.

use super::{ActorRef, AskError, TellError};
use crate::wire;
use actix::{Actor, Context, Handler, Message};
use rustc_hash::FxHashMap as HashMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A message that can cross nodes.
///
/// ```
/// use actix::Message;
/// use serde::{Deserialize, Serialize};
/// #[derive(Message, Serialize, Deserialize)]
/// #[rtype(result = "u64")]
/// struct Fib(u32);
/// arbour::remote_message!(Fib => "examples.fib.v1");
/// assert_eq!(<Fib as arbour::RemoteMessage>::TAG, "examples.fib.v1");
/// ```
pub trait RemoteMessage:
    Message<Result: Serialize + DeserializeOwned + Send + 'static>
    + Serialize
    + DeserializeOwned
    + Send
    + 'static
{
    /// The stable wire tag, e.g. `"examples.fib.v1"`. Bump the version when the
    /// message's fields change.
    const TAG: &'static str;
}

/// An actor that accepts messages from other nodes.
pub trait RemoteActor: Actor<Context = Context<Self>> {
    /// Lists the accepted messages: `table.accept::<Fib>();` for each.
    fn accepts(table: &mut MessageTable<Self>);
}

/// Implements [`RemoteMessage`]: `remote_message!(Fib => "examples.fib.v1");`
#[macro_export]
macro_rules! remote_message {
    ($ty:ty => $tag:literal) => {
        impl $crate::RemoteMessage for $ty {
            const TAG: &'static str = $tag;
        }
    };
}

/// Implements [`RemoteActor`]: `remote_actor!(FibWorker { Fib, Stats });`
#[macro_export]
macro_rules! remote_actor {
    ($actor:ty { $($msg:ty),* $(,)? }) => {
        impl $crate::RemoteActor for $actor {
            fn accepts(table: &mut $crate::MessageTable<Self>) {
                $( table.accept::<$msg>(); )*
            }
        }
    };
}

/// A dispatched ask's encoded reply.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, AskError>> + Send>>;

/// Why a message from the wire could not be handed to an actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The actor does not list this tag.
    #[error("unknown message tag {0:?}")]
    UnknownTag(String),
    /// The payload is not a valid value of the tag's message type.
    #[error("payload does not decode: {0}")]
    Decode(String),
    /// Two accepted messages share a tag (a programming error, reported when
    /// the table is built).
    #[error("two messages use the tag {0:?}")]
    DuplicateTag(&'static str),
    /// The actor's mailbox is full.
    #[error("mailbox full")]
    MailboxFull,
    /// No instance is running behind the ref.
    #[error("actor is gone")]
    ActorGone,
}

impl From<DispatchError> for AskError {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::UnknownTag(t) => AskError::UnknownMessage(t),
            DispatchError::Decode(m) => AskError::Decode(m),
            DispatchError::DuplicateTag(t) => AskError::UnknownMessage(t.to_owned()),
            DispatchError::MailboxFull => AskError::MailboxFull,
            DispatchError::ActorGone => AskError::ActorGone(super::ExitReason::NoActor),
        }
    }
}

type AnyBox = Box<dyn Any + Send>;

/// How one message type goes out and how its reply comes back.
pub(crate) struct Outgoing {
    type_id: TypeId,
    pub(crate) tag: &'static str,
    /// Appends the message (a `&M` behind `&dyn Any`) to the batch.
    pub(crate) encode: fn(&dyn Any, &mut Vec<u8>) -> Result<(), String>,
    decode_reply: fn(&[u8]) -> Result<AnyBox, AskError>,
}

fn encode_any<M: RemoteMessage>(msg: &dyn Any, out: &mut Vec<u8>) -> Result<(), String> {
    let msg = msg
        .downcast_ref::<M>()
        .ok_or_else(|| "message of another type".to_owned())?;
    wire::encode_into(out, msg).map_err(|e| e.to_string())
}

fn decode_reply_any<M: RemoteMessage>(bytes: &[u8]) -> Result<AnyBox, AskError> {
    let reply: M::Result = wire::decode(bytes).map_err(|e| AskError::Decode(e.to_string()))?;
    Ok(Box::new(reply))
}

type AskFn<A> = fn(&ActorRef<A>, &[u8], Duration) -> Result<ReplyFuture, DispatchError>;
type TellFn<A> = fn(&ActorRef<A>, &[u8]) -> Result<(), DispatchError>;

struct Entry<A: Actor> {
    ask: AskFn<A>,
    tell: TellFn<A>,
}

/// Dispatches (tag, MessagePack bytes) to an actor's handlers.
pub struct MessageTable<A: Actor> {
    entries: HashMap<&'static str, Entry<A>>,
    /// The sending side: how to put a message of a given type on the wire,
    /// and how to read its reply back, found by `TypeId` so that
    /// `ActorRef::tell`/`ask` keep one signature for local and remote refs.
    /// A list, not a map: actors accept a handful of types, and a scan of
    /// them beats hashing a `TypeId` on every remote tell.
    outgoing: Vec<Outgoing>,
    duplicate: Option<&'static str>,
}

impl<A: Actor> std::fmt::Debug for MessageTable<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageTable")
            .field("tags", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn decode_payload<M: DeserializeOwned>(payload: &[u8]) -> Result<M, DispatchError> {
    wire::decode(payload).map_err(|e| DispatchError::Decode(e.to_string()))
}

fn ask_entry<A, M>(
    to: &ActorRef<A>,
    payload: &[u8],
    timeout: Duration,
) -> Result<ReplyFuture, DispatchError>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: RemoteMessage,
{
    let msg: M = decode_payload(payload)?;
    let fut = match to.try_ask(msg, timeout) {
        Ok(fut) => fut,
        Err((_, AskError::MailboxFull)) => return Err(DispatchError::MailboxFull),
        Err((_, e)) => return Ok(Box::pin(async move { Err(e) })),
    };
    Ok(Box::pin(async move {
        let reply = fut.await?;
        wire::encode(&reply).map_err(|e| AskError::Encode(e.to_string()))
    }))
}

fn tell_entry<A, M>(to: &ActorRef<A>, payload: &[u8]) -> Result<(), DispatchError>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: RemoteMessage,
{
    let msg: M = decode_payload(payload)?;
    to.try_tell(msg).map_err(|e| match e {
        TellError::MailboxFull(_) => DispatchError::MailboxFull,
        TellError::ActorGone(_) | TellError::NodeDown(_) | TellError::Encode(..) => {
            DispatchError::ActorGone
        }
    })
}

impl<A: Actor<Context = Context<A>>> MessageTable<A> {
    /// The table of a [`RemoteActor`]; fails if two of its messages share a tag.
    pub fn for_actor() -> Result<Self, DispatchError>
    where
        A: RemoteActor,
    {
        let mut t = Self {
            entries: HashMap::default(),
            outgoing: Vec::new(),
            duplicate: None,
        };
        A::accepts(&mut t);
        match t.duplicate {
            Some(tag) => Err(DispatchError::DuplicateTag(tag)),
            None => Ok(t),
        }
    }

    /// Accepts `M` from the wire.
    pub fn accept<M>(&mut self) -> &mut Self
    where
        A: Handler<M>,
        M: RemoteMessage,
    {
        let entry = Entry {
            ask: ask_entry::<A, M>,
            tell: tell_entry::<A, M>,
        };
        self.outgoing.retain(|o| o.type_id != TypeId::of::<M>());
        self.outgoing.push(Outgoing {
            type_id: TypeId::of::<M>(),
            tag: M::TAG,
            encode: encode_any::<M>,
            decode_reply: decode_reply_any::<M>,
        });
        if self.entries.insert(M::TAG, entry).is_some() {
            self.duplicate.get_or_insert(M::TAG);
        }
        self
    }

    /// How messages of type `M` go on the wire, if the actor accepts them.
    #[inline]
    pub(crate) fn outgoing<M: 'static>(&self) -> Option<&Outgoing> {
        let t = TypeId::of::<M>();
        self.outgoing.iter().find(|o| o.type_id == t)
    }

    fn outgoing_or_unknown<M: 'static>(&self) -> Result<&Outgoing, AskError> {
        self.outgoing::<M>()
            .ok_or_else(|| AskError::UnknownMessage(std::any::type_name::<M>().to_owned()))
    }

    internal_fn! {
        /// Encodes `msg` for the wire: its tag and payload. Fails with
        /// `UnknownMessage` if the actor does not accept `M` from the wire.
        fn encode<M: 'static + Send>(&self, msg: M) -> Result<(&'static str, Vec<u8>), AskError> {
            let out = self.outgoing_or_unknown::<M>()?;
            let mut bytes = Vec::new();
            (out.encode)(&msg, &mut bytes).map_err(AskError::Encode)?;
            Ok((out.tag, bytes))
        }
    }

    internal_fn! {
        /// Decodes the reply to an ask of `M`.
        fn decode_reply<M: Message + 'static>(&self, bytes: &[u8]) -> Result<M::Result, AskError>
        where
            M::Result: 'static,
        {
            let out = self.outgoing_or_unknown::<M>()?;
            (out.decode_reply)(bytes)?
                .downcast::<M::Result>()
                .map(|b| *b)
                .map_err(|_| AskError::Decode("reply of another type".into()))
        }
    }

    internal_fn! {
        /// The accepted tags.
        fn tags(&self) -> impl Iterator<Item = &'static str> + '_ {
            self.entries.keys().copied()
        }
    }

    internal_fn! {
        /// Decodes `payload` as the message for `tag` and asks `to` with it; the
        /// future yields the encoded reply.
        fn dispatch_ask(
            &self,
            to: &ActorRef<A>,
            tag: &str,
            payload: &[u8],
            timeout: Duration,
        ) -> Result<ReplyFuture, DispatchError> {
            let e = self
                .entries
                .get(tag)
                .ok_or_else(|| DispatchError::UnknownTag(tag.to_owned()))?;
            (e.ask)(to, payload, timeout)
        }
    }

    internal_fn! {
        /// Decodes `payload` as the message for `tag` and tells `to`.
        fn dispatch_tell(
            &self,
            to: &ActorRef<A>,
            tag: &str,
            payload: &[u8],
        ) -> Result<(), DispatchError> {
            let e = self
                .entries
                .get(tag)
                .ok_or_else(|| DispatchError::UnknownTag(tag.to_owned()))?;
            (e.tell)(to, payload)
        }
    }
}
