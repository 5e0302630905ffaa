//! Where `tokio::task::spawn_local` lands while an actor's code runs.
//!
//! actix runs a handler's `ResponseFuture` (and `Response::fut`, and whatever
//! a handler hands to `actix::spawn`) as a task of its own, beside the actor:
//! a panic there would end only that task, unseen by supervision, and the
//! asker would be told the actor is gone while it lives. So while an actor is
//! polled, a `LocalSet` of its own is entered (a *capture*): what its code
//! spawns lands there, the actor's task polls that set, and a panic in it is
//! the actor's panic.
//!
//! arbour's own tasks (actors it starts, supervisors' helpers, the
//! transport) are not the actor's: [`spawn_local`](super::spawn_local) steps
//! out of every capture above the innermost plain scope (a worker entered by
//! [`Workers::enter`](super::Workers::enter)) and spawns there.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use tokio::task::{JoinHandle, LocalEnterGuard, LocalSet};

/// Spare captures kept per thread: most polls spawn nothing, and the one a
/// poll borrowed goes back here.
const SPARES: usize = 16;

enum Scope {
    /// A capture entered around an actor's poll.
    Capture(Rc<LocalSet>, LocalEnterGuard),
    /// A worker's own `LocalSet` entered on purpose: spawns stop here.
    Plain,
}

thread_local! {
    /// The scopes entered on this thread, innermost last.
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
    static SPARE: RefCell<Vec<Capture>> = const { RefCell::new(Vec::new()) };
}

/// Set when a task is spawned into an idle capture (its `LocalSet` wakes
/// the waker it last registered, which is this one while idle).
#[derive(Debug, Default)]
struct SpawnFlag(AtomicBool);

impl Wake for SpawnFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// One actor's capture: the `LocalSet` its code spawns into.
pub(crate) struct Capture {
    set: Rc<LocalSet>,
    flag: Arc<SpawnFlag>,
    /// True while it holds tasks (the actor's waker is registered with it).
    busy: bool,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").field("busy", &self.busy).finish()
    }
}

/// What a capture's tasks did when polled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Spawned {
    /// Nothing runs in it (any more).
    Idle,
    /// Tasks are waiting; the actor's task is woken when one can go on.
    Busy,
}

impl Capture {
    /// A spare capture of this thread, or a new one.
    pub(crate) fn take() -> Self {
        SPARE
            .with(|s| s.borrow_mut().pop())
            .unwrap_or_else(Self::new)
    }

    fn new() -> Self {
        let mut capture = Self {
            set: Rc::new(LocalSet::new()),
            flag: Arc::new(SpawnFlag::default()),
            busy: false,
        };
        capture.arm();
        capture
    }

    /// Registers the spawn flag as the set's waker (the set is empty: the
    /// poll only registers it).
    fn arm(&mut self) {
        self.flag.0.store(false, Ordering::Release);
        let waker = Waker::from(self.flag.clone());
        let _ = self.poll_set(&mut Context::from_waker(&waker));
    }

    fn poll_set(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match Rc::get_mut(&mut self.set) {
            Some(set) => std::pin::Pin::new(set).poll(cx),
            // only a scope holds another clone, and scopes end with `run`
            None => Poll::Pending,
        }
    }

    /// Runs `f` with this capture as where `tokio::task::spawn_local` lands.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                let scope = SCOPES.with(|s| s.borrow_mut().pop());
                drop(scope);
            }
        }
        let guard = self.set.enter();
        SCOPES.with(|s| s.borrow_mut().push(Scope::Capture(self.set.clone(), guard)));
        let _leave = Leave;
        f()
    }

    /// True if it may hold tasks: it did, or one was spawned since it was
    /// idle.
    pub(crate) fn has_tasks(&self) -> bool {
        self.busy || self.flag.0.load(Ordering::Acquire)
    }

    /// Runs the tasks that can go on, registering `cx`'s waker for the rest.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Spawned {
        if !self.has_tasks() {
            return Spawned::Idle;
        }
        match self.poll_set(cx) {
            Poll::Ready(()) => {
                self.busy = false;
                self.arm();
                Spawned::Idle
            }
            Poll::Pending => {
                self.busy = true;
                Spawned::Busy
            }
        }
    }

    /// Gives an idle capture back to this thread's spares; returns a busy one.
    pub(crate) fn release(self) -> Option<Self> {
        if self.has_tasks() {
            return Some(self);
        }
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARES {
                s.push(self);
            }
        });
        None
    }

    /// Its tasks as one future that runs them to their end (they outlive the
    /// actor, as actix's spawned futures do).
    pub(crate) fn into_future(self) -> Option<LocalSet> {
        Rc::try_unwrap(self.set).ok()
    }
}

/// Marks a worker's own `LocalSet` as entered for the length of `f`:
/// spawns inside stop there rather than stepping out further.
pub(crate) fn plain<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            SCOPES.with(|s| s.borrow_mut().pop());
        }
    }
    SCOPES.with(|s| s.borrow_mut().push(Scope::Plain));
    let _leave = Leave;
    f()
}

/// `tokio::task::spawn_local`, outside every capture above the innermost
/// plain scope: on the worker, not in the actor whose code runs now.
pub(crate) fn spawn_outside<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let inside = SCOPES.with(|s| matches!(s.borrow().last(), Some(Scope::Capture(..))));
    if !inside {
        return tokio::task::spawn_local(fut);
    }
    // leave the captures innermost first (each guard restores the context
    // it replaced), spawn, and enter them again outermost first
    let mut left = Vec::new();
    SCOPES.with(|s| {
        let mut s = s.borrow_mut();
        while let Some(Scope::Capture(..)) = s.last() {
            if let Some(Scope::Capture(set, guard)) = s.pop() {
                drop(guard);
                left.push(set);
            }
        }
    });
    let handle = tokio::task::spawn_local(fut);
    SCOPES.with(|s| {
        let mut s = s.borrow_mut();
        for set in left.into_iter().rev() {
            let guard = set.enter();
            s.push(Scope::Capture(set, guard));
        }
    });
    handle
}
