//! The per-node core the actor layer needs: identity, id allocation, the
//! node's RNG, counters, and starting actor instances.

use super::actor_ref::{ActorRef, Instance, Slot, DEFAULT_MAILBOX};
use super::lifecycle::Lifecycle;
use super::task::{catch_actor_panic, install_panic_hook, ActorTask};
use super::{ActorId, ExitReason, NodeId};
use crate::platform::{self, NodeRng, WeakWorkers, Workers};
use actix::{Actor, Context};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use tracing::Instrument;

/// Counters kept from a node's start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Tells to a ref with no running instance.
    pub dead_letters: AtomicU64,
    /// Messages from the wire dropped because the recipient's mailbox was
    /// full (only when the stream could not be stalled; normally it is).
    pub mailbox_full_drops: AtomicU64,
    /// Plain tells to remote actors dropped because the connection held its
    /// whole outbound cap (logged at warn on the 1st, 2nd, 4th, 8th… drop).
    pub outbound_drops: AtomicU64,
    /// Child restarts performed by supervisors on this node.
    pub restarts: AtomicU64,
    /// Actor instances that ended in a panic.
    pub panics: AtomicU64,
}

/// A node's counters at one moment ([`Node::stats`](crate::Node::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Tells to a ref with no running instance.
    pub dead_letters: u64,
    /// Messages from the wire dropped because the recipient's mailbox was
    /// full.
    pub mailbox_full_drops: u64,
    /// Plain tells to another node dropped past the peer's outbound cap.
    pub outbound_drops: u64,
    /// Child restarts performed by supervisors on this node.
    pub restarts: u64,
    /// Actor instances that ended in a panic.
    pub panics: u64,
}

/// Why an actor instance did not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The start function returned an error.
    #[error("start function failed: {0}")]
    Failed(String),
    /// The start function or the actor's `started` panicked.
    #[error("panicked while starting: {0}")]
    Panicked(String),
    /// The actor stopped inside `started`.
    #[error("stopped while starting ({0})")]
    Exited(ExitReason),
    /// Not a failure: the start function declined (OTP's `ignore`, from
    /// [`ChildSpec::worker_or_ignore`](crate::ChildSpec::worker_or_ignore)).
    /// A supervisor treats the child as started and stopped at once.
    #[error("the start function returned ignore")]
    Ignored,
}

/// How to start an actor instance.
#[derive(Clone, Copy, Debug)]
pub struct SpawnOptions {
    /// Mailbox capacity in messages; see the full-mailbox policy on
    /// [`ActorRef`]. `0` means unbounded (Erlang's and Akka's default): tells
    /// are never dropped and asks never fail with `MailboxFull`, and the
    /// senders answer for memory.
    pub mailbox: usize,
}

impl SpawnOptions {
    /// An unbounded mailbox.
    pub const UNBOUNDED: SpawnOptions = SpawnOptions { mailbox: 0 };
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            mailbox: DEFAULT_MAILBOX,
        }
    }
}

/// The actor layer's view of a node: what a supervisor is started on
/// (`SupervisorSpec::start(&node)` takes any `AsRef<Host>`, which a
/// [`Node`](crate::Node) is). Cheap to clone; its workings are the node's.
#[derive(Clone, Debug)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    id: NodeId,
    rng: NodeRng,
    next_local: AtomicU64,
    stats: Arc<Stats>,
    /// The node's workers, once it has its own (a started node).
    workers: OnceLock<WeakWorkers>,
    /// The supervisors started on this node directly, in start order; a
    /// shutdown stops them in reverse.
    roots: Mutex<Vec<Root>>,
    /// What runs when a graceful shutdown begins, before the roots stop.
    before_shutdown: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    /// The node's spawn service, once started with a network (for
    /// children that run on other nodes).
    spawner: OnceLock<std::sync::Weak<dyn super::placement::RemoteSpawn>>,
}

impl std::fmt::Debug for HostInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Stops one root supervisor's tree and resolves when it has.
pub(crate) type RootShutdown =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A supervisor started on a node directly.
pub(crate) struct Root {
    pub(crate) id: ActorId,
    pub(crate) shutdown: RootShutdown,
}

