//! A node's workers: each one a tokio `LocalSet` (actix actors are `!Send`
//! and live on one thread), driven either by an OS thread of its own or, for
//! a node embedded in someone else's `LocalSet` (tests, the simulator), as a
//! task of that `LocalSet`.
//!
//! A worker *owns* everything spawned on it: actors, connections, timers,
//! quinn's drivers. Stopping the workers drops their `LocalSet`s, and with
//! them every task of the node at once, with no stopping hooks run (what the
//! simulator's crash of one node among many needs, and the last step of a
//! graceful shutdown). Nothing here keeps a node alive: the workers hold no
//! handle to the node, so a dropped node's tasks go with its workers.
//!
//! Work reaches a worker as a `Send` closure that runs inside its `LocalSet`
//! (where it may `spawn_local` actors). `Addr`s and `ActorRef`s cross
//! workers freely.
//!
//! A networked node on threads of its own has one more worker, the *I/O
//! worker* ([`Workers::io`]), where its network lives: the quinn drivers,
//! the connections' tasks, SWIM and the control services. No user actor is
//! placed there (round-robin and [`Workers::len`] count the user workers
//! only), so actors that keep every user worker busy never delay a probe's
//! answer and never get their node declared down. An embedded node has one
//! worker, which is both.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak as RcWeak};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, watch};
use tokio::task::LocalSet;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why the workers could not start or accept work.
#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    /// The OS refused a thread or the runtime could not be built.
    #[error("could not start worker {index}: {source}")]
    Start {
        /// Which worker.
        index: usize,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The workers were stopped.
    #[error("the node's workers are stopped")]
    Closed,
    /// A worker index past the number of workers.
    #[error("no worker {0} (the node has {1})")]
    NoSuchWorker(usize, usize),
}

