//! The `Node` handle: one node's identity, actors, names and supervisors,
//! and (once started with a listen address and a security setting) its
//! rooms (connections, membership, the cluster registry, remote spawn),
//! which `wiring` builds and whose events it routes. Glue only.

mod builder;
mod error;
mod net;
mod status;
mod wiring;

pub use builder::{NodeBuilder, DEFAULT_DRAIN_TIMEOUT};
pub use error::NodeError;
pub use net::Net;
pub use status::NodeStatus;

use crate::actor::{
    export, remote_ref, run_on_io, run_placed, run_placed_async, ActorRef, Host, Kind, NodeId, Placement,
    WorkerPlacement,
};
use crate::platform::{self, Workers};
use crate::registry::{GlobalRegistry, Registry};
use crate::spawn::SpawnError;
use crate::supervision::{SupervisorError, SupervisorRef, SupervisorSpec};
use crate::RemoteActor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wiring::Services;

/// One arbour node. Cheap to clone.
///
/// ```
/// let node = arbour::Node::builder("alpha").rng_seed(42).incarnation(1).build();
/// assert_eq!(node.node_id().to_string(), "alpha#1");
/// ```
///
/// A started node owns its workers and everything on them (actors,
/// supervisors, connections). [`Node::shutdown`] stops it gracefully;
/// dropping the last handle does the same in the background; the simulator
/// may crash it (`Node::crash`, with the `internals` feature). Either way nothing of it remains afterwards.
#[derive(Clone, Debug)]
pub struct Node {
    inner: Arc<NodeInner>,
}

#[derive(Debug)]
struct NodeInner {
    host: Host,
    registry: Arc<Registry>,
    /// The networked rooms; taken at shutdown, so the endpoint (and its
    /// port) is released even while handles to the node remain.
    net: arc_swap::ArcSwapOption<Services>,
    /// Whether the node was started with a network at all.
    networked: bool,
    /// The node's own workers (a started node).
    workers: Option<Workers>,
    /// Set once a shutdown (or crash) began.
    closing: AtomicBool,
    /// Set if the node shut down because the cluster declared it down.
    downed: AtomicBool,
    /// How long a graceful shutdown waits for what runs here for other
    /// nodes to move elsewhere ([`NodeBuilder::drain_timeout`]).
    drain_timeout: Duration,
    /// The node's wall clock (perhaps skewed).
    clock: platform::WallClock,
}

impl Drop for NodeInner {
    /// The last handle is gone: shut down gracefully in the background, on
    /// the node's I/O worker, then stop the workers.
    fn drop(&mut self) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (net, host) = (self.net.swap(None), self.host.clone());
        let leaving = self.leaving();
        let Some(workers) = self.workers.take() else {
            if let Some(net) = net {
                net.net.shutdown();
            }
            return;
        };
        let w = workers.clone();
        let job = move || {
            platform::spawn_local(async move {
                graceful(&host, net.as_ref(), leaving).await;
                w.stop();
            });
        };
        if workers.run_on(workers.io(), job).is_err() {
            workers.stop();
        }
    }
}

impl AsRef<Host> for Node {
    fn as_ref(&self) -> &Host {
        &self.inner.host
    }
}

/// How long a leaving node waits for its peers to take its goodbye, and
/// then for its connections to close.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// How a node's life ends, as its shutdown sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaving {
    /// It leaves, draining first for up to this long.
    Drain(Duration),
    /// The cluster declared it down: no drain, no goodbye.
    Downed,
}

impl NodeInner {
    fn leaving(&self) -> Leaving {
        if self.downed.load(Ordering::Acquire) {
            Leaving::Downed
        } else {
            Leaving::Drain(self.drain_timeout)
        }
    }
}

