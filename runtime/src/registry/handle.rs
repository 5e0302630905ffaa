//! The cluster registry as a user sees it: names and process groups
//! visible on every node ([`GlobalRegistry`]).

use super::global::{ClusterRegistry, Refused, RegistryEvent, Update, MAX_OWN_ENTRIES};
use super::replica::Replica;
use super::RegistryError;
use crate::actor::RemoteActor;
use crate::actor::{resolve_ref, ActorId, ActorRef, NodeId};
use crate::platform;
use crate::remote::Network;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::broadcast;

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
///     .seed_node("alpha", alpha.net().local_addr()?).start().await?;
/// alpha.global().register("echo", &alpha.spawn(Echo))?;
/// let echo = beta.global().wait_for::<Echo>("echo", Duration::from_secs(5)).await?;
/// assert_eq!(echo.ask(Ping(1)).await, Ok(2));
/// # Ok::<(), arbour::NodeError>(())
/// # })).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct GlobalRegistry {
    /// The node's registry driver and network (held weakly: the node owns
    /// them); none for a node without a network.
    parts: Option<(Weak<Replica>, Weak<Network>)>,
}

/// The parts of a running node.
struct Parts {
    replica: Arc<Replica>,
    net: Arc<Network>,
}

impl GlobalRegistry {
    pub(crate) fn new(parts: Option<(&Arc<Replica>, &Arc<Network>)>) -> Self {
        Self {
            parts: parts.map(|(r, n)| (Arc::downgrade(r), Arc::downgrade(n))),
        }
    }

    /// Publishes an entry of local actor `actor` (`change` makes it on the
    /// machine): the actor is exported to the wire, and its entries go
    /// when it is gone for good. Another node's actor is `NotLocal`.
    fn publish<A: RemoteActor>(
        &self,
        actor: &ActorRef<A>,
        elsewhere: &'static str,
        change: impl FnOnce(&mut ClusterRegistry, u64) -> Result<Option<Update>, RegistryError>,
    ) -> Result<(), RegistryError> {
        let Parts { replica, net } = self.parts()?;
        if actor.id().node != net.me {
            return Err(RegistryError::NotLocal {
                actor: actor.id().clone(),
                what: elsewhere,
            });
        }
        net.export_entry(crate::actor::export(actor)?);
        let local = actor.id().local;
        replica.with(|m| match change(m, local) {
            Ok(u) => (Ok(()), u.into_iter().collect()),
            Err(e) => (Err(e), Vec::new()),
        })?;
        replica.watch_end(actor);
        Ok(())
    }

    /// The registry of a node that was shut down.
    pub(crate) fn shut_down() -> Self {
        Self {
            parts: Some((Weak::new(), Weak::new())),
        }
    }

    fn parts(&self) -> Result<Parts, RegistryError> {
        let Some((replica, net)) = &self.parts else {
            return Err(RegistryError::NoNetwork);
        };
        match (replica.upgrade(), net.upgrade()) {
            (Some(replica), Some(net)) if !net.is_closed() => Ok(Parts { replica, net }),
            _ => Err(RegistryError::ShutDown),
        }
    }

    /// Registers local actor `actor` as `name` on every node. Fails with
    /// [`RegistryError::NameTaken`] if the name is registered (anywhere,
    /// as far as this node knows). Two nodes registering one name at about
    /// the same time both succeed here; a moment later one of them has
    /// lost, on every node alike, and its node reports
    /// [`RegistryEvent::NameLost`] (see [`GlobalRegistry::events`]). The name is
    /// freed when the actor is gone for good (a supervised child keeps it
    /// across restarts) or its node is down or leaves.
    pub fn register<A: RemoteActor>(
        &self,
        name: &str,
        actor: &ActorRef<A>,
    ) -> Result<(), RegistryError> {
        self.publish(actor, "register it on its own node", |m, local| {
            m.register(name, local).map_err(|r| refused(name, r))
        })
    }

    /// Frees `name`, if this node registered it; true if it did.
    pub fn unregister(&self, name: &str) -> bool {
        let Ok(Parts { replica, .. }) = self.parts() else {
            return false;
        };
        replica.with(|m| {
            let u = m.unregister(name, None);
            (u.is_some(), u.into_iter().collect())
        })
    }

    /// The id of the actor `name` resolves to, if any.
    pub fn whereis_id(&self, name: &str) -> Option<ActorId> {
        self.parts().ok()?.replica.read(|m| m.resolve(name))
    }

