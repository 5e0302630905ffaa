//! Protocols: what a remote actor accepts, declared once in a crate that
//! clients and the server share, so a client needs no server code.
//!
//! [`protocol!`](crate::protocol) names a service and its messages. A
//! client looks the service up as a [`Remote<P>`] (an `ActorRef` of the
//! protocol's [`Service`] type) and can send it exactly those messages: any
//! other is a compile error. The server's actor serves the protocol with
//! [`serves!`](crate::serves), which requires a `Handler` for every one of
//! its messages, also at compile time. The list lives in one place.

use super::{ActorRef, RemoteActor, RemoteMessage};
use actix::{Actor, Context, Handler, MessageResult};
use std::marker::PhantomData;

/// A service's protocol: the messages it accepts from other nodes
/// (implemented by [`protocol!`](crate::protocol)).
pub trait Protocol: Send + Sync + 'static {
    /// Lists the protocol's messages for the client side's table.
    fn messages(table: &mut super::MessageTable<Service<Self>>)
    where
        Self: Sized;
}

/// Protocol `Self` accepts message `M` (implemented by
/// [`protocol!`](crate::protocol) for each of its messages).
pub trait Accepts<M: RemoteMessage>: Protocol {}

/// The client's view of a service speaking protocol `P`: an actor type
/// that only ever exists on another node. It cannot be spawned (it has no
/// value), so a `Remote<P>` always points elsewhere.
pub struct Service<P> {
    never: std::convert::Infallible,
    protocol: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for Service<P> {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.never {}
    }
}

/// A ref to a remote service of protocol `P`: the whole `ActorRef` API
/// (`tell`, `ask`, `monitor`, `exits`, `stop`), for `P`'s messages only.
pub type Remote<P> = ActorRef<Service<P>>;

impl<P: Protocol> Actor for Service<P> {
    type Context = Context<Self>;
}

impl<P: Accepts<M>, M: RemoteMessage> Handler<M> for Service<P> {
    type Result = MessageResult<M>;

    /// Never called: no `Service` value exists, so no local instance runs.
    fn handle(&mut self, _: M, _: &mut Context<Self>) -> MessageResult<M> {
        match self.never {}
    }
}

impl<P: Protocol> RemoteActor for Service<P> {
    fn accepts(table: &mut super::MessageTable<Self>) {
        P::messages(table);
    }
}

/// Declares a protocol: a service name and the messages it accepts.
///
/// ```
/// // in a crate the client and the server share:
/// #[arbour::message(tag = "echo.ping.v1", reply = u64)]
/// pub struct Ping(pub u64);
/// #[arbour::message(tag = "echo.reset.v1")]
/// pub struct Reset;
///
/// arbour::protocol! {
///     /// The echo service.
///     pub Echo { Ping, Reset }
/// }
/// ```
///
/// The client then holds an `arbour::Remote<Echo>`
/// (`node.lookup::<arbour::Service<Echo>>(…)`); the server's actor says
/// `arbour::serves!(EchoServer => Echo);`.
///
/// A message outside the protocol cannot be sent to it:
///
/// ```compile_fail
/// # #[arbour::message(tag = "echo.ping.v1", reply = u64)]
/// # pub struct Ping(pub u64);
/// #[arbour::message(tag = "other.v1")]
/// pub struct NotEcho;
/// arbour::protocol! { pub Echo { Ping } }
/// fn send(echo: &arbour::Remote<Echo>) {
///     echo.tell(NotEcho); // error: `Echo: Accepts<NotEcho>` is not satisfied
/// }
/// ```
///
/// and a server that lacks a handler for one of its messages does not
/// compile:
///
/// ```compile_fail
/// # use actix::prelude::*;
/// # #[arbour::message(tag = "echo.ping.v1", reply = u64)]
/// # pub struct Ping(pub u64);
/// # #[arbour::message(tag = "echo.reset.v1")]
/// # pub struct Reset;
/// arbour::protocol! { pub Echo { Ping, Reset } }
/// struct Server;
/// impl Actor for Server { type Context = Context<Self>; }
/// impl Handler<Ping> for Server {
///     type Result = u64;
///     fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 { n }
/// }
/// arbour::serves!(Server => Echo); // error: `Server: Handler<Reset>` is not satisfied
/// ```
#[macro_export]
macro_rules! protocol {
    ($(#[$meta:meta])* $vis:vis $name:ident { $($msg:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Protocol for $name {
            fn messages(table: &mut $crate::MessageTable<$crate::Service<Self>>) {
                $( table.accept::<$msg>(); )*
            }
        }

        $( impl $crate::Accepts<$msg> for $name {} )*

        impl $name {
            /// Registers the protocol's messages for actor `A`, which must
            /// handle every one of them (used by `arbour::serves!`).
            pub fn serve<A>(table: &mut $crate::MessageTable<A>)
            where
                A: $crate::__private::actix::Actor<
                    Context = $crate::__private::actix::Context<A>,
                > $( + $crate::__private::actix::Handler<$msg> )*,
            {
                $( table.accept::<$msg>(); )*
            }
        }
    };
}

/// Makes an actor serve protocols: `arbour::serves!(EchoServer => Echo)`.
/// A missing `Handler` for one of their messages is a compile error.
#[macro_export]
macro_rules! serves {
    ($actor:ty => $($protocol:ty),+ $(,)?) => {
        impl $crate::RemoteActor for $actor {
            fn accepts(table: &mut $crate::MessageTable<Self>) {
                $( <$protocol>::serve(table); )+
            }
        }
    };
}
