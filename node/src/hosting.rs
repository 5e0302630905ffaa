//! Deployment supervisors as cluster singletons: every node of the file
//! runs a host for each deployment, and the one member a deterministic
//! rule picks supervises it. The rule: the node named by `supervise_on`
//! while it is a member, else the oldest member of the file (the lowest
//! incarnation: the life started first; then the lowest name), as Akka's
//! cluster singleton lives on the oldest node.
//!
//! A node acts only while it sees a quorum of the file's nodes (as the
//! split-brain resolver counts: more than half under keep-majority) and
//! reaches a quorum of the members (`Membership::has_quorum`), so a
//! cluster still forming, or a partition's losing side, elects no one; a
//! supervising node that loses its quorum stops its supervisor at once
//! (at its first suspicions). A fence whose holder was declared down is
//! taken only `HANDOVER_MARGIN` after the verdict, by which time the
//! holder, if it sits across a partition rather than dead, has stopped.
//!
//! It also waits until its registry replica holds every live member's
//! part, and, unless it has seen every node of the file in this life,
//! until it has run for a few seconds (a node just started must not take a fence that only
//! looks free because it has not heard from its holder yet).
//!
//! The fence is a name in the cluster registry, `arbour.deploy.NAME`,
//! registered by the supervising node: a host starts the supervisor only
//! while the name is free and keeps it only while it holds the name (two
//! nodes that raced for it are told which lost, and the loser stops). The
//! name goes with its node when that node is declared down or leaves, and
//! the next host in line takes over within a probe round.
//!
//! A supervisor taking over adopts the instances still running (the
//! members of the deployment's process group that its predecessor left:
//! the same actors, not restarted) and starts only the missing ones; what
//! runs beyond the configured count is stopped. A node leaving gracefully
//! hands its deployments over the same way: before its supervisors stop it
//! releases their children (they run on) and gives up the fences, and the
//! next node in line adopts them.

use crate::rebalance::Rebalancer;
use crate::App;
use actix::prelude::*;
use arbour::cluster::{MemberEvent, RegistryEvent, HANDOVER_MARGIN};
use arbour::supervision::Release;
use arbour::{ActorId, Node, SupervisorRef};
use arbour_config::{ClusterFile, Deploy};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Holds a deployment's fence in the cluster registry (its registration
/// is the fence; it answers nothing).
pub(crate) struct Fence;

impl Actor for Fence {
    type Context = Context<Self>;
}

arbour::remote_actor!(Fence {});

/// The fence of deployment `name` in the cluster registry.
pub fn fence_name(name: &str) -> String {
    format!("arbour.deploy.{name}")
}

/// How often a host looks again when nothing happened (a missed event
/// costs at most this).
const RECHECK: Duration = Duration::from_millis(500);

/// The node that should supervise `d`, as `node` sees the cluster now:
/// `supervise_on` while it is a member; once it is known to be gone
/// (declared down, or left), or after `waited` [`GATHER_FIRST`] without
/// its ever being seen, the oldest member of the file.
pub fn preferred(node: &Node, file: &ClusterFile, d: &Deploy, waited: bool) -> Option<String> {
    let alive: Vec<String> = node
        .membership()
        .oldest_first()
        .into_iter()
        .map(|n| n.name.to_string())
        .filter(|n| file.node(n).is_some())
        .collect();
    if alive.contains(&d.supervise_on) {
        return Some(d.supervise_on.clone());
    }
    let gone = node
        .membership()
        .down()
        .iter()
        .any(|m| m.name == d.supervise_on);
    if !gone && !waited {
        // still forming: it may only not have been seen yet
        return None;
    }
    alive.into_iter().next()
}

/// How long a host waits, from its start, for `supervise_on` to be seen
/// before the oldest member may supervise in its place.
const GATHER_FIRST: Duration = Duration::from_secs(10);

/// The instances a supervisor taking over may adopt: the running members
/// of the deployment's group when it started, each adopted at most once.
/// Also what lets this supervisor's children outlive it when its node
/// hands the deployment over ([`Release`]).
#[derive(Clone)]
pub(crate) struct Orphans {
    node: Node,
    group: String,
    left: Arc<Mutex<Vec<ActorId>>>,
    adopted: Arc<AtomicUsize>,
    release: Release,
}

impl Orphans {
    pub(crate) fn new(node: &Node, group: &str, ids: Vec<ActorId>) -> Self {
        Self {
            node: node.clone(),
            group: group.to_owned(),
            left: Arc::new(Mutex::new(ids)),
            adopted: Arc::default(),
            release: Release::default(),
        }
    }

    /// What the children of this supervisor start share: released, they
    /// outlive it.
    pub(crate) fn release(&self) -> &Release {
        &self.release
    }

