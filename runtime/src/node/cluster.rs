//! The cluster as a user sees it: names and process groups visible on every
//! node ([`Cluster`]), actor kinds, and spawning on another node
//! ([`Node::spawn_on`]).

use super::kinds::{Kind, Refusal};
use super::network::Network;
use super::{Node, NodeError};
use crate::actor::{remote_ref, resolve_ref, ActorId, ActorRef, NodeId};
use crate::cluster::{Refused, RegistryEvent};
use crate::platform;
use crate::registry::RegistryError;
use crate::wire::Control;
use crate::RemoteActor;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How long [`Node::spawn_on`] waits for a connection and the answer.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where [`Node::spawn_on`] starts an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On this node (by name; it may be this one).
    Node(String),
    /// On a live member with this role ([`NodeBuilder::role`](super::NodeBuilder::role))
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

/// Why [`Node::spawn_on`] did not start an actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The chosen node has no kind of that name ([`Node::kind`]).
    #[error("node {node} has no actor kind {kind:?} (register it there with Node::kind)")]
    UnknownKind {
        /// The node.
        node: String,
        /// The kind asked for.
        kind: String,
    },
    /// The node could not decode the arguments as the kind's.
    #[error("node {node} could not decode the start arguments of kind {kind:?}: {reason}")]
    BadArgs {
        /// The node.
        node: String,
        /// The kind.
        kind: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The kind's constructor failed (panicked) or the node could not run it.
    #[error("kind {kind:?} failed to start on node {node}: {reason}")]
    Failed {
        /// The node.
        node: String,
        /// The kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// No live node fits the placement and has the kind.
    #[error("no live node for {placement} has actor kind {kind:?}")]
    NoNode {
        /// The placement asked for.
        placement: Placement,
        /// The kind.
        kind: String,
    },
    /// A kind of that name is registered here already.
    #[error("actor kind {0:?} is registered already")]
    Duplicate(String),
}

impl SpawnError {
    fn from_refusal(r: Refusal, node: &str, kind: &str) -> Self {
        let (node, kind) = (node.to_owned(), kind.to_owned());
        match r {
            Refusal::UnknownKind => SpawnError::UnknownKind { node, kind },
            Refusal::BadArgs(reason) => SpawnError::BadArgs { node, kind, reason },
            Refusal::Failed(reason) => SpawnError::Failed { node, kind, reason },
        }
    }
}

impl Node {
    /// Makes actor type `A` startable on this node as `name`, from any
    /// node ([`Node::spawn_on`]); the cluster learns that this node has it.
    pub fn kind<A: Kind>(&self, name: &str) -> Result<(), NodeError> {
        let net = self.net()?;
        if !net.kinds.add::<A>(name) {
            return Err(SpawnError::Duplicate(name.to_owned()).into());
        }
        net.global
            .with(&net, |m| ((), m.add_kind(name).into_iter().collect()));
        Ok(())
    }

    /// Starts an actor of kind `kind` (registered there with
    /// [`Node::kind`]) on a node chosen by `at`, from `args`, and returns
    /// a ref to it once it runs. The actor is not supervised (place it
    /// under a supervisor with [`ChildSpec::remote`](crate::ChildSpec::remote)).
    pub async fn spawn_on<A: Kind>(
        &self,
        at: Placement,
        kind: &str,
        args: &A::Args,
    ) -> Result<ActorRef<A>, NodeError> {
        spawn_kind(&self.net()?, self.host(), &at, kind, args, None).await
    }

    /// The cluster-wide registry and process groups, seen from this node.
    pub fn cluster(&self) -> Cluster {
        Cluster { node: self.clone() }
    }
}

/// Starts an actor of `kind` from `args` on a node chosen by `at`, for
/// `host` (whose network `net` is).
pub(crate) async fn spawn_kind<A: Kind>(
    net: &Arc<Network>,
    host: &crate::actor::Host,
    at: &Placement,
    kind: &str,
    args: &A::Args,
    group: Option<&str>,
) -> Result<ActorRef<A>, NodeError> {
    let target = choose(net, at, kind)?;
    let bytes = crate::wire::encode(args).map_err(|e| SpawnError::BadArgs {
        node: target.clone(),
        kind: kind.to_owned(),
        reason: format!("the arguments did not encode: {e}"),
    })?;
    if target == *net.me.name {
        let actor = net
            .kinds
            .start(host, kind, &bytes, group.map(str::to_owned))
            .await
            .map_err(|r| SpawnError::from_refusal(r, &target, kind))?;
        net.export_entry(actor.clone());
        return actor
            .as_any()
            .downcast_ref::<ActorRef<A>>()
            .cloned()
            .ok_or_else(|| {
                SpawnError::Failed {
                    node: target,
                    kind: kind.to_owned(),
                    reason: format!("kind {kind:?} is not a {}", std::any::type_name::<A>()),
                }
                .into()
            });
    }
    let deadline = platform::deadline(SPAWN_TIMEOUT);
    let link = net.link_named(&target);
    let conn = net.connected_for(&link, deadline, SPAWN_TIMEOUT).await?;
    let msg = Control::Spawn {
        kind: kind.to_owned(),
        args: bytes,
        group: group.map(str::to_owned),
    };
    let left = deadline.saturating_duration_since(platform::now());
    let (node_id, reply) = host.in_node(link.control_ask(&conn, &msg, left)).await?;
    let outcome: Result<u64, Refusal> = crate::wire::decode(&reply)
        .map_err(|e| NodeError::Ask(crate::AskError::Decode(e.to_string())))?;
    let local = outcome.map_err(|r| SpawnError::from_refusal(r, &target, kind))?;
    let id = ActorId {
        node: node_id,
        local,
    };
    Ok(remote_ref(id, link, host.counters().clone())?)
}

/// How one node sees the cluster ([`Node::status_of`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeId,
    /// The members it sees alive (itself excluded): name and incarnation.
    pub up: Vec<(String, u64)>,
    /// The members it remembers as down.
    pub down: Vec<(String, u64)>,
    /// Restarts its supervisors have made since it started.
    pub restarts: u64,
}

