//! Where an actor runs: on which worker of its node ([`WorkerPlacement`]),
//! on which node of the cluster ([`Placement`]), and the node's spawn
//! service as actor-level code (a supervisor's remote child) reaches it
//! ([`RemoteSpawn`]), without knowing the room that provides it.

use super::{ActorId, Exported, Host, Outbound};
use crate::platform::{Workers, WorkersError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Which of a node's workers an actor or supervisor goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerPlacement {
    /// The next worker in round-robin order.
    #[default]
    RoundRobin,
    /// This worker (0-based; a node has
    /// [`NodeBuilder::workers`](crate::NodeBuilder::workers) of them).
    Worker(usize),
}

impl WorkerPlacement {
    /// For a node without workers of its own (it runs on its caller's
    /// thread, its one "worker 0"): any placement but another worker.
    pub(crate) fn only_here(self) -> Result<(), WorkersError> {
        match self {
            WorkerPlacement::Worker(i) if i > 0 => Err(WorkersError::NoSuchWorker(i, 1)),
            _ => Ok(()),
        }
    }

    pub(crate) fn index(self, workers: &Workers) -> Result<usize, WorkersError> {
        match self {
            WorkerPlacement::RoundRobin => Ok(workers.next_index()),
            WorkerPlacement::Worker(i) if i < workers.len() => Ok(i),
            WorkerPlacement::Worker(i) => Err(WorkersError::NoSuchWorker(i, workers.len())),
        }
    }
}

/// The worker `at` chooses on `host` and its index, or `None` if that is
/// this thread (or the host has no workers and `at` allows that).
fn chosen_worker(host: &Host, at: WorkerPlacement) -> Result<Option<(Workers, usize)>, WorkersError> {
    let Some(workers) = host.workers() else {
        at.only_here()?;
        return Ok(None);
    };
    let index = at.index(&workers)?;
    Ok(unless_here(workers, index))
}

/// `workers` and `index`, or `None` if that worker is this thread's.
fn unless_here(workers: Workers, index: usize) -> Option<(Workers, usize)> {
    if workers.is_here(index) {
        return None;
    }
    Some((workers, index))
}

/// Runs `f` on a worker of `host` chosen by `at` (at once if that is this
/// thread) and returns what it returned.
pub(crate) async fn run_placed<R, F>(
    host: &Host,
    at: WorkerPlacement,
    f: F,
) -> Result<R, WorkersError>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let Some((workers, index)) = chosen_worker(host, at)? else {
        return Ok(f());
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    workers.run_on(index, move || {
        let _ = tx.send(f());
    })?;
    rx.await.map_err(|_| WorkersError::Closed)
}

/// [`run_placed`] for work that waits: the future `f` makes runs to its
/// end as a task of the chosen worker (in the caller's task if that is
/// this thread).
pub(crate) async fn run_placed_async<R, F, Fut>(
    host: &Host,
    at: WorkerPlacement,
    f: F,
) -> Result<R, WorkersError>
where
    R: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R> + 'static,
{
    let worker = chosen_worker(host, at)?;
    run_async_on(worker, f).await
}

/// [`run_placed_async`] on the node's I/O worker, where its network lives
/// (see [`Workers::io`]): a dial, a goodbye, anything that spawns tasks of
/// the network, whatever thread asks for it.
pub(crate) async fn run_on_io<R, F, Fut>(host: &Host, f: F) -> Result<R, WorkersError>
where
    R: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R> + 'static,
{
    let worker = host.workers().and_then(|w| {
        let io = w.io();
        unless_here(w, io)
    });
    run_async_on(worker, f).await
}

async fn run_async_on<R, F, Fut>(worker: Option<(Workers, usize)>, f: F) -> Result<R, WorkersError>
where
    R: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R> + 'static,
{
    let Some((workers, index)) = worker else {
        return Ok(f().await);
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    workers.run_on(index, move || {
        crate::platform::spawn_local(async move {
            let _ = tx.send(f().await);
        });
    })?;
    rx.await.map_err(|_| WorkersError::Closed)
}

/// Where [`Node::spawn_kind`](crate::Node::spawn_kind) starts an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On this node (by name; it may be this one).
    Node(String),
    /// On a live member with this role ([`NodeBuilder::role`](crate::NodeBuilder::role))
    /// that has the kind; round-robin among them, as for `Any`.
    Role(String),
    /// On any live member that has the kind, this node included:
    /// round-robin over them in name order, from where this node's last
    /// pick left off. (Round-robin spreads a supervisor's children evenly
    /// without a load figure every node would have to gossip.)
    Any,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placement::Node(n) => write!(f, "node {n}"),
            Placement::Role(r) => write!(f, "role {r}"),
            Placement::Any => f.write_str("any node"),
        }
    }
}