impl Host {
    /// A host for node `name` in its `incarnation`, with RNG seeded by `seed`.
    pub(crate) fn new(name: &str, incarnation: u64, seed: u64) -> Self {
        install_panic_hook();
        Self {
            inner: Arc::new(HostInner {
                id: NodeId::new(name, incarnation),
                rng: NodeRng::from_seed(seed),
                next_local: AtomicU64::new(1),
                stats: Arc::new(Stats::default()),
                workers: OnceLock::new(),
                roots: Mutex::new(Vec::new()),
                before_shutdown: Mutex::new(Vec::new()),
                spawner: OnceLock::new(),
            }),
        }
    }

    /// Notes the node's spawn service (once).
    pub(crate) fn set_spawner(&self, spawner: std::sync::Weak<dyn super::placement::RemoteSpawn>) {
        let _ = self.inner.spawner.set(spawner);
    }

    /// The node's spawn service, if it has a network and it still exists.
    pub(crate) fn spawner(&self) -> Option<Arc<dyn super::placement::RemoteSpawn>> {
        self.inner.spawner.get().and_then(std::sync::Weak::upgrade)
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> &NodeId {
        &self.inner.id
    }

    /// This node's seeded RNG.
    pub(crate) fn rng(&self) -> &NodeRng {
        &self.inner.rng
    }

    /// The node's counters now.
    pub(crate) fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            dead_letters: s.dead_letters.load(Ordering::Relaxed),
            mailbox_full_drops: s.mailbox_full_drops.load(Ordering::Relaxed),
            outbound_drops: s.outbound_drops.load(Ordering::Relaxed),
            restarts: s.restarts.load(Ordering::Relaxed),
            panics: s.panics.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn counters(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// Gives the host its node's workers (once, when the node starts).
    pub(crate) fn set_workers(&self, workers: &Workers) {
        let _ = self.inner.workers.set(workers.downgrade());
    }

    /// The node's workers, if it has its own and they run.
    pub(crate) fn workers(&self) -> Option<Workers> {
        self.inner.workers.get().and_then(WeakWorkers::upgrade)
    }

    /// How many workers the node has (1 for a node without its own, which
    /// runs on its caller's thread).
    pub(crate) fn worker_count(&self) -> usize {
        self.workers().map_or(1, |w| w.len())
    }

    /// The index of the node's worker this code runs on, if it runs on one.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub(crate) fn current_worker(&self) -> Option<usize> {
        self.workers().and_then(|w| w.current())
    }

    /// Runs `f` so that what it spawns lands on one of the node's workers
    /// (see [`Workers::enter`]); a node without workers of its own spawns
    /// on the caller's.
    #[inline]
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.inner.workers.get() {
            Some(w) => w.enter(f),
            None => f(),
        }
    }

    /// `fut`, polled as if on one of the node's workers: what it spawns is
    /// the node's (and ends with it).
    pub(crate) fn in_node<F: Future>(&self, fut: F) -> InNode<F> {
        InNode {
            host: self.clone(),
            fut,
        }
    }

    /// Records a supervisor started on the node directly.
    pub(crate) fn add_root(&self, root: Root) {
        lock(&self.inner.roots).push(root);
    }

    /// Forgets a root supervisor (it exited).
    pub(crate) fn remove_root(&self, id: &ActorId) {
        lock(&self.inner.roots).retain(|r| &r.id != id);
    }

    /// Runs `hook` when a graceful shutdown begins, before the root
    /// supervisors stop.
    pub(crate) fn before_shutdown(&self, hook: Box<dyn FnOnce() + Send>) {
        lock(&self.inner.before_shutdown).push(hook);
    }

    /// Takes the hooks to run as a graceful shutdown begins, in order.
    pub(crate) fn take_before_shutdown(&self) -> Vec<Box<dyn FnOnce() + Send>> {
        std::mem::take(&mut *lock(&self.inner.before_shutdown))
    }

    /// Takes every root supervisor, in start order.
    pub(crate) fn take_roots(&self) -> Vec<Root> {
        std::mem::take(&mut *lock(&self.inner.roots))
    }

    /// A handle that does not keep the host's node alive.
    pub(crate) fn downgrade(&self) -> WeakHost {
        WeakHost(Arc::downgrade(&self.inner))
    }

