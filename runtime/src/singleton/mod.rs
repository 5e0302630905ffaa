//! Cluster singletons: one instance of an actor kind in the whole cluster,
//! on the oldest member that offers it (Akka's `ClusterSingletonManager`
//! is the reference), moved on when that member leaves or goes down.
//!
//! Every node that calls [`Singleton::start`] for a name is a candidate:
//! it runs a manager (a task on the calling worker) and joins the process
//! group `arbour.singleton.NAME` with a marker. The instance's registry
//! name, `NAME`, is the fence: a manager starts the instance only while
//! the name is free, this node is the oldest candidate alive (the lowest
//! incarnation: the life started first; then the lowest name), and it
//! reaches a quorum ([`Membership::has_quorum`](crate::cluster::Membership::has_quorum)); it keeps it only while
//! it holds the name and the quorum. Two managers that raced are told
//! which lost (`NameLost`), and the loser stops its instance.
//!
//! Handover: a node leaving gracefully stops its instance and gives the
//! name up before it goes, and the next oldest starts it at once. A node
//! declared down takes the name with it, and the next oldest starts the
//! instance [`HANDOVER_MARGIN`](crate::cluster::HANDOVER_MARGIN) after the verdict (by which time, if the
//! node sits across a partition rather than dead, it has stopped the
//! instance on losing its quorum). An instance that exits on its own is
//! started again by the same rule, at most once a second. State is not
//! handed over: an instance starts from its arguments.
//!
//! This room uses the node's public face only; nothing below names it.

use crate::actor::{ActorRef, ExitReason, Kind, RemoteActor, HANDOVER_MARGIN};
use crate::membership::Membership;
use crate::node::{Node, NodeError};
use crate::registry::RegistryEvent;
use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// How long a manager waits at most, from its start, before it may start
/// the instance while it does not yet hold every member's registry part:
/// a holder it has not heard from yet would make the name only look free.
const SETTLE: Duration = Duration::from_secs(3);

/// How long a manager waits at least, from its start, before it may
/// start the instance: the other candidates' markers (an older one that
/// started about as it did, say) arrive meanwhile.
const SETTLE_HEARD: Duration = Duration::from_secs(1);

/// How often a manager looks again when nothing happened.
const RECHECK: Duration = Duration::from_millis(500);

/// The least time between two starts of the instance on one node.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Marks a node as a candidate for a singleton (a member of its group).
struct Candidate;

impl actix::Actor for Candidate {
    type Context = actix::Context<Self>;
}

impl RemoteActor for Candidate {
    fn accepts(_: &mut crate::actor::MessageTable<Self>) {}
}

/// Starts cluster singletons ([`Singleton::start`]).
#[derive(Debug)]
pub struct Singleton;

impl Singleton {
    /// Makes this node a candidate for the singleton `name` of kind `A`,
    /// started from `args` wherever it runs, and returns a handle that
    /// finds the instance. Call it on one of the node's workers, on every
    /// node that may run the instance (with the same arguments).
    pub fn start<A>(node: &Node, name: &str, args: A::Args) -> Result<SingletonRef<A>, NodeError>
    where
        A: Kind,
        A::Args: Clone,
    {
        let candidate = node.spawn(Candidate);
        node.global().join(&group(name), &candidate)?;
        let (node2, name2) = (node.clone(), name.to_owned());
        crate::platform::spawn_local(async move {
            manage::<A>(&node2, &name2, args).await;
            candidate.stop();
        });
        Ok(SingletonRef {
            node: node.clone(),
            name: name.to_owned(),
            _kind: PhantomData,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The group of a singleton's candidates.
fn group(name: &str) -> String {
    format!("arbour.singleton.{name}")
}

/// Finds a singleton's instance, wherever it runs now.
#[derive(Debug)]
pub struct SingletonRef<A> {
    node: Node,
    name: String,
    _kind: PhantomData<fn() -> A>,
}

impl<A> Clone for SingletonRef<A> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            name: self.name.clone(),
            _kind: PhantomData,
        }
    }
}

impl<A: RemoteActor> SingletonRef<A> {
    /// The instance now, if one runs (as this node's registry has it).
    pub fn current(&self) -> Option<ActorRef<A>> {
        self.node.global().whereis::<A>(&self.name)
    }

