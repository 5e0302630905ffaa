//! Why an actor stopped, and how an actor chooses its own exit reason.

use actix::{Actor, ActorContext, Context};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;

/// Why an actor stopped (Erlang's exit reason).
///
/// `Normal`, `Shutdown` and `ShutdownWith` are *normal* exits: a
/// `transient` child is not restarted after them. Everything else is
/// abnormal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExitReason {
    /// The actor stopped itself (`ctx.stop()`). (Dropping every ref to an
    /// actor does not stop it, as in Erlang.)
    Normal,
    /// Stopped on request (supervisor shutdown, `stop_with(Shutdown)`).
    Shutdown,
    /// Erlang's `{shutdown, Info}`: a shutdown that says why. Treated
    /// exactly as `Shutdown` by every restart and significance decision.
    ShutdownWith(String),
    /// A handler, `started` or `stopping` panicked: the message and its
    /// location. The panicked instance is dropped (its `Drop` runs) without
    /// `stopping`/`stopped`, since its state may be half-updated; queued
    /// messages are lost, and pending asks fail with `AskError::Panicked`.
    Panic(String),
    /// The actor chose to stop with an error (`ctx.stop_with(ExitReason::Error(..))`).
    Error(String),
    /// Stopped without running to completion: `brutal_kill`, or a shutdown
    /// timeout ran out.
    Killed,
    /// The actor's node went down or became unreachable.
    NodeDown,
    /// There was no actor (it had already exited, or never existed).
    NoActor,
}

impl ExitReason {
    /// True for the reasons a `transient` child is not restarted after.
    pub fn is_normal(&self) -> bool {
        matches!(
            self,
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::ShutdownWith(_)
        )
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(info) => write!(f, "shutdown: {info}"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Error(m) => write!(f, "error: {m}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NodeDown => f.write_str("node down"),
            ExitReason::NoActor => f.write_str("no actor"),
        }
    }
}

thread_local! {
    /// The exit reason requested by the actor currently being polled. The task
    /// wrapper saves and restores it around each poll, so nested polls (a
    /// supervisor starting a child inline) do not see each other's request.
    static REQUESTED_EXIT: RefCell<Option<ExitReason>> = const { RefCell::new(None) };
}

pub(crate) fn take_requested_exit() -> Option<ExitReason> {
    REQUESTED_EXIT.with(|r| r.borrow_mut().take())
}

pub(crate) fn restore_requested_exit(saved: Option<ExitReason>) {
    REQUESTED_EXIT.with(|r| *r.borrow_mut() = saved);
}

/// Stopping an actor with a chosen exit reason.
pub trait ContextExt {
    /// Stops the actor (as `ctx.stop()`) and records `reason` as its exit reason,
    /// which supervisors and monitors then see.
    ///
    /// ```
    /// use actix::prelude::*;
    /// use arbour::{ContextExt, ExitReason};
    /// struct Worker;
    /// impl Actor for Worker { type Context = Context<Self>; }
    /// # #[derive(Message)] #[rtype(result = "()")] struct Quit;
    /// impl Handler<Quit> for Worker {
    ///     type Result = ();
    ///     fn handle(&mut self, _: Quit, ctx: &mut Context<Self>) {
    ///         ctx.stop_with(ExitReason::Error("lost the database".into()));
    ///     }
    /// }
    /// ```
    fn stop_with(&mut self, reason: ExitReason);
}

impl<A: Actor<Context = Context<A>>> ContextExt for Context<A> {
    fn stop_with(&mut self, reason: ExitReason) {
        REQUESTED_EXIT.with(|r| *r.borrow_mut() = Some(reason));
        self.stop();
    }
}
