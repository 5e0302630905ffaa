//! Membership as a user sees it: the members alive and down as this node
//! knows them, and their changes ([`Membership`], from
//! [`Node::membership`](crate::Node::membership)).

use super::{MemberEvent, MemberId, Members};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast;

/// The cluster's membership as one node sees it (SWIM over the nodes' own
/// connections). Empty, with no events, for a node that takes no part in
/// membership ([`NodeBuilder::seed_node`](crate::NodeBuilder::seed_node),
/// [`NodeBuilder::membership`](crate::NodeBuilder::membership)) or that
/// was shut down. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    members: Option<Weak<Members>>,
    /// Turns true if the cluster declares this node down (kept after the
    /// node shut down).
    downed: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Membership {
    pub(crate) fn new(members: Option<&Arc<Members>>) -> Self {
        Self {
            members: members.map(Arc::downgrade),
            downed: members.map(|m| m.downed()),
        }
    }

    /// The handle of a node that shut down because the cluster declared
    /// it down: no members, and the verdict kept.
    pub(crate) fn downed_and_gone() -> Self {
        let (_, downed) = tokio::sync::watch::channel(true);
        Self {
            members: None,
            downed: Some(downed),
        }
    }

    /// Whether the cluster declared this node down: members that speak for
    /// the cluster (more than half of it, or half holding its lowest name)
    /// closed their connections to it saying they hold it down. Such a
    /// node shuts itself down at once; started again (`arbour run` does it
    /// by itself), it rejoins as a new life.
    pub fn is_downed(&self) -> bool {
        self.downed.as_ref().is_some_and(|d| *d.borrow())
    }

    /// Waits until the cluster declares this node down (true), or the node
    /// shuts down for another reason (false). False at once without
    /// membership.
    pub async fn downed(&self) -> bool {
        match self.downed.clone() {
            Some(mut d) => d.wait_for(|d| *d).await.is_ok(),
            None => false,
        }
    }

    fn driver(&self) -> Option<Arc<Members>> {
        self.members.as_ref().and_then(Weak::upgrade)
    }

    /// This node as a member: its name, life, address and roles (`None`
    /// without membership).
    pub fn me(&self) -> Option<MemberId> {
        self.driver().map(|m| m.me_as_member())
    }

    /// The members alive as far as this node knows (itself excluded).
    pub fn members(&self) -> Vec<MemberId> {
        self.driver().map(|m| m.members()).unwrap_or_default()
    }

    /// The members declared down that are still remembered (each until
    /// [`MembershipConfig::remove_down_after`](crate::cluster::MembershipConfig::remove_down_after)
    /// has passed; then it is [`MemberEvent::Forgotten`]). Members that
    /// left on their own are in [`Membership::left`].
    pub fn down(&self) -> Vec<MemberId> {
        self.driver().map(|m| m.down()).unwrap_or_default()
    }

    /// The members that left (said goodbye) and are still remembered, as
    /// long as [`Membership::down`] remembers the downed.
    pub fn left(&self) -> Vec<MemberId> {
        self.driver().map(|m| m.departed()).unwrap_or_default()
    }

    /// This node and the members alive as far as it knows, oldest first
    /// (the lowest incarnation: the life started first; then the lowest
    /// name), the order a singleton's home is chosen by. Empty without
    /// membership.
    pub fn oldest_first(&self) -> Vec<crate::actor::NodeId> {
        self.driver().map(|m| m.oldest_first()).unwrap_or_default()
    }

    /// Whether this node reaches enough of the cluster to act for it, by
    /// the split-brain resolver's rule (keep-majority: more than half of
    /// the members, or half holding the lowest name), counting suspects
    /// as not reached. False on a partition's losing side from the first
    /// suspicions on (before `stable_after`, when it downs itself), and
    /// once the node is downed; true without membership. Work that must
    /// run on one side only (a singleton, a deployment's supervisor)
    /// stops when it turns false.
    pub fn has_quorum(&self) -> bool {
        match self.driver() {
            Some(m) => m.reaches_quorum(),
            None => !self.is_downed(),
        }
    }

    /// Changes from now on (`Up`, `Suspect`, `Down`, `Left`, `Replaced`,
    /// `Forgotten`); `None` without membership. A receiver 1,024 events
    /// behind misses the oldest (`Lagged`).
    pub fn events(&self) -> Option<broadcast::Receiver<MemberEvent>> {
        self.driver().map(|m| m.subscribe())
    }

    /// Sends every change from now on to `to` (an actor's
    /// [`ActorRef::recipient`](crate::ActorRef::recipient), or an actix
    /// `Addr`'s), until it is gone. Events a slow subscriber falls 1,024
    /// behind on are dropped for it, and the drop is logged with its
    /// count. Call it on one of the node's workers.
    pub fn subscribe(&self, to: actix::Recipient<MemberEvent>) {
        if let Some(m) = self.driver() {
            crate::platform::spawn_local(crate::actor::forward(m.subscribe(), to, m.me()));
        }
    }
}