    /// A fresh actor id on this node.
    pub(crate) fn next_actor_id(&self) -> ActorId {
        ActorId {
            node: self.inner.id.clone(),
            local: self.inner.next_local.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Starts an unsupervised actor on the current worker and returns its ref.
    ///
    /// As an Erlang process, the actor runs until it stops itself, is stopped
    /// ([`ActorRef::stop`], [`ActorRef::kill`]) or its worker ends; dropping
    /// every ref does not stop it (unlike a bare actix `Addr`). If its
    /// `started` panics, the returned ref is already dead (`Panic`).
    ///
    /// "The current worker" is the node's worker this code runs on (inside
    /// `NodeBuilder::run`'s main, or an actor of the node), or the node's
    /// embedded worker on the thread that started it. The actor is not
    /// `Send`, so it cannot move to another thread: to place one elsewhere,
    /// give a factory to `Node::spawn_on_worker`. Called on a thread with no
    /// worker of the node, it spawns on that thread's own tokio `LocalSet`
    /// (and panics if there is none).
    pub(crate) fn spawn<A: Actor<Context = Context<A>>>(&self, actor: A) -> ActorRef<A> {
        self.spawn_with(SpawnOptions::default(), actor)
    }

    /// [`Host::spawn`] with options.
    pub(crate) fn spawn_with<A: Actor<Context = Context<A>>>(
        &self,
        opts: SpawnOptions,
        actor: A,
    ) -> ActorRef<A> {
        let slot = Arc::new(Slot::new(self.next_actor_id(), self.counters().clone()));
        match self.enter(|| start_instance(&slot, opts, || Ok(actor), self.counters())) {
            Ok(inst) => {
                let weak = Arc::downgrade(&slot);
                inst.life.watch(Box::new(move |_| {
                    if let Some(s) = weak.upgrade() {
                        s.close();
                    }
                }));
            }
            Err(e) => {
                tracing::warn!(actor = %slot.id, "actor failed to start: {e}");
                slot.close();
            }
        }
        ActorRef::from_slot(slot)
    }
}

impl AsRef<Host> for Host {
    fn as_ref(&self) -> &Host {
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A [`Host`] that does not keep it alive.
#[derive(Clone, Debug)]
pub(crate) struct WeakHost(std::sync::Weak<HostInner>);

impl WeakHost {
    pub(crate) fn upgrade(&self) -> Option<Host> {
        self.0.upgrade().map(|inner| Host { inner })
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside its node (see [`Host::in_node`]).
    pub(crate) struct InNode<F> {
        host: Host,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for InNode<F> {
    type Output = F::Output;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        this.host.enter(|| fut.poll(cx))
    }
}

/// Starts one instance of an actor into `slot`: builds it with `make`, runs
/// its `started` inline (so a failing start is reported to the caller, as
/// OTP's `init` is), then spawns it on the current worker.
pub(crate) fn start_instance<A: Actor<Context = Context<A>>>(
    slot: &Slot<A>,
    opts: SpawnOptions,
    make: impl FnOnce() -> Result<A, StartError>,
    stats: &Arc<Stats>,
) -> Result<Arc<Instance<A>>, StartError> {
    let id = slot.id.clone();
    let actor = catch_actor_panic(make).map_err(StartError::Panicked)??;
    // actix's channel treats a capacity of 0 as unbounded
    let (tx, rx) = actix::dev::channel::channel::<A>(opts.mailbox);
    let inst = Arc::new(Instance {
        tx,
        bounded: opts.mailbox > 0,
        life: Lifecycle::new(),
        captures: std::sync::atomic::AtomicBool::new(false),
    });
    let fut = Context::with_receiver(rx).into_future(actor);
    let mut task = ActorTask::new(fut, inst.clone(), stats.clone());
    // a root span: an actor is not part of whoever happened to start it
    let span = tracing::info_span!(parent: None, "actor", node = %id.node, actor = id.local);
    let first = span.in_scope(|| {
        let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
        task.step(&mut cx)
    });
    if let Poll::Ready(()) = first {
        let reason = inst
            .life
            .exit_reason()
            .cloned()
            .unwrap_or(ExitReason::NoActor);
        return Err(match reason {
            ExitReason::Panic(m) => StartError::Panicked(m),
            r => StartError::Exited(r),
        });
    }
    slot.set(Some(inst.clone()));
    // Only pay for the span in every poll (and its 40 bytes per actor) when a
    // subscriber wants it.
    if span.is_disabled() {
        platform::spawn_local(task);
    } else {
        platform::spawn_local(task.instrument(span));
    }
    Ok(inst)
}