thread_local! {
    /// The worker whose tasks this thread runs now: (workers id, index).
    static CURRENT: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
    /// Embedded workers that live on this thread, by workers id.
    static EMBEDDED: RefCell<Vec<(u64, RcWeak<LocalSet>)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Workers of any node in this process that have not ended yet.
static LIVE: std::sync::LazyLock<watch::Sender<usize>> =
    std::sync::LazyLock::new(|| watch::Sender::new(0));

/// How many workers (of every node in this process) still run: each one
/// that ended has dropped its `LocalSet` and every task on it. A node that
/// was shut down or dropped leaves none behind.
pub fn live_workers() -> usize {
    *LIVE.borrow()
}

/// Waits until at most `n` workers of the process still run.
pub async fn live_workers_at_most(n: usize) {
    let mut rx = LIVE.subscribe();
    let _ = rx.wait_for(|live| *live <= n).await;
}

/// The workers of one node. Cheap to clone; every method may be called from
/// any thread.
#[derive(Clone, Debug)]
pub struct Workers {
    inner: Arc<Inner>,
}

/// A handle to a node's workers that does not keep them running.
#[derive(Clone, Debug, Default)]
pub struct WeakWorkers {
    id: u64,
    weak: Weak<Inner>,
}

impl WeakWorkers {
    /// The workers, while anyone holds them.
    pub fn upgrade(&self) -> Option<Workers> {
        self.weak.upgrade().map(|inner| Workers { inner })
    }

    /// [`Workers::enter`]; free on one of the workers' own threads.
    #[inline]
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        if CURRENT.with(Cell::get).is_some_and(|(id, _)| id == self.id) {
            return f();
        }
        match self.upgrade() {
            Some(w) => w.enter(f),
            None => f(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    id: u64,
    /// One per worker: the user workers, then the I/O worker if it has one
    /// of its own.
    senders: Vec<mpsc::UnboundedSender<Job>>,
    /// How many of `senders` are user workers.
    user: usize,
    next: AtomicUsize,
    stop: watch::Sender<bool>,
    /// Workers still running.
    running: watch::Sender<usize>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The task driving an embedded worker, for an immediate abort.
    embedded: Mutex<Option<tokio::task::AbortHandle>>,
    /// Holds an embedded worker's `LocalSet` unpolled while paused.
    gate: Arc<Gate>,
}

/// Whether an embedded worker is paused, and the waker of the task that
/// drives it (woken on resume).
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<(bool, Option<std::task::Waker>)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // the last handle is gone: nothing can reach the workers any more
        self.stop.send_replace(true);
        if let Some(task) = self.embedded.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// Receives jobs and runs them until told to stop or every sender is gone.
async fn serve(mut jobs: mpsc::UnboundedReceiver<Job>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            job = jobs.recv() => match job {
                Some(job) => job(),
                None => return,
            },
        }
    }
}

/// Marks a worker as this thread's current one while it runs (and restores
/// the previous mark after, so an embedded worker inside another nests).
struct Mark {
    prev: Option<(u64, usize)>,
}

impl Mark {
    fn set(id: u64, index: usize) -> Self {
        Self {
            prev: CURRENT.with(|c| c.replace(Some((id, index)))),
        }
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

pin_project_lite::pin_project! {
    /// Polls an embedded worker's `LocalSet` with the worker marked current.
    struct Marked<F> {
        id: u64,
        gate: Arc<Gate>,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Marked<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        {
            let mut gate = this.gate.state.lock().unwrap_or_else(|p| p.into_inner());
            if gate.0 {
                gate.1 = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let _mark = Mark::set(*this.id, 0);
        this.fut.poll(cx)
    }
}

/// Drives a worker thread's `LocalSet` so that a wake made on this thread
/// while it is being polled costs no system call.
///
/// tokio's current-thread runtime wakes its root future through the I/O
/// driver (an eventfd write). A `LocalSet` wakes its root whenever a task
/// of its own is scheduled from outside its own context: while an actor's
/// code runs inside its capture (`platform::capture`), a reply to a task of
/// the worker is such a wake, and so is the `LocalSet`'s own "more to do".
/// This future polls the `LocalSet` with a waker that, on this thread and
/// during the poll, only asks for another poll, which it then makes at
/// once (a bounded number of times before yielding to the runtime's I/O
/// and timers). A wake from another thread, or between polls, goes to the
/// runtime as before.
struct SameThreadWakes<F> {
    fut: Pin<Box<F>>,
    flags: Arc<RepollFlags>,
}

/// What the waker and the poll loop share.
#[derive(Debug, Default)]
struct RepollFlags {
    /// Set while the future is being polled.
    polling: std::sync::atomic::AtomicBool,
    /// A wake came while polling: poll again.
    repoll: std::sync::atomic::AtomicBool,
    /// The runtime's waker, for wakes outside a poll.
    outer: futures_util::task::AtomicWaker,
}

impl std::task::Wake for RepollFlags {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Dekker with SeqCst: either the poll loop sees `repoll`, or this
        // sees `polling` false and wakes the runtime
        self.repoll.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.outer.wake();
        }
    }
}

/// Polls in a row before the runtime gets its turn (I/O, timers).
const REPOLLS: usize = 16;

impl<F: Future> SameThreadWakes<F> {
    fn new(fut: F) -> Self {
        Self {
            fut: Box::pin(fut),
            flags: Arc::new(RepollFlags::default()),
        }
    }
}

impl<F: Future> Future for SameThreadWakes<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.flags.outer.register(cx.waker());
        let waker = std::task::Waker::from(this.flags.clone());
        let mut inner = Context::from_waker(&waker);
        for _ in 0..REPOLLS {
            this.flags.polling.store(true, Ordering::SeqCst);
            this.flags.repoll.store(false, Ordering::SeqCst);
            let polled = this.fut.as_mut().poll(&mut inner);
            this.flags.polling.store(false, Ordering::SeqCst);
            if polled.is_ready() {
                return polled;
            }
            if !this.flags.repoll.swap(false, Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        // still more to do: let the runtime run its I/O and timers first
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Counts a worker as ended when dropped (however its thread or task ends).
/// The count lives in the watch itself, changed under its lock: two workers
/// ending at once on two threads must not both publish a stale count.
struct Ended {
    running: watch::Sender<usize>,
}

impl Ended {
    fn new(inner: &Inner) -> Self {
        LIVE.send_modify(|n| *n += 1);
        Self {
            running: inner.running.clone(),
        }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        self.running.send_modify(|n| *n = n.saturating_sub(1));
        LIVE.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Workers {
    fn inner(user: usize, senders: Vec<mpsc::UnboundedSender<Job>>) -> Inner {
        let n = senders.len();
        Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            senders,
            user,
            next: AtomicUsize::new(0),
            stop: watch::Sender::new(false),
            running: watch::Sender::new(n),
            threads: Mutex::new(Vec::new()),
            embedded: Mutex::new(None),
            gate: Arc::default(),
        }
    }

    /// Starts `n` workers (at least one), each on an OS thread of its own
    /// named `<node>-w<i>`, with a current-thread runtime that has IO and
    /// time enabled (quinn needs both). The first is also the I/O worker.
    pub fn threads(node: &str, n: usize) -> Result<Self, WorkersError> {
        Self::start_threads(node, n.max(1), false)
    }

    /// [`Workers::threads`] plus an I/O worker of its own, on a thread named
    /// `<node>-io`: `n` user workers and one for the network.
    pub fn threads_with_io(node: &str, n: usize) -> Result<Self, WorkersError> {
        Self::start_threads(node, n.max(1), true)
    }

    fn start_threads(node: &str, user: usize, own_io: bool) -> Result<Self, WorkersError> {
        let n = user + usize::from(own_io);
        let mut receivers = Vec::with_capacity(n);
        let mut senders = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::unbounded_channel::<Job>();
            senders.push(tx);
            receivers.push(rx);
        }
        let inner = Self::inner(user, senders);
        let mut threads = Vec::with_capacity(n);
        for (index, jobs) in receivers.into_iter().enumerate() {
            let name = if index == user {
                format!("{node}-io")
            } else {
                format!("{node}-w{index}")
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| WorkersError::Start { index, source })?;
            let (id, stop) = (inner.id, inner.stop.subscribe());
            let ended = Ended::new(&inner);
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let _ended = ended;
                    let _mark = Mark::set(id, index);
                    let local = LocalSet::new();
                    rt.block_on(SameThreadWakes::new(local.run_until(serve(jobs, stop))));
                    // drop every task of the worker inside its runtime
                    let _enter = rt.enter();
                    drop(local);
                })
                .map_err(|source| WorkersError::Start { index, source })?;
            threads.push(handle);
        }
        *inner.threads.lock().unwrap_or_else(|p| p.into_inner()) = threads;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// One worker embedded in the caller's `LocalSet`, on its thread: a
    /// `LocalSet` of its own, driven by a task of the caller's (tests and the
    /// simulator, where every node shares one thread). Must be called inside
    /// a `LocalSet`.
    pub fn embedded() -> Self {
        let (tx, jobs) = mpsc::unbounded_channel::<Job>();
        let inner = Self::inner(1, vec![tx]);
        let local = Rc::new(LocalSet::new());
        let id = inner.id;
        EMBEDDED.with(|e| {
            let mut e = e.borrow_mut();
            e.retain(|(_, w)| w.strong_count() > 0);
            e.push((id, Rc::downgrade(&local)));
        });
        let stop = inner.stop.subscribe();
        let ended = Ended::new(&inner);
        let gate = inner.gate.clone();
        let task = super::spawn_local(async move {
            let _ended = ended;
            Marked {
                id,
                gate,
                fut: local.run_until(serve(jobs, stop)),
            }
            .await;
            // dropping the last strong ref drops the LocalSet and its tasks
            drop(local);
        });
        *inner.embedded.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A handle that does not keep the workers running.
    pub fn downgrade(&self) -> WeakWorkers {
        WeakWorkers {
            id: self.inner.id,
            weak: Arc::downgrade(&self.inner),
        }
    }

    /// Number of user workers (the I/O worker, if it has a thread of its
    /// own, is not one).
    pub fn len(&self) -> usize {
        self.inner.user
    }

    /// The index of the I/O worker, where the node's network runs: past the
    /// user workers if it has a thread of its own, else the first worker.
    pub fn io(&self) -> usize {
        if self.inner.senders.len() > self.inner.user {
            self.inner.user
        } else {
            0
        }
    }

    /// Always false: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index of the worker this thread is running now, if it is one of
    /// these.
    pub fn current(&self) -> Option<usize> {
        CURRENT
            .with(Cell::get)
            .and_then(|(id, i)| (id == self.inner.id).then_some(i))
    }

    /// The next worker in round-robin order.
    pub fn next_index(&self) -> usize {
        self.inner.next.fetch_add(1, Ordering::Relaxed) % self.len()
    }

    /// Runs `job` on worker `index`, inside its `LocalSet`.
    pub fn run_on(
        &self,
        index: usize,
        job: impl FnOnce() + Send + 'static,
    ) -> Result<(), WorkersError> {
        let tx = self
            .inner
            .senders
            .get(index)
            .ok_or(WorkersError::NoSuchWorker(index, self.inner.senders.len()))?;
        if self.is_stopped() {
            return Err(WorkersError::Closed);
        }
        tx.send(Box::new(job)).map_err(|_| WorkersError::Closed)
    }

    /// Runs `job` on the next worker in round-robin order; returns its index.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) -> Result<usize, WorkersError> {
        let index = self.next_index();
        self.run_on(index, job)?;
        Ok(index)
    }

    /// Runs `f` so that what it spawns with `tokio::task::spawn_local` lands
    /// on one of these workers: as is on a thread that runs one, inside the
    /// embedded worker's `LocalSet` on the thread that embeds it, and (on any
    /// other thread) as is, wherever the caller's `LocalSet` puts it.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.current().is_some() {
            return f();
        }
        let id = self.inner.id;
        let local = EMBEDDED.with(|e| {
            e.borrow()
                .iter()
                .find(|(i, _)| *i == id)
                .and_then(|(_, w)| w.upgrade())
        });
        match local {
            Some(local) => {
                let _enter = local.enter();
                let _mark = Mark::set(id, 0);
                super::capture::plain(f)
            }
            None => f(),
        }
    }

    /// True if `enter` would place spawns on one of these workers.
    pub fn reachable_here(&self) -> bool {
        self.current().is_some()
            || EMBEDDED.with(|e| {
                e.borrow()
                    .iter()
                    .any(|(i, w)| *i == self.inner.id && w.strong_count() > 0)
            })
    }

    /// True if worker `index` runs on this thread: it is the current
    /// worker, or the embedded one that lives here (with no other worker of
    /// these current).
    pub fn is_here(&self, index: usize) -> bool {
        match self.current() {
            Some(current) => current == index,
            None => index == 0 && self.reachable_here(),
        }
    }

    /// Spawns `fut` on worker `index` (at once if it is this thread's).
    pub fn spawn_on<F>(&self, index: usize, fut: F) -> Result<(), WorkersError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.is_here(index) {
            self.enter(|| drop(super::spawn_local(fut)));
            return Ok(());
        }
        self.run_on(index, move || drop(tokio::task::spawn_local(fut)))
    }

    /// Stops every worker: each drops its `LocalSet`, and with it every task
    /// of the node (actors without their stopping hooks, connections without
    /// a goodbye). Returns at once; [`Workers::stopped`] waits for the end.
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
        let embedded = self
            .inner
            .embedded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = embedded {
            task.abort();
        }
    }

    /// Pauses an embedded worker (the simulator's SIGSTOP or long GC pause):
    /// none of its tasks is polled until [`Workers::resume`]; timers that
    /// fall due meanwhile run late, packets wait in the socket. Workers on
    /// threads of their own are not paused (false).
    pub fn pause(&self) -> bool {
        if self.inner.embedded.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            return false;
        }
        self.inner.gate.state.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        true
    }

    /// Lets a paused embedded worker run again.
    pub fn resume(&self) {
        let waker = {
            let mut gate = self.inner.gate.state.lock().unwrap_or_else(|p| p.into_inner());
            gate.0 = false;
            gate.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once [`Workers::stop`] was called (or every handle dropped).
    pub fn is_stopped(&self) -> bool {
        *self.inner.stop.borrow()
    }

    /// Waits until every worker has ended.
    pub async fn stopped(&self) {
        let mut running = self.inner.running.subscribe();
        let _ = running.wait_for(|left| *left == 0).await;
    }

    /// Stops the workers and waits (blocking) for their threads to end;
    /// a thread that is one of them is left to end on its own.
    pub fn join(&self) {
        self.stop();
        let threads =
            std::mem::take(&mut *self.inner.threads.lock().unwrap_or_else(|p| p.into_inner()));
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jobs_run_on_distinct_named_threads() {
        let workers = Workers::threads("t", 2).expect("start");
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..2 {
            let (tx, w) = (tx.clone(), workers.clone());
            workers
                .run_on(i, move || {
                    let name = std::thread::current().name().map(str::to_owned);
                    // spawn_local works: we are inside the worker's LocalSet
                    tokio::task::spawn_local(async move {
                        let _ = tx.send((name, w.current()));
                    });
                })
                .expect("run");
        }
        let mut seen: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("job ran"))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (Some("t-w0".into()), Some(0)),
                (Some("t-w1".into()), Some(1))
            ]
        );
        assert!(matches!(
            workers.run_on(5, || {}),
            Err(WorkersError::NoSuchWorker(5, 2))
        ));
        assert_eq!(workers.current(), None, "the test thread is not a worker");
        workers.join();
        assert!(matches!(
            workers.run_on(0, || {}),
            Err(WorkersError::Closed)
        ));
    }

    /// The I/O worker has a thread of its own that round-robin never
    /// picks, and from which no user worker counts as here.
    #[test]
    fn the_io_worker_is_a_thread_of_its_own_that_round_robin_skips() {
        let workers = Workers::threads_with_io("t", 2).expect("start");
        assert_eq!((workers.len(), workers.io()), (2, 2));
        let picked: std::collections::BTreeSet<usize> =
            (0..10).map(|_| workers.next_index()).collect();
        assert_eq!(picked, [0, 1].into(), "round-robin over the user workers");
        let (tx, rx) = std::sync::mpsc::channel();
        let w = workers.clone();
        workers
            .run_on(workers.io(), move || {
                let name = std::thread::current().name().map(str::to_owned);
                let _ = tx.send((name, w.current(), w.is_here(0), w.is_here(2)));
            })
            .expect("run");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).expect("job ran"),
            (Some("t-io".into()), Some(2), false, true)
        );
        assert!(matches!(
            workers.run_on(3, || {}),
            Err(WorkersError::NoSuchWorker(3, 3))
        ));
        let single = Workers::threads("s", 1).expect("start");
        assert_eq!((single.len(), single.io()), (1, 0), "the first is the I/O worker");
        workers.join();
        single.join();
    }

    /// Dropped when the task holding it is dropped.
    struct Flag(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn stopping_drops_every_task_of_the_workers_at_once() {
        let workers = Workers::threads("t", 2).expect("start");
        let dropped: Vec<_> = (0..2)
            .map(|_| Arc::new(std::sync::atomic::AtomicBool::new(false)))
            .collect();
        for (i, d) in dropped.iter().enumerate() {
            let flag = Flag(d.clone());
            workers
                .spawn_on(i, async move {
                    let _flag = flag;
                    std::future::pending::<()>().await;
                })
                .expect("spawn");
        }
        workers.join();
        assert!(dropped.iter().all(|d| d.load(Ordering::SeqCst)));
    }

    #[test]
    fn an_embedded_worker_owns_what_is_spawned_into_it_and_ends_alone() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        LocalSet::new().block_on(&rt, async {
            let a = Workers::embedded();
            let b = Workers::embedded();
            let (da, db) = (
                Arc::new(std::sync::atomic::AtomicBool::new(false)),
                Arc::new(std::sync::atomic::AtomicBool::new(false)),
            );
            for (w, d) in [(&a, &da), (&b, &db)] {
                let flag = Flag(d.clone());
                w.enter(|| {
                    tokio::task::spawn_local(async move {
                        let _flag = flag;
                        std::future::pending::<()>().await;
                    })
                });
            }
            assert_eq!(a.current(), None, "outside the worker");
            assert_eq!(a.enter(|| a.current()), Some(0));
            a.stop();
            tokio::time::timeout(Duration::from_secs(5), a.stopped())
                .await
                .expect("a ends");
            assert!(da.load(Ordering::SeqCst), "a's task is gone");
            assert!(!db.load(Ordering::SeqCst), "b is untouched");
            assert!(b.reachable_here() && !a.is_empty());
            b.stop();
            tokio::time::timeout(Duration::from_secs(5), b.stopped())
                .await
                .expect("b ends");
            assert!(db.load(Ordering::SeqCst));
        });
    }
}