/// An actor that can be started by name from any node of the cluster
/// ([`Node::kind`](crate::Node::kind), [`Node::spawn_kind`](crate::Node::spawn_kind)).
///
/// ```
/// # use actix::prelude::*;
/// use serde::{Deserialize, Serialize};
/// struct FibWorker { max: u32 }
/// impl Actor for FibWorker { type Context = Context<Self>; }
/// #[arbour::message(tag = "doc.fib.v1", reply = u64)]
/// struct Fib(u32);
/// impl Handler<Fib> for FibWorker {
///     type Result = u64;
///     fn handle(&mut self, Fib(n): Fib, _: &mut Context<Self>) -> u64 { n.min(self.max).into() }
/// }
/// arbour::remote_actor!(FibWorker { Fib });
/// #[derive(Clone, Serialize, Deserialize)]
/// struct FibArgs { max: u32 }
/// impl arbour::cluster::Kind for FibWorker {
///     type Args = FibArgs;
///     fn from_args(args: FibArgs) -> Self { FibWorker { max: args.max } }
/// }
/// ```
pub trait Kind: super::RemoteActor {
    /// The start arguments, as they cross the network.
    type Args: serde::Serialize + serde::de::DeserializeOwned + Send + 'static;
    /// Builds the actor from its arguments (on the worker it will run on).
    fn from_args(args: Self::Args) -> Self;
}

/// An actor a spawn started: on this node, or on another behind its link.
pub(crate) enum Spawned {
    Here(Arc<dyn Exported>),
    There(ActorId, Arc<dyn Outbound>),
}

impl Spawned {
    /// A typed ref to it, if it is an `A` (a remote one is taken to be: its
    /// node started the kind asked for).
    pub(crate) fn into_ref<A: super::RemoteActor>(
        self,
        host: &Host,
    ) -> Result<Option<super::ActorRef<A>>, super::DispatchError> {
        match self {
            Spawned::Here(actor) => {
                Ok(actor.as_any().downcast_ref::<super::ActorRef<A>>().cloned())
            }
            Spawned::There(id, link) => {
                super::remote_ref(id, link, host.counters().clone()).map(Some)
            }
        }
    }
}

/// A started spawn, on the caller's worker.
pub(crate) type SpawnFuture = Pin<Box<dyn Future<Output = Result<Spawned, String>>>>;

/// The node's spawn service, as a supervisor's remote child reaches it
/// through its [`Host`] (the `spawn` room provides it).
pub(crate) trait RemoteSpawn: Send + Sync {
    /// Starts an actor of `kind` from encoded `args` on a node `at` picks,
    /// in `group` if given.
    fn spawn(
        &self,
        host: &Host,
        at: &Placement,
        kind: &str,
        args: Vec<u8>,
        group: Option<String>,
    ) -> SpawnFuture;

    /// Calls `mover` if `actor`'s node drains (it is leaving, and asks
    /// that what runs there for others be started elsewhere first), until
    /// [`RemoteSpawn::forget_mover`] with the number returned.
    fn on_drain(&self, actor: &ActorId, mover: Mover) -> u64;

    /// Stops calling the mover registered as `key`.
    fn forget_mover(&self, key: u64);
    /// Whether node `name` is one this node reaches now (a member alive
    /// and not suspected; any node without membership).
    fn reaches(&self, name: &str) -> bool;
}

/// What moves an actor a supervisor here runs on another node (its
/// remote child): start a replacement on the node given (else where the
/// placement picks), then stop the original. Called when the actor's node
/// drains ([`RemoteSpawn::on_drain`]), or to even a deployment's spread.
pub(crate) type Mover = Box<dyn Fn(Option<String>) + Send + Sync>;

/// How long the side that goes on waits, after declaring a member down,
/// before it starts again the work that member did (restarting its remote
/// children elsewhere, taking over the deployments it supervised). If the
/// member sits on the other side of a partition rather than dead, that
/// side stops the work when it loses its quorum
/// ([`Membership::has_quorum`](crate::cluster::Membership::has_quorum)),
/// at its first suspicions, which come before the down verdicts here; the
/// margin covers the difference in timing between the two sides, so the
/// work never runs on both (Akka's `down-removal-margin` plays this part).
pub const HANDOVER_MARGIN: Duration = Duration::from_millis(500);