/// The graceful part of a shutdown: what other nodes supervise here is
/// moved elsewhere (a drain, bounded); root supervisors stop their trees, last
/// started first (each child with its own shutdown timeout, as in OTP);
/// then every peer is told goodbye and the endpoint closes. A life the
/// cluster declared `downed` says no goodbye: every member holds it down
/// already, and waiting on them would only put off the next life.
async fn graceful(host: &Host, net: Option<&Arc<Services>>, leaving: Leaving) {
    let downed = leaving == Leaving::Downed;
    host.in_node(async {
        if let (Some(net), Leaving::Drain(within)) = (net, leaving) {
            net.drain(host, within).await;
        }
        for hook in host.take_before_shutdown() {
            hook();
        }
        for root in host.take_roots().into_iter().rev() {
            (root.shutdown)().await;
        }
        match net {
            Some(net) if downed => net.net.shutdown(),
            Some(net) => net.leave(GOODBYE_WAIT).await,
            None => {}
        }
    })
    .await
}

/// A [`Node::spawn_kind`] to await, whose timeout may be set first.
#[must_use = "a spawn does nothing until awaited"]
#[derive(Debug)]
pub struct SpawnKind<'a, A: Kind> {
    node: &'a Node,
    at: Placement,
    kind: &'a str,
    args: &'a A::Args,
    timeout: Duration,
}

impl<A: Kind> SpawnKind<'_, A> {
    /// Waits up to `d` for a connection to the chosen node and its answer
    /// (default [`SPAWN_TIMEOUT`](crate::spawn::SPAWN_TIMEOUT)).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
}

impl<'a, A: Kind> std::future::IntoFuture for SpawnKind<'a, A> {
    type Output = Result<ActorRef<A>, NodeError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let s = self.node.services()?;
            Ok(s.spawner
                .spawn::<A>(
                    &self.node.inner.host,
                    &self.at,
                    self.kind,
                    self.args,
                    self.timeout,
                )
                .await?)
        })
    }
}


impl Node {
    /// The node's local name registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The node's actor host (what supervisors are started on; a `&Node`
    /// is one too, through `AsRef`).
    #[cfg(feature = "internals")]
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    /// This node's id: its name and this life's incarnation.
    pub fn node_id(&self) -> &NodeId {
        self.inner.host.node_id()
    }

    /// The node's counters now (dead letters, drops, restarts, panics).
    pub fn stats(&self) -> crate::actor::StatsSnapshot {
        self.inner.host.stats()
    }

    /// How many worker threads the node has.
    pub fn worker_count(&self) -> usize {
        self.inner.host.worker_count()
    }

    /// The next 64 bits of the node's seeded RNG ([`NodeBuilder::rng_seed`]):
    /// randomness an actor can replay, as the simulator does.
    pub fn random_u64(&self) -> u64 {
        self.inner.host.rng().next_u64()
    }

    /// The node's RNG, to derive a generator of one's own from.
    #[cfg(feature = "internals")]
    pub fn rng(&self) -> &crate::platform::NodeRng {
        self.inner.host.rng()
    }

    /// The worker this code runs on, if it is one of the node's.
    #[cfg(feature = "internals")]
    pub fn current_worker(&self) -> Option<usize> {
        self.inner.host.current_worker()
    }

    /// Starts `actor` on the current worker and returns its ref (a bare,
    /// unsupervised actor; supervise it with a [`SupervisorSpec`]
    /// instead to have it restarted). The actor runs until it stops, is
    /// stopped ([`ActorRef::stop`], [`ActorRef::kill`]) or its worker
    /// ends; dropping every ref does not stop it (unlike a bare actix
    /// `Addr`). If its `started` panics, the returned ref is already dead
    /// (`Panic`).
    ///
    /// "The current worker" is the node's worker this code runs on (inside
    /// [`NodeBuilder::run`]'s main, or an actor of the node), or the node's
    /// embedded worker on the thread that started it. The actor is not
    /// `Send`, so it cannot move to another thread: to place one elsewhere,
    /// give a factory to [`Node::spawn_on_worker`]. Called on a thread with
    /// no worker of the node, it spawns on that thread's own tokio
    /// `LocalSet` (and panics if there is none).
    pub fn spawn<A: actix::Actor<Context = actix::Context<A>>>(&self, actor: A) -> ActorRef<A> {
        self.inner.host.spawn(actor)
    }

