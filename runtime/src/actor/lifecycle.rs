//! One actor instance's life: the stop/kill requests it receives from other
//! threads, and the exit reason it ends with, delivered once to every watcher
//! (supervisor, monitors, `exited()` futures).

use super::ExitReason;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Called once with the instance's exit reason.
pub(crate) type Watcher = Box<dyn FnOnce(&ExitReason) + Send + 'static>;

/// Where an instance reports its exit to its supervisor: one shared sink per
/// supervisor, addressed with the child's (sequence, generation), so starting
/// a child allocates no notification closure.
pub(crate) trait ExitSink: Send + Sync {
    fn exited(&self, seq: u64, generation: u64, reason: &ExitReason);
}

type Parent = (Arc<dyn ExitSink>, u64, u64);

const RUN: u8 = 0;
const STOP: u8 = 1;
const KILL: u8 = 2;

/// Shared between an instance's task, its refs and its watchers.
///
/// It does not carry the actor's id (the slot does): it exists once per
/// instance, and 100k children should not pay for the id twice.
pub(crate) struct Lifecycle {
    request: AtomicU8,
    waker: AtomicWaker,
    reason: OnceLock<ExitReason>,
    /// The supervisor link: set once, right after a successful start (the
    /// instance cannot have exited yet: it runs on its starter's thread and
    /// nobody else knows it), so it needs no lock.
    parent: OnceLock<Parent>,
    watchers: Mutex<Watchers>,
    /// Senders waiting for room in a full mailbox (a stalled stream from the
    /// wire, a `tell_when_room`): woken after the actor's next turn, which
    /// drains its mailbox. The flag keeps that check to one load.
    room_wanted: AtomicBool,
    room: Mutex<Vec<std::task::Waker>>,
}

/// Monitors and other watchers, by key (in registration order: keys grow),
/// so removing one of many costs O(log n), not a scan.
#[derive(Default)]
struct Watchers {
    next: u64,
    rest: std::collections::BTreeMap<u64, Watcher>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("reason", &self.reason.get())
            .finish()
    }
}

/// What the task has been asked to do by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    Run,
    Stop,
    Kill,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Self {
            request: AtomicU8::new(RUN),
            waker: AtomicWaker::new(),
            reason: OnceLock::new(),
            parent: OnceLock::new(),
            watchers: Mutex::new(Watchers::default()),
            room_wanted: AtomicBool::new(false),
            room: Mutex::new(Vec::new()),
        }
    }

    /// Wakes `waker` after the actor's next turn (when its mailbox has room
    /// again) or when it exits.
    pub(crate) fn want_room(&self, waker: &std::task::Waker) {
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if !room.iter().any(|w| w.will_wake(waker)) {
            room.push(waker.clone());
        }
        self.room_wanted.store(true, Ordering::Release);
        drop(room);
        if self.reason.get().is_some() {
            self.made_room();
        }
    }

    /// The actor had its turn (or exited): wake whoever waits for room.
    #[inline]
    pub(crate) fn made_room(&self) {
        if self.room_wanted.load(Ordering::Acquire) {
            self.wake_room();
        }
    }

    #[cold]
    fn wake_room(&self) {
        let waiting = {
            let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
            self.room_wanted.store(false, Ordering::Release);
            std::mem::take(&mut *room)
        };
        for w in waiting {
            w.wake();
        }
    }

    /// Asks the actor to stop gracefully (its `stopping`/`stopped` run).
    pub(crate) fn request_stop(&self) {
        let _ = self
            .request
            .compare_exchange(RUN, STOP, Ordering::AcqRel, Ordering::Acquire);
        self.waker.wake();
    }

    /// Kills the actor at its next poll, without running its stop hooks.
    pub(crate) fn request_kill(&self) {
        self.request.store(KILL, Ordering::Release);
        self.waker.wake();
    }

    pub(crate) fn request(&self) -> Request {
        match self.request.load(Ordering::Acquire) {
            RUN => Request::Run,
            STOP => Request::Stop,
            _ => Request::Kill,
        }
    }

    pub(crate) fn register_waker(&self, w: &std::task::Waker) {
        self.waker.register(w);
    }

    /// The exit reason, once the instance has exited.
    pub(crate) fn exit_reason(&self) -> Option<&ExitReason> {
        self.reason.get()
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.reason.get().is_none()
    }

    /// Adds a watcher; if the instance already exited, calls it at once with
    /// `NoActor` (as Erlang's monitor of a dead pid gives `noproc`). Returns a
    /// key for [`Lifecycle::unwatch`].
    pub(crate) fn watch(&self, w: Watcher) -> Option<u64> {
        let mut ws = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if self.reason.get().is_some() {
            drop(ws);
            w(&ExitReason::NoActor);
            return None;
        }
        ws.next += 1;
        let key = ws.next;
        ws.rest.insert(key, w);
        Some(key)
    }

    /// Links the instance to its supervisor. If it already exited, reports
    /// `NoActor` at once (as a late watcher would see).
    pub(crate) fn set_parent(&self, sink: Arc<dyn ExitSink>, seq: u64, generation: u64) {
        let _ = self.parent.set((sink.clone(), seq, generation));
        // Should the instance have exited already (another thread killed it in
        // between), its finish may have missed the link: report it here. In a
        // tight race both sides report; the supervisor drops the second by
        // its generation.
        if let Some(reason) = self.reason.get() {
            sink.exited(seq, generation, reason);
        }
    }

    /// Removes a watcher; true if it was still registered.
    pub(crate) fn unwatch(&self, key: u64) -> bool {
        let mut ws = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        ws.rest.remove(&key).is_some()
    }

    /// Records the exit reason (first call wins) and notifies every watcher.
    pub(crate) fn finish(&self, reason: ExitReason) {
        let list = {
            let mut ws = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
            if self.reason.set(reason).is_err() {
                return;
            }
            std::mem::take(&mut ws.rest)
        };
        if let Some(reason) = self.reason.get() {
            if let Some((sink, seq, generation)) = self.parent.get() {
                sink.exited(*seq, *generation, reason);
            }
            for w in list.into_values() {
                w(reason);
            }
        }
        self.made_room();
    }
}

/// An actor instance, whatever its type, seen through its lifecycle.
pub(crate) trait HasLife: Send + Sync {
    fn life(&self) -> &Lifecycle;
}

/// A shared handle to one instance's lifecycle. It is the instance's own
/// `Arc` (mailbox sender and lifecycle share one allocation), type-erased.
#[derive(Clone)]
pub(crate) struct LifeRef(Arc<dyn HasLife>);

impl LifeRef {
    pub(crate) fn new(instance: Arc<dyn HasLife>) -> Self {
        Self(instance)
    }

    pub(crate) fn downgrade(&self) -> WeakLife {
        WeakLife(Arc::downgrade(&self.0))
    }
}

impl std::ops::Deref for LifeRef {
    type Target = Lifecycle;
    fn deref(&self) -> &Lifecycle {
        self.0.life()
    }
}

impl std::fmt::Debug for LifeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0.life(), f)
    }
}

/// A [`LifeRef`] that does not keep the instance alive (monitors).
#[derive(Clone, Debug)]
pub(crate) struct WeakLife(std::sync::Weak<dyn HasLife>);

impl WeakLife {
    pub(crate) fn upgrade(&self) -> Option<LifeRef> {
        self.0.upgrade().map(LifeRef)
    }
}
