//! Running an actix actor as a task whose panics become exit reasons.
//!
//! We drive the actor's `ContextFut` ourselves (rather than `Actor::start`)
//! so that a panic in `started`, a handler (sync or async) or `stopping` is
//! caught at the poll, turned into `ExitReason::Panic`, and reported to the
//! supervisor; the worker thread and the sibling actors on it carry on.
//! A handler whose future actix runs beside the actor (a `ResponseFuture`,
//! `Response::fut`) marks the actor when a message for it is sent; from
//! then on what the actor spawns runs in its capture (`platform::capture`),
//! polled by the same task, so a panic there is the actor's too. Actors
//! with no such handler pay one flag load a poll.

use super::actor_ref::Instance;
use super::exit::{restore_requested_exit, take_requested_exit};
use super::host::Stats;
use super::lifecycle::Request;
use super::ExitReason;
use crate::platform::capture::{Capture, Spawned};
use actix::dev::ContextFut;
use actix::{Actor, ActorContext, Context};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::task::{Context as TaskContext, Poll};

thread_local! {
    /// True while this thread polls an actor: the panic hook then records the
    /// panic for the exit reason instead of printing to stderr.
    static IN_ACTOR: Cell<bool> = const { Cell::new(false) };
    /// The last panic in actor code on this thread: its text and location.
    static PANIC: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// A panic payload's text.
fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Installs (once per process) a panic hook that records panics inside
/// actors (text and location) and leaves every other panic to the previous
/// hook.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_ACTOR.with(Cell::get) {
                let loc = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                let text = payload_text(info.payload());
                PANIC.with(|p| *p.borrow_mut() = Some((text, loc)));
            } else {
                previous(info);
            }
        }));
    });
}

/// "text at location", for an exit reason.
fn describe((text, loc): (String, Option<String>)) -> String {
    match loc {
        Some(loc) => format!("{text} at {loc}"),
        None => text,
    }
}

/// Runs `f` as actor code: panics are caught and described.
pub(crate) fn catch_actor_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let was = IN_ACTOR.with(|c| c.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_ACTOR.with(|c| c.set(was));
    r.map_err(|payload| match PANIC.with(|p| p.borrow_mut().take()) {
        Some(recorded) => describe(recorded),
        None => payload_text(&*payload),
    })
}

/// Polls what the actor spawned, as actor code: tokio catches a panic in
/// one of those tasks (and drops it), so the hook's record, left untaken,
/// is how we learn of it.
fn poll_spawned(capture: &mut Capture, cx: &mut TaskContext<'_>) -> Result<Spawned, String> {
    if !capture.has_tasks() {
        return Ok(Spawned::Idle);
    }
    PANIC.with(|p| p.borrow_mut().take());
    let was = IN_ACTOR.with(|c| c.replace(true));
    let polled = catch_unwind(AssertUnwindSafe(|| capture.poll(cx)));
    IN_ACTOR.with(|c| c.set(was));
    let recorded = PANIC.with(|p| p.borrow_mut().take());
    match (polled, recorded) {
        (Ok(_), Some(recorded)) => Err(describe(recorded)),
        (Ok(spawned), None) => Ok(spawned),
        (Err(payload), recorded) => Err(recorded
            .map(describe)
            .unwrap_or_else(|| payload_text(&*payload))),
    }
}

/// The task that owns one actor instance.
pub(crate) struct ActorTask<A: Actor<Context = Context<A>>> {
    fut: Option<ContextFut<A, Context<A>>>,
    /// The task owns its instance: an actor runs until it stops or is
    /// stopped, not until its refs are dropped (as in Erlang).
    inst: Arc<Instance<A>>,
    stop_applied: bool,
    /// Boxed: rarely set, and every actor's task carries the field.
    requested: Option<Box<ExitReason>>,
    stats: Arc<Stats>,
    /// What the actor's code spawned and still runs (most actors: none).
    /// (Boxed: most actors never hold one, and every actor's task carries
    /// the field.)
    capture: Option<Box<Capture>>,
}