    /// [`Node::spawn`] with options (a mailbox of another size).
    pub fn spawn_with<A: actix::Actor<Context = actix::Context<A>>>(
        &self,
        opts: crate::actor::SpawnOptions,
        actor: A,
    ) -> ActorRef<A> {
        self.inner.host.spawn_with(opts, actor)
    }

    fn services(&self) -> Result<Arc<Services>, NodeError> {
        match self.inner.net.load_full() {
            Some(net) => Ok(net),
            None if self.inner.networked => Err(NodeError::ShutDown),
            None => Err(NodeError::NoNetwork),
        }
    }

    /// Shuts the node down gracefully and waits until nothing of it runs:
    /// root supervisors stop their trees in OTP order (last started first,
    /// each child within its shutdown timeout); every peer is told goodbye,
    /// so its monitors of this node's actors fire at once (`Shutdown`) and
    /// its asks pending here fail at once ([`AskError::NodeShutdown`](crate::AskError::NodeShutdown)); the
    /// endpoint closes; the workers stop, ending whatever else ran on them.
    /// Calling it again waits for the first call to finish.
    ///
    /// Called from a task on the node's own worker, that task ends with the
    /// node: this returns only to callers outside the node.
    pub async fn shutdown(&self) {
        if !self.inner.closing.swap(true, Ordering::AcqRel) {
            let net = self.inner.net.swap(None);
            // on the node's I/O worker (where its network lives), not on
            // the caller's thread: the goodbye may dial a member
            let (host, on_worker) = (self.inner.host.clone(), net.clone());
            let leaving = self.inner.leaving();
            let done = run_on_io(&self.inner.host, move || async move {
                graceful(&host, on_worker.as_ref(), leaving).await
            });
            if let Err(e) = done.await {
                tracing::warn!(node = %self.node_id(), "shutdown: the graceful part could not run ({e})");
            }
            if let Some(w) = &self.inner.workers {
                w.stop();
            }
            if let Some(net) = net {
                net.net.shutdown();
            }
        }
        if let Some(w) = &self.inner.workers {
            w.stopped().await;
        }
    }

    internal_fn! {
        /// Ends the node at once, as a crash would: every task and actor of it
        /// is dropped with its workers, no stopping hook runs, no peer is told
        /// (peers notice through the idle timeout). For the simulator and for
        /// tests of what survives a crash. Resolves once nothing of it runs.
        async fn crash(&self) {
            self.inner.closing.store(true, Ordering::Release);
            let net = self.inner.net.swap(None);
            if let Some(w) = &self.inner.workers {
                w.stop();
                w.stopped().await;
            }
            drop(net);
        }
    }