    /// Takes one orphan still running, if any is left.
    pub(crate) fn take(&self) -> Option<ActorId> {
        let running: BTreeSet<ActorId> = self
            .node
            .global()
            .group_ids(&self.group)
            .into_iter()
            .collect();
        let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(id) = left.pop() {
            if running.contains(&id) {
                self.adopted.fetch_add(1, Ordering::Relaxed);
                return Some(id);
            }
        }
        None
    }

    /// The node, to resolve an orphan's ref.
    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    /// The group the orphans are in.
    pub(crate) fn group(&self) -> &str {
        &self.group
    }

    /// How many were adopted.
    pub(crate) fn adopted(&self) -> usize {
        self.adopted.load(Ordering::Relaxed)
    }

    /// Those not adopted (still running or not).
    pub(crate) fn rest(&self) -> Vec<ActorId> {
        std::mem::take(&mut *self.left.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs deployment `d`'s host on `node` until the node shuts down or the
/// deployment's supervisor gives up; says what happens through `report`.
pub(crate) async fn host(
    app: App,
    node: Node,
    file: ClusterFile,
    d: Deploy,
    report: impl Fn(String) + Clone + 'static,
) {
    let fence = fence_name(&d.name);
    let me = node.node_id().name.to_string();
    let (Ok(mut registry), Some(mut members)) =
        (node.global().events(), node.membership().events())
    else {
        report(format!(
            "deploy {} failed: this node has no cluster",
            d.name
        ));
        return;
    };
    let mut first = true;
    let mut failed_at: Option<u64> = None;
    let began = tokio::time::Instant::now();
    // once this life has seen every node of the file, it has heard from
    // (and has the registry part of) whoever may hold the fence
    let mut seen_every_node = false;
    // whether another node held the fence in this life: starting then is
    // a takeover (no waiting for the placement's nodes to gather)
    let mut seen_held = false;
    // when this node last declared a member down: a fence that member
    // held is taken only HANDOVER_MARGIN later, for a partition's other
    // side to have stopped its supervisor first
    let mut last_down: Option<tokio::time::Instant> = None;
    let mut known_down: BTreeSet<(String, u64)> = BTreeSet::new();
    // leaving gracefully, this node hands the deployment over: its
    // children outlive the supervisor and the fence is given up, for the
    // next node in line to adopt them at once (one hook for the host's
    // life; it acts on the supervisor running then, if any)
    let running: Arc<Mutex<Option<Release>>> = Arc::default();
    {
        let (global, fence, running) = (node.global(), fence.clone(), running.clone());
        node.before_shutdown(move || {
            if let Some(release) = running.lock().unwrap_or_else(|p| p.into_inner()).take() {
                release.release();
                global.unregister(&fence);
            }
        });
    }
    loop {
        // this node's turn: the fence is free and the rule picks it
        loop {
            // a node that does not see a quorum of the file (still forming,
            // or on a partition's small side) elects no one
            let free = node.global().whereis_id(&fence).is_none();
            seen_held |= !free;
            seen_every_node |= sees_every_node(&node, &file);
            // (the verdict's event may come after the registry change it
            // caused, from another thread: membership's state is read)
            let down: BTreeSet<(String, u64)> = node
                .membership()
                .down()
                .into_iter()
                .map(|m| (m.name, m.incarnation))
                .collect();
            if down.iter().any(|m| !known_down.contains(m)) {
                last_down = Some(tokio::time::Instant::now());
            }
            known_down = down;
            let margin_left = last_down.map_or(Duration::ZERO, |t| {
                HANDOVER_MARGIN.saturating_sub(t.elapsed())
            });
            if free
                && margin_left.is_zero()
                && acts_for_the_cluster(&node, &file)
                && (seen_every_node || began.elapsed() >= SETTLE)
                && registry_synced(&node, &d)
                && preferred(&node, &file, &d, began.elapsed() >= GATHER_FIRST).as_deref()
                    == Some(me.as_str())
            {
                break;
            }
            let wait = if margin_left.is_zero() {
                RECHECK
            } else {
                margin_left
            };
            tokio::select! {
                r = registry.recv() => if matches!(r, Err(RecvError::Closed)) { return },
                m = members.recv() => if matches!(m, Err(RecvError::Closed)) { return },
                () = tokio::time::sleep(wait) => {}
            }
        }
        let holder = node.spawn(Fence);
        if node.global().register(&fence, &holder).is_err() {
            holder.stop();
            tokio::time::sleep(RECHECK).await;
            continue;
        }
        let orphans: Vec<ActorId> = node.global().group_ids(&d.name);
        let taking_over = !orphans.is_empty() || !first || seen_held;
        let started = app
            .start_supervisor(&node, &file, &d, !taking_over, orphans)
            .await;
        first = false;
        let (sup, adopted, surplus, release) = match started {
            Ok(s) => s,
            Err(e) => {
                // no node it may use is up, say: the next change may help
                let epoch = node.membership().members().len() as u64;
                if failed_at != Some(epoch) {
                    tracing::error!(deploy = %d.name, "deployment failed: {e:#}");
                    report(format!("deploy {} failed: {e:#}", d.name));
                }
                failed_at = Some(epoch);
                holder.stop();
                let _ = members.recv().await;
                continue;
            }
        };
        failed_at = None;
        *running.lock().unwrap_or_else(|p| p.into_inner()) = Some(release);
        let spread = spread(&node, &d);
        if taking_over {
            report(format!(
                "deploy {} taken over by {me}: {} instances of {} ({spread}), {adopted} adopted, {surplus} surplus stopped",
                d.name, d.instances, d.kind
            ));
        } else {
            report(format!(
                "deploy {} started: {} instances of {} ({spread})",
                d.name, d.instances, d.kind
            ));
        }
        // supervise until the supervisor gives up, the fence is lost, or
        // this node no longer reaches a quorum
        let exited = sup.exited();
        tokio::pin!(exited);
        // a node that joins or returns gets its share of the instances
        let mut rebalancer = Rebalancer::default();
        rebalancer.member_came();
        let ended = loop {
            tokio::select! {
                reason = &mut exited => break Ended::Exited(reason),
                () = rebalancer.wait() => rebalancer.step(&node, &file, &d, &report),
                e = registry.recv() => match e {
                    Ok(RegistryEvent::NameLost { name, .. }) if name == fence => break Ended::FenceLost,
                    Err(RecvError::Closed) => break Ended::FenceLost,
                    _ => {}
                },
                m = members.recv() => match m {
                    Err(RecvError::Closed) => break Ended::FenceLost,
                    _ if !acts_for_the_cluster(&node, &file) => break Ended::NoQuorum,
                    Ok(MemberEvent::Up(_) | MemberEvent::Replaced { .. }) => rebalancer.member_came(),
                    _ => {}
                },
            }
        };
        running.lock().unwrap_or_else(|p| p.into_inner()).take();
        holder.stop();
        match ended {
            Ended::FenceLost => {
                report(format!(
                    "deploy {}: another node holds it now; this supervisor stops",
                    d.name
                ));
                let _ = sup.stop(arbour::ExitReason::Shutdown).await;
            }
            Ended::NoQuorum => {
                // a partition's losing side (or this node cut off): the
                // side that goes on takes the deployment over, after its
                // handover margin; by then this one stopped it here
                node.global().unregister(&fence);
                report(format!(
                    "deploy {} stopped on {me}: this node does not reach a quorum of the cluster",
                    d.name
                ));
                let _ = sup.stop(arbour::ExitReason::Shutdown).await;
            }
            Ended::Exited(reason) => {
                report(format!("deploy {} supervisor exited: {reason}", d.name));
                return;
            }
        }
    }
}

/// Why a node stopped supervising a deployment.
enum Ended {
    /// The supervisor gave up (or was stopped).
    Exited(arbour::ExitReason),
    /// Another node holds the fence (or the node shuts down).
    FenceLost,
    /// This node no longer reaches a quorum.
    NoQuorum,
}

/// Whether `node` may act for the cluster: it sees a quorum of the file's
/// nodes, and reaches a quorum of the members it knows (suspects not
/// counted: on a partition's losing side this turns false at the first
/// suspicions, before either side declares the other down).
fn acts_for_the_cluster(node: &Node, file: &ClusterFile) -> bool {
    crate::run::sees_quorum(node, file) && node.membership().has_quorum()
}

/// How long a node that has not yet seen every node of the file waits,
/// from its start, before it may take a free fence: a holder it has not
/// heard from yet would make the fence only look free.
const SETTLE: Duration = Duration::from_secs(5);

/// Whether `node` sees every node of the file alive.
fn sees_every_node(node: &Node, file: &ClusterFile) -> bool {
    let members = node.membership().members();
    file.nodes
        .iter()
        .all(|n| *n.name == *node.node_id().name || members.iter().any(|m| m.name == n.name))
}

/// Whether this node's registry replica has every live member's part yet
/// (each node of the binary publishes its kinds with its names): a node
/// just started must not take a free-looking fence that another holds.
fn registry_synced(node: &Node, d: &Deploy) -> bool {
    let with_kind = node.global().nodes_with_kind(&d.kind);
    node.membership()
        .members()
        .iter()
        .all(|m| with_kind.iter().any(|n| *n.name == m.name))
}

/// Where `d`'s instances run now: `node=count` for each node.
fn spread(node: &Node, d: &Deploy) -> String {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for id in node.global().group_ids(&d.name) {
        *by.entry(id.node.name.to_string()).or_default() += 1;
    }
    crate::rebalance::spread(&by)
}

/// A supervisor and what it did on starting: instances adopted, surplus
/// stopped; and what releases its children.
pub(crate) type Started = (SupervisorRef, usize, usize, Release);