    /// The instance, waiting up to `within` for one to run (during a
    /// handover, say); `None` if none did.
    pub async fn resolve(&self, within: Duration) -> Option<ActorRef<A>> {
        let mut events = self.node.global().events().ok()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(a) = self.current() {
                return Some(a);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) | Ok(Err(RecvError::Closed)) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The singleton's name (its registry name).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The candidate that should run the instance, as `node` sees the
/// cluster: the oldest alive member of the group (lowest incarnation,
/// then lowest name).
fn oldest_candidate(node: &Node, name: &str) -> Option<String> {
    let candidates: BTreeSet<String> = node
        .global()
        .group_ids(&group(name))
        .into_iter()
        .map(|id| id.node.name.to_string())
        .collect();
    node.membership()
        .oldest_first()
        .into_iter()
        .map(|n| n.name.to_string())
        .find(|n| candidates.contains(n))
}

/// Whether `node`'s registry holds the part of every member alive: a
/// name it finds free then is free (as far as anyone can know).
fn holds_every_part(node: &Node) -> bool {
    let held = node.global().parts_held();
    node.membership()
        .members()
        .iter()
        .all(|m| held.iter().any(|h| *h.name == m.name && h.incarnation == m.incarnation))
}

/// Why a node stopped running the instance.
enum Ended {
    /// It exited on its own.
    Exited(ExitReason),
    /// Another node holds the name.
    NameLost,
    /// This node lost its quorum.
    NoQuorum,
    /// The node shuts down.
    NodeGone,
}

/// One node's manager of singleton `name`: waits for its turn, runs the
/// instance while it holds the name, and gives it up as the module says.
async fn manage<A>(node: &Node, name: &str, args: A::Args)
where
    A: Kind,
    A::Args: Clone,
{
    let me = node.node_id().name.to_string();
    let membership: Membership = node.membership();
    let (Ok(mut registry), Some(mut members)) = (node.global().events(), membership.events())
    else {
        tracing::error!(node = %me, singleton = name, "a singleton needs a node in a cluster");
        return;
    };
    let began = Instant::now();
    let mut known_down: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut last_down: Option<Instant> = None;
    let mut last_start: Option<Instant> = None;
    let mut seen_held = false;
    // leaving gracefully hands the instance over: stopped, and the name
    // given up for the next oldest to start it at once (one hook for the
    // manager's life; it acts on the instance running then, if any)
    let running: Arc<Mutex<Option<ActorRef<A>>>> = Arc::default();
    {
        let (global, fence, running) = (node.global(), name.to_owned(), running.clone());
        node.before_shutdown(move || {
            if let Some(instance) = lock(&running).take() {
                instance.stop();
                global.unregister(&fence);
            }
        });
    }
    loop {
        // this node's turn: the name is free, the rule picks it, and the
        // handover margin after a down verdict has passed
        loop {
            let down: BTreeSet<(String, u64)> = membership
                .down()
                .into_iter()
                .map(|m| (m.name, m.incarnation))
                .collect();
            if down.iter().any(|m| !known_down.contains(m)) {
                last_down = Some(Instant::now());
            }
            known_down = down;
            let free = node.global().whereis_id(name).is_none();
            seen_held |= !free;
            let wait = [
                last_down.map(|t| HANDOVER_MARGIN.saturating_sub(t.elapsed())),
                last_start.map(|t| RESTART_AFTER.saturating_sub(t.elapsed())),
                Some(SETTLE_HEARD.saturating_sub(began.elapsed())),
                (!seen_held && !holds_every_part(node))
                    .then(|| SETTLE.saturating_sub(began.elapsed())),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(Duration::ZERO);
            if free
                && wait.is_zero()
                && membership.has_quorum()
                && oldest_candidate(node, name).as_deref() == Some(me.as_str())
            {
                break;
            }
            let wait = if wait.is_zero() { RECHECK } else { wait.min(RECHECK) };
            tokio::select! {
                r = registry.recv() => if matches!(r, Err(RecvError::Closed)) { return },
                m = members.recv() => if matches!(m, Err(RecvError::Closed)) { return },
                () = tokio::time::sleep(wait) => {}
            }
        }
        last_start = Some(Instant::now());
        let instance = node.spawn(A::from_args(args.clone()));
        if node.global().register(name, &instance).is_err() {
            instance.stop();
            continue;
        }
        tracing::info!(node = %me, singleton = name, instance = %instance.id(), "singleton started here");
        *lock(&running) = Some(instance.clone());
        let exited = instance.exited();
        tokio::pin!(exited);
        let ended = loop {
            tokio::select! {
                reason = &mut exited => break Ended::Exited(reason),
                e = registry.recv() => match e {
                    Ok(RegistryEvent::NameLost { name: n, .. }) if n == name => break Ended::NameLost,
                    Err(RecvError::Closed) => break Ended::NodeGone,
                    _ => {}
                },
                m = members.recv() => match m {
                    Err(RecvError::Closed) => break Ended::NodeGone,
                    _ if !membership.has_quorum() => break Ended::NoQuorum,
                    _ => {}
                },
            }
        };
        lock(&running).take();
        instance.stop();
        match ended {
            Ended::Exited(reason) => {
                tracing::warn!(node = %me, singleton = name, %reason, "singleton instance exited: started again as the rule says");
                node.global().unregister(name);
            }
            Ended::NameLost => {
                tracing::info!(node = %me, singleton = name, "another node runs the singleton: stopped here");
            }
            Ended::NoQuorum => {
                tracing::warn!(node = %me, singleton = name, "this node does not reach a quorum: singleton stopped here");
                node.global().unregister(name);
            }
            Ended::NodeGone => return,
        }
    }
}