impl Network {
    /// This node's [`NodeStatus`].
    pub(crate) fn status(&self) -> NodeStatus {
        let (up, down) = match &self.members {
            Some(m) => (
                m.members()
                    .into_iter()
                    .map(|m| (m.name, m.incarnation))
                    .collect(),
                m.down()
                    .into_iter()
                    .map(|m| (m.name, m.incarnation))
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        NodeStatus {
            node: self.me.clone(),
            up,
            down,
            restarts: self.host.upgrade().map_or(0, |h| h.stats().restarts),
        }
    }
}

impl Node {
    /// Asks node `node` (connecting if need be, up to `timeout`) how it
    /// sees the cluster. Works from a node that is not a member (a status
    /// tool), with the cluster's credentials.
    pub async fn status_of(&self, node: &str, timeout: Duration) -> Result<NodeStatus, NodeError> {
        let net = self.net()?;
        let deadline = platform::deadline(timeout);
        let link = net.link_named(node);
        let conn = net.connected_for(&link, deadline, timeout).await?;
        let left = deadline.saturating_duration_since(platform::now());
        let (_, reply) = self
            .host()
            .in_node(link.control_ask(&conn, &Control::Status, left))
            .await?;
        crate::wire::decode(&reply)
            .map_err(|e| NodeError::Ask(crate::AskError::Decode(e.to_string())))
    }
}

/// Picks the node `at` names for `kind`.
fn choose(net: &Network, at: &Placement, kind: &str) -> Result<String, SpawnError> {
    let no_node = || SpawnError::NoNode {
        placement: at.clone(),
        kind: kind.to_owned(),
    };
    let members = net.members.as_ref().map(|m| m.members());
    let role = match at {
        // a member declared down is not dialed for a minute: refused now
        Placement::Node(n) => {
            let known_dead = members
                .as_ref()
                .is_some_and(|ms| *n != *net.me.name && !ms.iter().any(|m| m.name == *n));
            return if known_dead {
                Err(no_node())
            } else {
                Ok(n.clone())
            };
        }
        Placement::Role(r) => Some(r),
        Placement::Any => None,
    };
    let members = net
        .members
        .as_ref()
        .map(|m| m.members())
        .unwrap_or_default();
    let my_roles = net
        .members
        .as_ref()
        .map(|m| m.me().roles)
        .unwrap_or_default();
    let has_kind = net.global.read(|m| m.nodes_with_kind(kind));
    let candidates: Vec<String> = has_kind
        .into_iter()
        .filter(|n| {
            if *n.name == *net.me.name {
                return role.is_none_or(|r| my_roles.contains(r));
            }
            members.iter().any(|m| {
                *m.name == *n.name
                    && m.incarnation == n.incarnation
                    && role.is_none_or(|r| m.roles.contains(r))
            })
        })
        .map(|n| n.name.to_string())
        .collect();
    if candidates.is_empty() {
        return Err(no_node());
    }
    let i = net.kinds.next.fetch_add(1, Ordering::Relaxed);
    Ok(candidates[i % candidates.len()].clone())
}

/// The cluster-wide registry and process groups (Erlang's `global` names
/// and `pg` groups), seen from one node: every node sees every entry, and
/// an entry goes when its actor is gone for good or its node is down or
/// leaves. Lookups read this node's replica: no round trip.
///
/// ```
/// # use actix::prelude::*;
/// # use std::time::Duration;
/// struct Echo;
/// impl Actor for Echo { type Context = Context<Self>; }
/// #[arbour::message(tag = "doc.cluster.ping.v1", reply = u64)]
/// struct Ping(u64);
/// arbour::remote_actor!(Echo { Ping });
/// impl Handler<Ping> for Echo {
///     type Result = u64;
///     fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 { n + 1 }
/// }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(
/// # tokio::task::LocalSet::new().run_until(async {
/// let alpha = arbour::Node::builder("alpha").secret("s3cret").start().await?;
/// let beta = arbour::Node::builder("beta").secret("s3cret")
///     .seed_node("alpha", alpha.local_addr()?).start().await?;
/// alpha.cluster().register("echo", &alpha.spawn(Echo))?;
/// let echo = beta.cluster().wait_for::<Echo>("echo", Duration::from_secs(5)).await?;
/// assert_eq!(echo.ask(Ping(1)).await, Ok(2));
/// # Ok::<(), arbour::NodeError>(())
/// # })).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    node: Node,
}

impl Cluster {
    fn net(&self) -> Result<Arc<Network>, NodeError> {
        self.node.net()
    }