    /// The time on this node's wall clock (the host's, shifted by
    /// [`NodeBuilder::clock_skew_ms`]). For timestamps an actor shows to
    /// people; never for timeouts or ordering (use the monotonic clock).
    pub fn wall_clock(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// Pauses the node (the simulator's SIGSTOP, or a long GC pause): none
    /// of its tasks runs until [`Node::resume`]; its timers fall due and its
    /// packets wait meanwhile. Only a node embedded in the caller's
    /// `LocalSet` ([`NodeBuilder::start`]) can be paused: false otherwise.
    #[cfg(feature = "internals")]
    pub fn pause(&self) -> bool {
        self.inner.workers.as_ref().is_some_and(Workers::pause)
    }

    /// Lets a paused node run again.
    #[cfg(feature = "internals")]
    pub fn resume(&self) {
        if let Some(w) = &self.inner.workers {
            w.resume();
        }
    }

    /// True once a shutdown or crash began.
    pub fn is_shut_down(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Makes actor type `A` startable on this node as `name`, from any
    /// node ([`Node::spawn_kind`]); the cluster learns that this node has it.
    pub fn kind<A: Kind>(&self, name: &str) -> Result<(), NodeError> {
        let s = self.services()?;
        if !s.spawner.add_kind::<A>(name) {
            return Err(SpawnError::Duplicate(name.to_owned()).into());
        }
        s.replica
            .with(|m| ((), m.add_kind(name).into_iter().collect()));
        Ok(())
    }

    /// Starts an actor of kind `kind` (registered there with
    /// [`Node::kind`]) on a node chosen by `at`, from `args`, and returns
    /// a ref to it once it runs; waits up to [`SPAWN_TIMEOUT`](crate::spawn::SPAWN_TIMEOUT)
    /// for a connection and the answer unless told otherwise
    /// (`.timeout(d)`). The actor is not supervised (place it under a
    /// supervisor with [`ChildSpec::remote`](crate::ChildSpec::remote)).
    pub fn spawn_kind<'a, A: Kind>(
        &'a self,
        at: Placement,
        kind: &'a str,
        args: &'a A::Args,
    ) -> SpawnKind<'a, A> {
        SpawnKind {
            node: self,
            at,
            kind,
            args,
            timeout: crate::spawn::SPAWN_TIMEOUT,
        }
    }

    /// The cluster-wide registry and process groups, seen from this node.
    pub fn global(&self) -> GlobalRegistry {
        match self.inner.net.load_full() {
            Some(s) => GlobalRegistry::new(Some((&s.replica, &s.net))),
            None if self.inner.networked => GlobalRegistry::shut_down(),
            None => GlobalRegistry::new(None),
        }
    }

    /// Starts an actor made by `make` on a worker of this node chosen by
    /// `at` (round-robin by default), and returns its ref once it runs.
    /// `make` runs on that worker, so the actor itself need not be `Send`.
    pub async fn spawn_on_worker<A, F>(
        &self,
        at: WorkerPlacement,
        make: F,
    ) -> Result<ActorRef<A>, NodeError>
    where
        A: actix::Actor<Context = actix::Context<A>>,
        F: FnOnce() -> A + Send + 'static,
    {
        let host = self.inner.host.clone();
        Ok(run_placed(&self.inner.host, at, move || host.spawn(make())).await?)
    }

    /// Starts `spec` on a worker of this node chosen by `at` (round-robin by
    /// default); its children run on the same worker.
    pub async fn start_supervisor(
        &self,
        at: WorkerPlacement,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, SupervisorError> {
        let host = self.inner.host.clone();
        run_placed_async(&self.inner.host, at, move || async move { spec.start(&host).await })
            .await
            .map_err(|e| SupervisorError::Placement(e.to_string()))?
    }

    /// Moves `actor`, a remote child of a supervisor on this node
    /// ([`ChildSpec::remote`](crate::supervision::ChildSpec::remote)), to
    /// node `to`: a replacement starts there, then the original stops; the
    /// supervisor sees no exit and counts no restart (stop-after-start, as
    /// a draining node's children move). False if no supervisor here has
    /// it. If the start fails, the original runs on (and it is logged).
    pub fn move_child(&self, actor: &crate::ActorId, to: &str) -> bool {
        self.services().is_ok_and(|s| s.spawner.move_to(actor, to))
    }

    /// Runs `hook` when the node begins a graceful shutdown (a signal,
    /// [`Node::shutdown`], the last handle dropped), before its supervisors
    /// stop: the moment to hand over what should outlive this node (see
    /// [`supervision::Release`](crate::supervision::Release)).
    pub fn before_shutdown(&self, hook: impl FnOnce() + Send + 'static) {
        self.inner.host.before_shutdown(Box::new(hook));
    }

    /// Registers `actor` under `name` in the local registry and makes it
    /// reachable from other nodes by that name ([`Node::lookup`]).    ///
    /// ```
    /// # use actix::prelude::*;
    /// # use std::time::Duration;
    /// # use arbour::Node;
    /// struct Echo;
    /// impl Actor for Echo { type Context = Context<Self>; }
    /// #[arbour::message(tag = "doc.ping.v1", reply = u64)]
    /// struct Ping(u64);
    /// arbour::remote_actor!(Echo { Ping });
    /// impl Handler<Ping> for Echo {
    ///     type Result = u64;
    ///     fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 { n + 1 }
    /// }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(
    /// # tokio::task::LocalSet::new().run_until(async {
    /// let alpha = Node::builder("alpha").secret("s3cret").start().await?;
    /// alpha.expose("echo", &alpha.spawn(Echo))?;
    /// let beta = Node::builder("beta")
    ///     .secret("s3cret")
    ///     .peer("alpha", alpha.net().local_addr()?)
    ///     .start()
    ///     .await?;
    /// let echo = beta.lookup::<Echo>("alpha", "echo", Duration::from_secs(5)).await?;
    /// assert_eq!(echo.ask(Ping(1)).await, Ok(2));
    /// # Ok::<(), arbour::NodeError>(())
    /// # })).unwrap();
    /// ```
    pub fn expose<A: RemoteActor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let net = &self.services()?.net;
        let exported = export(actor)?;
        self.inner.registry.register(name, actor)?;
        net.expose(name, exported);
        Ok(())
    }