    /// A ref to the actor registered as `name`, if any (as
    /// [`Registry::whereis`](crate::Registry::whereis) gives one of a local
    /// name). No round trip: this node's replica answers.
    pub fn whereis<A: RemoteActor>(&self, name: &str) -> Option<ActorRef<A>> {
        let Parts { replica, net } = self.parts().ok()?;
        let id = replica.read(|m| m.resolve(name))?;
        resolve_ref(&*net.ctx, id).ok()
    }

    /// Waits up to `timeout` for `name` to be registered, and returns a
    /// ref to its actor.
    pub async fn wait_for<A: RemoteActor>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<ActorRef<A>, RegistryError> {
        let Parts { replica, net } = self.parts()?;
        let mut events = replica.subscribe();
        let deadline = platform::deadline(timeout);
        loop {
            if let Some(id) = replica.read(|m| m.resolve(name)) {
                return Ok(resolve_ref(&*net.ctx, id)?);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                _ => {
                    return Err(RegistryError::NotRegistered {
                        name: name.to_owned(),
                        waited: timeout,
                    })
                }
            }
        }
    }

    /// Every registered name and its actor, sorted by name.
    pub fn names(&self) -> Vec<(String, ActorId)> {
        self.parts()
            .map(|p| p.replica.read(|m| m.names()))
            .unwrap_or_default()
    }

    /// Adds local actor `actor` to `group` (Erlang's `pg:join`); it leaves
    /// by itself when it is gone for good or its node goes.
    pub fn join<A: RemoteActor>(
        &self,
        group: &str,
        actor: &ActorRef<A>,
    ) -> Result<(), RegistryError> {
        self.publish(actor, "it joins groups from its own node", |m, local| {
            m.join(group, local).map_err(|r| refused(group, r))
        })
    }

    /// Removes local actor `actor` from `group`; true if it was in it.
    pub fn leave<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> bool {
        let Ok(Parts { replica, .. }) = self.parts() else {
            return false;
        };
        let local = actor.id().local;
        replica.with(|m| {
            let u = m.leave(group, local);
            (u.is_some(), u.into_iter().collect())
        })
    }

    /// The members of `group` on every node, sorted by id.
    pub fn group_ids(&self, group: &str) -> Vec<ActorId> {
        self.parts()
            .map(|p| p.replica.read(|m| m.group(group)))
            .unwrap_or_default()
    }

    /// Refs to the members of `group` on every node.
    pub fn group<A: RemoteActor>(&self, group: &str) -> Vec<ActorRef<A>> {
        let Ok(Parts { replica, net }) = self.parts() else {
            return Vec::new();
        };
        replica
            .read(|m| m.group(group))
            .into_iter()
            .filter_map(|id| resolve_ref(&*net.ctx, id).ok())
            .collect()
    }

    /// The groups with at least one member.
    pub fn groups(&self) -> Vec<String> {
        self.parts()
            .map(|p| p.replica.read(|m| m.groups()))
            .unwrap_or_default()
    }

    /// Changes from now on: names registered and freed, conflicts lost by
    /// this node, group members joining and leaving.
    pub fn events(&self) -> Result<broadcast::Receiver<RegistryEvent>, RegistryError> {
        Ok(self.parts()?.replica.subscribe())
    }

    /// Sends every registry change from now on to actor `to`, until it is
    /// gone (a subscriber 4,096 events behind misses the oldest, logged
    /// with their count).
    pub fn subscribe(&self, to: actix::Recipient<RegistryEvent>) -> Result<(), RegistryError> {
        let Parts { replica, net } = self.parts()?;
        platform::spawn_local(crate::actor::forward(
            replica.subscribe(),
            to,
            net.me.clone(),
        ));
        Ok(())
    }

    /// The node lives whose part of the registry this node holds (itself
    /// included): a node just started can take a name it finds free for
    /// free only once it holds the part of every member alive (one it has
    /// not heard from may hold the name).
    pub fn parts_held(&self) -> Vec<NodeId> {
        self.parts()
            .map(|p| p.replica.read(|m| m.parts()))
            .unwrap_or_default()
    }

    /// The nodes that can spawn `kind` (as far as this node knows).
    pub fn nodes_with_kind(&self, kind: &str) -> Vec<NodeId> {
        self.parts()
            .map(|p| p.replica.read(|m| m.nodes_with_kind(kind)))
            .unwrap_or_default()
    }
}

fn refused(name: &str, r: Refused) -> RegistryError {
    match r {
        Refused::Taken(holder) => RegistryError::HeldBy {
            name: name.to_owned(),
            holder,
        },
        Refused::Full => RegistryError::Full(MAX_OWN_ENTRIES),
    }
}