    /// Registers local actor `actor` as `name` on every node. Fails with
    /// [`RegistryError::NameTaken`] if the name is registered (anywhere,
    /// as far as this node knows). Two nodes registering one name at about
    /// the same time both succeed here; a moment later one of them has
    /// lost, on every node alike, and its node reports
    /// [`RegistryEvent::NameLost`] (see [`Cluster::events`]). The name is
    /// freed when the actor is gone for good (a supervised child keeps it
    /// across restarts) or its node is down or leaves.
    pub fn register<A: RemoteActor>(
        &self,
        name: &str,
        actor: &ActorRef<A>,
    ) -> Result<(), NodeError> {
        let net = self.net()?;
        if actor.id().node != net.me {
            return Err(NodeError::Config(format!(
                "{} is not an actor of this node: register it on its own node",
                actor.id()
            )));
        }
        let exported = crate::actor::export(actor)?;
        net.export_entry(exported);
        let local = actor.id().local;
        net.global.with(&net, |m| match m.register(name, local) {
            Ok(u) => (Ok(()), u.into_iter().collect()),
            Err(r) => (Err(refused(name, r)), Vec::new()),
        })?;
        net.global.watch_end(&net, actor);
        Ok(())
    }

    /// Frees `name`, if this node registered it; true if it did.
    pub fn unregister(&self, name: &str) -> bool {
        let Ok(net) = self.net() else {
            return false;
        };
        net.global.with(&net, |m| {
            let u = m.unregister(name, None);
            (u.is_some(), u.into_iter().collect())
        })
    }

    /// The actor `name` resolves to, if any.
    pub fn whereis(&self, name: &str) -> Option<ActorId> {
        self.net().ok()?.global.read(|m| m.resolve(name))
    }

    /// A ref to the actor registered as `name`, if any.
    pub fn lookup<A: RemoteActor>(&self, name: &str) -> Option<ActorRef<A>> {
        let net = self.net().ok()?;
        let id = net.global.read(|m| m.resolve(name))?;
        resolve_ref(&*net.ctx, id).ok()
    }