    /// Lets any peer node stop `actor` from the wire (its ref's
    /// [`ActorRef::stop`] and `kill` on another node). Off by default: a
    /// peer may stop only the actors it spawned here, and the instances
    /// placed here for the cluster's deployments; an `Exit` for any other
    /// actor is refused and counted (`NetStats::exits_refused`).
    pub fn allow_remote_stop<A: RemoteActor>(&self, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let net = &self.services()?.net;
        let exported = export(actor)?;
        let local = exported.id().local;
        net.export_entry(exported);
        net.grant_stop(local, crate::remote::Stopper::Any);
        Ok(())
    }

    /// A ref to the actor that node `node` exposes as `name`. Waits (up to
    /// `timeout`) for a connection to `node` if there is none yet; a node
    /// that refuses us (another secret, CA, cluster name or protocol
    /// version) is [`NodeError::Refused`], saying which, at once. See
    /// [`Node::expose`] for an example.
    pub async fn lookup<A: RemoteActor>(
        &self,
        node: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<ActorRef<A>, NodeError> {
        let net = &self.services()?.net;
        let deadline = platform::deadline(timeout);
        let link = net.link_named(node);
        let conn = net.connected_for(&link, deadline, timeout).await?;
        let left = deadline.saturating_duration_since(platform::now());
        let (node_id, found) = link.whereis(&conn, name, left).await?;
        let Some(local) = found else {
            return Err(NodeError::NotFound {
                node: node.to_owned(),
                name: name.to_owned(),
            });
        };
        let id = crate::ActorId {
            node: node_id,
            local,
        };
        Ok(remote_ref(id, link, self.inner.host.counters().clone())?)
    }

    /// The cluster's membership as this node sees it: members alive and
    /// down, and their changes (empty without membership:
    /// [`NodeBuilder::seed_node`]).
    pub fn membership(&self) -> crate::membership::Membership {
        let s = self.inner.net.load();
        match s.as_ref().and_then(|s| s.members.as_ref()) {
            Some(m) => crate::membership::Membership::new(Some(m)),
            // shut down by the verdict: the handle still says so
            None if self.inner.downed.load(Ordering::Acquire) => {
                crate::membership::Membership::downed_and_gone()
            }
            None => crate::membership::Membership::default(),
        }
    }

    /// Closes every connection and stops listening at once, without a
    /// goodbye (peers see a lost connection: `NodeDown`). The actors keep
    /// running; [`Node::shutdown`] is the graceful way to stop a node. For
    /// tests of what a lost network does.
    #[cfg(feature = "internals")]
    pub fn shutdown_network(&self) {
        if let Some(s) = self.inner.net.load().as_ref() {
            s.net.shutdown();
        }
    }
}