impl<A: Actor<Context = Context<A>>> ActorTask<A> {
    pub(crate) fn new(
        fut: ContextFut<A, Context<A>>,
        inst: Arc<Instance<A>>,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            fut: Some(fut),
            inst,
            stats,
            stop_applied: false,
            requested: None,
            capture: None,
        }
    }

    fn end(&mut self, reason: ExitReason) {
        if matches!(reason, ExitReason::Panic(_)) {
            self.stats
                .panics
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // Record the reason before dropping the actor: asks whose replies are
        // dropped with the mailbox then see why.
        let killed = matches!(reason, ExitReason::Killed);
        self.inst.life.finish(reason);
        if killed {
            // killed (or dropped with its worker): what it spawned goes too
            if let Some(capture) = self.capture.take() {
                if let Err(msg) = catch_actor_panic(move || drop(capture)) {
                    tracing::warn!("a task the actor spawned panicked while being dropped: {msg}");
                }
            }
        } else {
            self.hand_off_spawned();
        }
        if let Some(mut fut) = self.fut.take() {
            // STOPPED: actix's Drop then does not poll the actor again.
            fut.ctx().terminate();
            if let Err(msg) = catch_actor_panic(move || drop(fut)) {
                tracing::warn!("actor panicked while being dropped: {msg}");
            }
        }
    }

    /// What the actor spawned and still runs goes on by itself on the
    /// worker (actix's spawned futures outlive their actor); its panics are
    /// no longer the actor's.
    fn hand_off_spawned(&mut self) {
        let Some(capture) = self.capture.take() else {
            return;
        };
        if let Some(capture) = (*capture).release() {
            if let Some(set) = capture.into_future() {
                drop(crate::platform::spawn_local(set));
            }
        }
    }

    /// One step of the actor. Public to the crate so a start can run the
    /// actor's `started` inline (OTP's synchronous init) before spawning it.
    pub(crate) fn step(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.fut.is_none() {
            return Poll::Ready(());
        }
        self.inst.life.register_waker(cx.waker());
        let stop_now = match self.inst.life.request() {
            Request::Kill => {
                self.end(ExitReason::Killed);
                return Poll::Ready(());
            }
            Request::Stop => !self.stop_applied,
            Request::Run => false,
        };
        if stop_now {
            // A stop travels behind the messages sent before it (Erlang's
            // per-pair order, and a trapping gen_server's 'EXIT' message):
            // the actor first handles what its mailbox holds, then stops.
            if self.poll_actor(cx).is_ready() {
                return Poll::Ready(());
            }
            self.stop_applied = true;
            if let Some(fut) = self.fut.as_mut() {
                fut.ctx().stop();
            }
        }
        let polled = self.poll_actor(cx);
        // the turn drained the mailbox: senders waiting for room may go on
        self.inst.life.made_room();
        polled
    }

    /// Polls the actor once (and what its code spawned, if it is captured),
    /// ending the task if it finished or panicked.
    fn poll_actor(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.capture.is_some() || self.inst.captures.load(Ordering::Relaxed) {
            return self.poll_captured(cx);
        }
        // nothing of it runs beside it (most actors): no capture to keep
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(());
        };
        let saved = take_requested_exit();
        let polled = catch_actor_panic(|| Pin::new(&mut *fut).poll(cx));
        if let Some(r) = take_requested_exit() {
            self.requested = Some(Box::new(r));
        }
        restore_requested_exit(saved);
        self.polled(polled)
    }

    /// [`ActorTask::poll_actor`] inside the actor's capture, then what it
    /// spawned.
    #[cold]
    #[inline(never)]
    fn poll_captured(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(());
        };
        let mut capture = self.capture.take().map_or_else(Capture::take, |c| *c);
        let saved = take_requested_exit();
        let polled = capture.run(|| catch_actor_panic(|| Pin::new(&mut *fut).poll(cx)));
        if let Some(r) = take_requested_exit() {
            self.requested = Some(Box::new(r));
        }
        restore_requested_exit(saved);
        let polled = match (polled, poll_spawned(&mut capture, cx)) {
            (Err(msg), _) | (Ok(_), Err(msg)) => Err(msg),
            (Ok(p), Ok(_)) => Ok(p),
        };
        self.capture = capture.release().map(Box::new);
        self.polled(polled)
    }

    /// Ends the task if the actor finished or panicked.
    fn polled(&mut self, polled: Result<Poll<()>, String>) -> Poll<()> {
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                let reason = match self.requested.take() {
                    Some(r) => *r,
                    None if self.stop_applied => ExitReason::Shutdown,
                    None => ExitReason::Normal,
                };
                self.end(reason);
                Poll::Ready(())
            }
            Err(msg) => {
                tracing::error!("actor panicked: {msg}");
                self.end(ExitReason::Panic(msg));
                Poll::Ready(())
            }
        }
    }
}

impl<A: Actor<Context = Context<A>>> Future for ActorTask<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.get_mut().step(cx)
    }
}

impl<A: Actor<Context = Context<A>>> Drop for ActorTask<A> {
    fn drop(&mut self) {
        // The task was dropped without finishing (its worker shut down, or the
        // simulator crashed the node): the actor is gone without a clean exit.
        if self.fut.is_some() {
            self.end(ExitReason::Killed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::actor_ref::spawns_beside;
    use actix::prelude::*;

    struct A;
    impl Actor for A {
        type Context = Context<Self>;
    }

    /// The handler forms whose future actix runs beside the actor, told
    /// apart by their type's name: if a compiler names them otherwise,
    /// this fails, instead of their panics going unseen.
    #[test]
    fn the_forms_that_run_beside_the_actor_are_told_by_name() {
        assert!(spawns_beside::<ResponseFuture<u32>>());
        assert!(spawns_beside::<ResponseFuture<Result<String, ()>>>());
        assert!(spawns_beside::<Response<u32>>());
        assert!(!spawns_beside::<u32>());
        assert!(!spawns_beside::<()>());
        assert!(!spawns_beside::<MessageResult<Ping>>());
        assert!(!spawns_beside::<ResponseActFuture<A, u32>>());
        assert!(!spawns_beside::<AtomicResponse<A, u32>>());
        assert!(!spawns_beside::<ActorResponse<A, u32>>());
        assert!(!spawns_beside::<Result<u32, String>>());
    }

    #[derive(Message)]
    #[rtype(result = "u32")]
    struct Ping;
}