    /// Waits up to `timeout` for `name` to be registered, and returns a
    /// ref to its actor.
    pub async fn wait_for<A: RemoteActor>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<ActorRef<A>, NodeError> {
        let net = self.net()?;
        let mut events = net.global.subscribe();
        let deadline = platform::deadline(timeout);
        loop {
            if let Some(id) = net.global.read(|m| m.resolve(name)) {
                return Ok(resolve_ref(&*net.ctx, id)?);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                _ => {
                    return Err(NodeError::NotRegistered {
                        name: name.to_owned(),
                        waited: timeout,
                    })
                }
            }
        }
    }

    /// Every registered name and its actor, sorted by name.
    pub fn names(&self) -> Vec<(String, ActorId)> {
        self.net()
            .map(|n| n.global.read(|m| m.names()))
            .unwrap_or_default()
    }

    /// Adds local actor `actor` to `group` (Erlang's `pg:join`); it leaves
    /// by itself when it is gone for good or its node goes.
    pub fn join<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let net = self.net()?;
        if actor.id().node != net.me {
            return Err(NodeError::Config(format!(
                "{} is not an actor of this node: it joins groups from its own node",
                actor.id()
            )));
        }
        net.export_entry(crate::actor::export(actor)?);
        let local = actor.id().local;
        net.global.with(&net, |m| match m.join(group, local) {
            Ok(u) => (Ok(()), u.into_iter().collect()),
            Err(r) => (Err(refused(group, r)), Vec::new()),
        })?;
        net.global.watch_end(&net, actor);
        Ok(())
    }

    /// Removes local actor `actor` from `group`; true if it was in it.
    pub fn leave<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> bool {
        let Ok(net) = self.net() else {
            return false;
        };
        let local = actor.id().local;
        net.global.with(&net, |m| {
            let u = m.leave(group, local);
            (u.is_some(), u.into_iter().collect())
        })
    }

    /// The members of `group` on every node, sorted by id.
    pub fn group_ids(&self, group: &str) -> Vec<ActorId> {
        self.net()
            .map(|n| n.global.read(|m| m.group(group)))
            .unwrap_or_default()
    }

    /// Refs to the members of `group` on every node.
    pub fn group<A: RemoteActor>(&self, group: &str) -> Vec<ActorRef<A>> {
        let Ok(net) = self.net() else {
            return Vec::new();
        };
        net.global
            .read(|m| m.group(group))
            .into_iter()
            .filter_map(|id| resolve_ref(&*net.ctx, id).ok())
            .collect()
    }

    /// The groups with at least one member.
    pub fn groups(&self) -> Vec<String> {
        self.net()
            .map(|n| n.global.read(|m| m.groups()))
            .unwrap_or_default()
    }

    /// Changes from now on: names registered and freed, conflicts lost by
    /// this node, group members joining and leaving.
    pub fn events(&self) -> Result<broadcast::Receiver<RegistryEvent>, NodeError> {
        Ok(self.net()?.global.subscribe())
    }

    /// Sends every registry change from now on to actor `to`, until it is
    /// gone (a subscriber 4,096 events behind misses the oldest, logged
    /// with their count).
    pub fn subscribe(&self, to: actix::Recipient<RegistryEvent>) -> Result<(), NodeError> {
        let net = self.net()?;
        platform::spawn_local(super::forward(net.global.subscribe(), to, net.me.clone()));
        Ok(())
    }

    /// The nodes that can spawn `kind` (as far as this node knows).
    pub fn nodes_with_kind(&self, kind: &str) -> Vec<NodeId> {
        self.net()
            .map(|n| n.global.read(|m| m.nodes_with_kind(kind)))
            .unwrap_or_default()
    }
}

fn refused(name: &str, r: Refused) -> NodeError {
    match r {
        Refused::Taken(holder) => NodeError::Registry(RegistryError::HeldBy {
            name: name.to_owned(),
            holder,
        }),
        Refused::Full => NodeError::Registry(RegistryError::Full(crate::cluster::MAX_OWN_ENTRIES)),
    }
}
