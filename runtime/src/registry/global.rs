//! The cluster-wide registry as a sans-IO machine: names, process groups
//! (Erlang's `pg`) and the actor kinds each node can spawn.
//!
//! Every node *owns* what it registered: its own names, its actors' group
//! memberships and its kinds. It publishes them to its peers, the whole
//! state when a connection comes up and a delta per change after that
//! (numbered, so a gap is noticed and the whole state asked for again).
//! Every node keeps a replica of each peer's state, tagged with the peer's
//! incarnation, and drops it when membership says that life is over (down,
//! left, or replaced by a restart).
//!
//! A name registered on two nodes at once has one winner everywhere: the
//! registration with the lowest Lamport stamp, then the lowest node name,
//! then the lowest incarnation. The stamp of a registration is larger than
//! that of every registration its node had seen, so a node that knew of an
//! entry cannot win against it by registering later. The loser's own node
//! removes its entry and tells the registrant (a [`RegistryEvent::NameLost`]),
//! instead of killing one of the two at random as Erlang's `global` does.

use crate::actor::{ActorId, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Most names, and most group memberships, one node may publish (its whole
/// state then stays well under a frame). A peer's part past it is refused
/// (every node applies the same cap to the same updates, so they agree).
pub const MAX_OWN_ENTRIES: usize = 100_000;

/// How far ahead of this node's Lamport clock a peer's stamp may be. A
/// real node's stamps run ahead of another's only by the registrations in
/// flight between them; a stamp further ahead is refused (one at u64::MAX
/// would push every clock to its end).
pub const MAX_STAMP_AHEAD: u64 = 1 << 32;

/// Peers whose whole part may be awaited at once (about the members).
const MAX_AWAITED: usize = 10_000;

/// Most actor kinds one node may publish.
pub const MAX_KINDS: usize = 4096;

/// A name's registration: the local actor number and its Lamport stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The actor's number on its node.
    pub local: u64,
    /// When it was registered, in the cluster's Lamport time.
    pub stamp: u64,
}

/// What one node publishes: its names, its actors' group memberships, the
/// kinds it can spawn.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Names registered by this node.
    pub names: BTreeMap<String, Registration>,
    /// Group → the node's local actors in it.
    pub groups: BTreeMap<String, BTreeSet<u64>>,
    /// The actor kinds the node can spawn.
    pub kinds: BTreeSet<String>,
}

/// One change to a node's published state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A name was registered.
    Register {
        /// The name.
        name: String,
        /// The registration.
        at: Registration,
    },
    /// A name was freed.
    Unregister {
        /// The name.
        name: String,
    },
    /// A local actor joined a group.
    Join {
        /// The group.
        group: String,
        /// The actor's number.
        local: u64,
    },
    /// A local actor left a group.
    Leave {
        /// The group.
        group: String,
        /// The actor's number.
        local: u64,
    },
    /// A kind became spawnable here.
    Kind {
        /// The kind's name.
        name: String,
    },
}

/// What a node sends its peers about its own state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// The whole state, as of change number `seq`.
    Full {
        /// The number of the last change included.
        seq: u64,
        /// The state.
        state: Published,
    },
    /// Change number `seq`.
    Delta {
        /// Its number (one more than the previous one).
        seq: u64,
        /// The change.
        change: Change,
    },
}

/// A change in what the registry resolves to, as subscribers see it (also
/// an actix message, for [`GlobalRegistry::subscribe`](crate::cluster::GlobalRegistry::subscribe)).
#[derive(Clone, Debug, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
pub enum RegistryEvent {
    /// `name` now resolves to `actor` (a new name, or a new winner).
    Registered {
        /// The name.
        name: String,
        /// Its actor.
        actor: ActorId,
    },
    /// `name` resolves to nothing any more.
    Unregistered {
        /// The name.
        name: String,
        /// The actor it named.
        actor: ActorId,
    },
    /// This node's registration of `name` lost a conflict with `winner`
    /// (registered at about the same time elsewhere) and was removed.
    NameLost {
        /// The name.
        name: String,
        /// This node's actor, no longer registered.
        loser: ActorId,
        /// The registration that stays, on every node.
        winner: ActorId,
    },
    /// `actor` joined `group`.
    Joined {
        /// The group.
        group: String,
        /// The member.
        actor: ActorId,
    },
    /// Node `node` can spawn actors of `kind` now.
    KindAdded {
        /// The node.
        node: NodeId,
        /// The kind.
        kind: String,
    },
    /// `actor` left `group` (it left, exited, or its node is gone).
    Left {
        /// The group.
        group: String,
        /// The former member.
        actor: ActorId,
    },
}

/// What applying a peer's update needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Taken (or stale and ignored).
    Done,
    /// A change is missing before this one: ask the peer for its whole
    /// state.
    NeedFull,
    /// Refused, for the reason given: a stamp of 0, ahead of this node's
    /// clock by more than [`MAX_STAMP_AHEAD`] or not past the peer's
    /// earlier ones, or a part past [`MAX_OWN_ENTRIES`].
    Refused(&'static str),
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The name resolves to another actor.
    Taken(ActorId),
    /// This node publishes [`MAX_OWN_ENTRIES`] already.
    Full,
}

#[derive(Clone, Debug)]
struct Replica {
    incarnation: u64,
    seq: u64,
    state: Published,
    /// The highest stamp this life has used: its next registration must
    /// be stamped past it (a node's clock only goes forward).
    top_stamp: u64,
}

/// Names and group memberships in `state`.
fn entries(state: &Published) -> usize {
    state.names.len() + state.groups.values().map(BTreeSet::len).sum::<usize>()
}

/// The registry as one node sees it.
#[derive(Debug)]
pub struct ClusterRegistry {
    me: NodeId,
    clock: u64,
    own_seq: u64,
    own: Published,
    /// Peers' states by node name.
    replicas: BTreeMap<String, Replica>,
    /// Lives known to be over: a late update from one is ignored.
    gone: BTreeSet<(String, u64)>,
    /// Peers whose whole part this node expects (it asked, or their
    /// connection just came up). A whole part from a life this node holds
    /// is taken only then: applying one costs about 60 ms per 100,000
    /// entries, so a peer may not make the node do it at will.
    awaiting: BTreeSet<String>,
    /// Own changes made by this machine itself (a lost conflict), for the
    /// driver to publish.
    outgoing: Vec<Update>,
    events: VecDeque<RegistryEvent>,
}

fn id(node: &str, incarnation: u64, local: u64) -> ActorId {
    ActorId {
        node: NodeId::new(node, incarnation),
        local,
    }
}

/// The order of candidates for one name: the first wins.
type Rank = (u64, String, u64);

impl ClusterRegistry {
    /// The registry of node `me`, empty.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            clock: 0,
            own_seq: 0,
            own: Published::default(),
            replicas: BTreeMap::new(),
            gone: BTreeSet::new(),
            awaiting: BTreeSet::new(),
            outgoing: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Every candidate for `name`, best first.
    fn candidates(&self, name: &str) -> Vec<(Rank, ActorId)> {
        let mut v = Vec::new();
        if let Some(r) = self.own.names.get(name) {
            let me = &self.me;
            v.push((
                (r.stamp, me.name.to_string(), me.incarnation),
                id(&me.name, me.incarnation, r.local),
            ));
        }
        for (node, rep) in &self.replicas {
            if let Some(r) = rep.state.names.get(name) {
                v.push((
                    (r.stamp, node.clone(), rep.incarnation),
                    id(node, rep.incarnation, r.local),
                ));
            }
        }
        v.sort();
        v
    }

    /// The actor `name` resolves to, if any.
    pub fn resolve(&self, name: &str) -> Option<ActorId> {
        self.candidates(name).into_iter().next().map(|(_, a)| a)
    }

    /// Every registered name and the actor it resolves to, sorted by name.
    pub fn names(&self) -> Vec<(String, ActorId)> {
        let all: BTreeSet<&String> = self
            .own
            .names
            .keys()
            .chain(self.replicas.values().flat_map(|r| r.state.names.keys()))
            .collect();
        all.into_iter()
            .filter_map(|n| self.resolve(n).map(|a| (n.clone(), a)))
            .collect()
    }

    /// The members of `group` on every node, sorted.
    pub fn group(&self, group: &str) -> Vec<ActorId> {
        let mut v: Vec<ActorId> = Vec::new();
        if let Some(set) = self.own.groups.get(group) {
            v.extend(
                set.iter()
                    .map(|l| id(&self.me.name, self.me.incarnation, *l)),
            );
        }
        for (node, rep) in &self.replicas {
            if let Some(set) = rep.state.groups.get(group) {
                v.extend(set.iter().map(|l| id(node, rep.incarnation, *l)));
            }
        }
        v.sort();
        v
    }

    /// The groups with at least one member, sorted.
    pub fn groups(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self
            .own
            .groups
            .keys()
            .chain(self.replicas.values().flat_map(|r| r.state.groups.keys()))
            .collect();
        all.into_iter().cloned().collect()
    }

    /// The nodes (name and incarnation) that can spawn `kind`, this one
    /// included, sorted by name.
    pub fn nodes_with_kind(&self, kind: &str) -> Vec<NodeId> {
        let mut v = Vec::new();
        if self.own.kinds.contains(kind) {
            v.push(self.me.clone());
        }
        for (node, rep) in &self.replicas {
            if rep.state.kinds.contains(kind) {
                v.push(NodeId::new(node.as_str(), rep.incarnation));
            }
        }
        v.sort();
        v
    }

    /// Names and group memberships held in the peers' parts.
    pub fn replica_entries(&self) -> usize {
        self.replicas.values().map(|r| entries(&r.state)).sum()
    }

    /// The lives whose part this replica holds, this node's own included.
    pub fn parts(&self) -> Vec<NodeId> {
        let mut v = vec![self.me.clone()];
        v.extend(
            self.replicas
                .iter()
                .map(|(node, rep)| NodeId::new(node.as_str(), rep.incarnation)),
        );
        v
    }

    /// Whether this node itself registered `name` to `local`.
    pub fn owns(&self, name: &str, local: u64) -> bool {
        self.own.names.get(name).is_some_and(|r| r.local == local)
    }

    fn own_entries(&self) -> usize {
        entries(&self.own)
    }

    /// Whether `stamp`, from a peer, may be taken: not 0 (no node stamps
    /// 0), and not ahead of this node's clock by more than
    /// [`MAX_STAMP_AHEAD`].
    fn stamp_fits(&self, stamp: u64) -> bool {
        stamp >= 1 && stamp <= self.clock.saturating_add(MAX_STAMP_AHEAD)
    }

    fn publish(&mut self, change: Change) -> Update {
        self.own_seq += 1;
        Update::Delta {
            seq: self.own_seq,
            change,
        }
    }

    /// Registers local actor `local` as `name`; the update to send every
    /// peer. Registering the same actor again under its name is a no-op
    /// (`Ok(None)`).
    pub fn register(&mut self, name: &str, local: u64) -> Result<Option<Update>, Refused> {
        if let Some(holder) = self.resolve(name) {
            if holder.node == self.me && holder.local == local {
                return Ok(None);
            }
            return Err(Refused::Taken(holder));
        }
        if self.own_entries() >= MAX_OWN_ENTRIES {
            return Err(Refused::Full);
        }
        self.clock = self.clock.saturating_add(1);
        let at = Registration {
            local,
            stamp: self.clock,
        };
        self.own.names.insert(name.to_owned(), at);
        self.events.push_back(RegistryEvent::Registered {
            name: name.to_owned(),
            actor: id(&self.me.name, self.me.incarnation, local),
        });
        Ok(Some(self.publish(Change::Register {
            name: name.to_owned(),
            at,
        })))
    }

    /// Frees `name` if this node registered it (to `local`, when given);
    /// the update to send.
    pub fn unregister(&mut self, name: &str, local: Option<u64>) -> Option<Update> {
        let held = self.own.names.get(name)?;
        if local.is_some_and(|l| l != held.local) {
            return None;
        }
        let before = self.resolve(name);
        self.own.names.remove(name);
        self.name_changed(name, before);
        Some(self.publish(Change::Unregister {
            name: name.to_owned(),
        }))
    }

    /// Adds local actor `local` to `group`; the update to send (`None` if
    /// it was a member already).
    pub fn join(&mut self, group: &str, local: u64) -> Result<Option<Update>, Refused> {
        if self
            .own
            .groups
            .get(group)
            .is_some_and(|s| s.contains(&local))
        {
            return Ok(None);
        }
        if self.own_entries() >= MAX_OWN_ENTRIES {
            return Err(Refused::Full);
        }
        self.own
            .groups
            .entry(group.to_owned())
            .or_default()
            .insert(local);
        self.events.push_back(RegistryEvent::Joined {
            group: group.to_owned(),
            actor: id(&self.me.name, self.me.incarnation, local),
        });
        Ok(Some(self.publish(Change::Join {
            group: group.to_owned(),
            local,
        })))
    }

    /// Removes local actor `local` from `group`; the update to send.
    pub fn leave(&mut self, group: &str, local: u64) -> Option<Update> {
        let set = self.own.groups.get_mut(group)?;
        if !set.remove(&local) {
            return None;
        }
        if set.is_empty() {
            self.own.groups.remove(group);
        }
        self.events.push_back(RegistryEvent::Left {
            group: group.to_owned(),
            actor: id(&self.me.name, self.me.incarnation, local),
        });
        Some(self.publish(Change::Leave {
            group: group.to_owned(),
            local,
        }))
    }

    /// Local actor `local` exited: its names and memberships go; the
    /// updates to send.
    pub fn exited(&mut self, local: u64) -> Vec<Update> {
        let names: Vec<String> = self
            .own
            .names
            .iter()
            .filter(|(_, r)| r.local == local)
            .map(|(n, _)| n.clone())
            .collect();
        let groups: Vec<String> = self
            .own
            .groups
            .iter()
            .filter(|(_, s)| s.contains(&local))
            .map(|(g, _)| g.clone())
            .collect();
        let mut out: Vec<Update> = names
            .iter()
            .filter_map(|n| self.unregister(n, Some(local)))
            .collect();
        out.extend(groups.iter().filter_map(|g| self.leave(g, local)));
        out
    }

    /// Makes `kind` spawnable here; the update to send.
    pub fn add_kind(&mut self, kind: &str) -> Option<Update> {
        if !self.own.kinds.insert(kind.to_owned()) {
            return None;
        }
        self.events.push_back(RegistryEvent::KindAdded {
            node: self.me.clone(),
            kind: kind.to_owned(),
        });
        Some(self.publish(Change::Kind {
            name: kind.to_owned(),
        }))
    }

    /// This node's whole state, for a peer that just connected.
    pub fn full(&self) -> Update {
        Update::Full {
            seq: self.own_seq,
            state: self.own.clone(),
        }
    }

    /// An update from node `from` in life `incarnation`.
    pub fn apply(&mut self, from: &str, incarnation: u64, update: Update) -> Applied {
        if from == &*self.me.name || self.gone.contains(&(from.to_owned(), incarnation)) {
            return Applied::Done;
        }
        let current = self.replicas.get(from).map(|r| (r.incarnation, r.seq));
        match (update, current) {
            (_, Some((inc, _))) if incarnation < inc => Applied::Done,
            (Update::Full { seq, state }, cur) => {
                if let Some((inc, have)) = cur {
                    if inc == incarnation && !self.awaiting.remove(from) {
                        return Applied::Refused("a whole part this node did not ask for");
                    }
                    if inc == incarnation && seq < have {
                        return Applied::Done;
                    }
                }
                self.awaiting.remove(from);
                if entries(&state) > MAX_OWN_ENTRIES || state.kinds.len() > MAX_KINDS {
                    return Applied::Refused("a part with more entries than MAX_OWN_ENTRIES");
                }
                if !state.names.values().all(|r| self.stamp_fits(r.stamp)) {
                    return Applied::Refused("a stamp of 0, or too far ahead of this node's clock");
                }
                let top = state.names.values().map(|r| r.stamp).max().unwrap_or(0);
                let top_stamp = match self.replicas.get(from) {
                    Some(r) if r.incarnation == incarnation => r.top_stamp.max(top),
                    _ => top,
                };
                self.replace(
                    from,
                    Some(Replica {
                        incarnation,
                        seq,
                        state,
                        top_stamp,
                    }),
                );
                Applied::Done
            }
            (Update::Delta { seq, change }, Some((inc, have))) if inc == incarnation => {
                if seq <= have {
                    return Applied::Done;
                }
                if seq != have + 1 {
                    // asked once: the whole part is on its way
                    return if self.awaiting.insert(from.to_owned()) {
                        Applied::NeedFull
                    } else {
                        Applied::Done
                    };
                }
                if let Some(why) = self.refuse_change(from, &change) {
                    // taken as seen (the numbering goes on), not applied
                    if let Some(rep) = self.replicas.get_mut(from) {
                        rep.seq = seq;
                    }
                    return Applied::Refused(why);
                }
                self.change(from, seq, change);
                Applied::Done
            }
            // a delta from a life we hold no state of yet
            (Update::Delta { .. }, _) => {
                if self.awaiting.insert(from.to_owned()) {
                    Applied::NeedFull
                } else {
                    Applied::Done
                }
            }
        }
    }

    /// A connection to node `node` came up: it sends its whole part, which
    /// this node takes even if it holds that life's part already.
    pub fn expect_full(&mut self, node: &str) {
        if self.awaiting.len() < 4 * MAX_AWAITED {
            self.awaiting.insert(node.to_owned());
        }
    }

    /// Node `node`'s life `incarnation` is over (down, left, replaced):
    /// its state goes everywhere it was used.
    pub fn owner_gone(&mut self, node: &str, incarnation: u64) {
        if node == &*self.me.name
            || super::planted::KEEP_NAMES_OF_GONE_NODES.load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        self.gone.insert((node.to_owned(), incarnation));
        if self
            .replicas
            .get(node)
            .is_some_and(|r| r.incarnation <= incarnation)
        {
            self.replace(node, None);
        }
    }

    /// Node `node`'s life is no longer reachable and not a member (a plain
    /// peer, or a life membership never saw or already ended): its state
    /// goes, but a later connection may bring the same life back.
    pub fn owner_disconnected(&mut self, node: &str, incarnation: u64) {
        if super::planted::KEEP_NAMES_OF_GONE_NODES.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if self
            .replicas
            .get(node)
            .is_some_and(|r| r.incarnation == incarnation)
        {
            self.replace(node, None);
        }
    }

    fn bump_clock(&mut self, state: &Published) {
        if let Some(max) = state.names.values().map(|r| r.stamp).max() {
            self.clock = self.clock.max(max);
        }
    }

    /// Replaces node `node`'s replica, reporting what that changed.
    fn replace(&mut self, node: &str, new: Option<Replica>) {
        let names: BTreeSet<String> = self
            .replicas
            .get(node)
            .into_iter()
            .chain(new.iter())
            .flat_map(|r| r.state.names.keys().cloned())
            .collect();
        let before: Vec<(String, Option<ActorId>)> = names
            .into_iter()
            .map(|n| {
                let was = self.resolve(&n);
                (n, was)
            })
            .collect();
        let old = self.replicas.remove(node);
        if let Some(n) = &new {
            let had = old.as_ref().map(|o| &o.state.kinds);
            for kind in &n.state.kinds {
                if !had.is_some_and(|h| h.contains(kind)) {
                    self.events.push_back(RegistryEvent::KindAdded {
                        node: NodeId::new(node, n.incarnation),
                        kind: kind.clone(),
                    });
                }
            }
        }
        let old_members = old
            .as_ref()
            .map(|r| members_of(node, r))
            .unwrap_or_default();
        let new_members = new
            .as_ref()
            .map(|r| members_of(node, r))
            .unwrap_or_default();
        if let Some(n) = new {
            self.bump_clock(&n.state);
            self.replicas.insert(node.to_owned(), n);
        }
        for (group, actor) in old_members.difference(&new_members) {
            self.events.push_back(RegistryEvent::Left {
                group: group.clone(),
                actor: actor.clone(),
            });
        }
        for (group, actor) in new_members.difference(&old_members) {
            self.events.push_back(RegistryEvent::Joined {
                group: group.clone(),
                actor: actor.clone(),
            });
        }
        for (name, was) in before {
            self.name_changed(&name, was);
        }
    }

    /// Why `change` from `from` may not be applied, if it may not.
    fn refuse_change(&self, from: &str, change: &Change) -> Option<&'static str> {
        let rep = self.replicas.get(from)?;
        match change {
            Change::Register { name, at } => {
                if !self.stamp_fits(at.stamp) {
                    return Some("a stamp of 0, or too far ahead of this node's clock");
                }
                if at.stamp <= rep.top_stamp {
                    return Some("a stamp not past the node's earlier ones (its clock went back)");
                }
                let new = !rep.state.names.contains_key(name);
                (new && entries(&rep.state) >= MAX_OWN_ENTRIES)
                    .then_some("a part past MAX_OWN_ENTRIES")
            }
            Change::Join { group, local } => {
                let new = !rep.state.groups.get(group).is_some_and(|s| s.contains(local));
                (new && entries(&rep.state) >= MAX_OWN_ENTRIES)
                    .then_some("a part past MAX_OWN_ENTRIES")
            }
            Change::Kind { .. } => (rep.state.kinds.len() >= MAX_KINDS).then_some("more kinds than MAX_KINDS"),
            Change::Unregister { .. } | Change::Leave { .. } => None,
        }
    }

    fn change(&mut self, from: &str, seq: u64, change: Change) {
        let Some(rep) = self.replicas.get_mut(from) else {
            return;
        };
        rep.seq = seq;
        let incarnation = rep.incarnation;
        match change {
            Change::Register { name, at } => {
                let before = self.resolve(&name);
                self.clock = self.clock.max(at.stamp);
                if let Some(rep) = self.replicas.get_mut(from) {
                    rep.top_stamp = rep.top_stamp.max(at.stamp);
                    rep.state.names.insert(name.clone(), at);
                }
                self.name_changed(&name, before);
            }
            Change::Unregister { name } => {
                let before = self.resolve(&name);
                if let Some(rep) = self.replicas.get_mut(from) {
                    rep.state.names.remove(&name);
                }
                self.name_changed(&name, before);
            }
            Change::Join { group, local } => {
                if rep
                    .state
                    .groups
                    .entry(group.clone())
                    .or_default()
                    .insert(local)
                {
                    self.events.push_back(RegistryEvent::Joined {
                        group,
                        actor: id(from, incarnation, local),
                    });
                }
            }
            Change::Leave { group, local } => {
                let removed = rep
                    .state
                    .groups
                    .get_mut(&group)
                    .is_some_and(|s| s.remove(&local));
                if rep.state.groups.get(&group).is_some_and(BTreeSet::is_empty) {
                    rep.state.groups.remove(&group);
                }
                if removed {
                    self.events.push_back(RegistryEvent::Left {
                        group,
                        actor: id(from, incarnation, local),
                    });
                }
            }
            Change::Kind { name } => {
                if rep.state.kinds.insert(name.clone()) {
                    self.events.push_back(RegistryEvent::KindAdded {
                        node: NodeId::new(from, incarnation),
                        kind: name,
                    });
                }
            }
        }
    }

    /// `name` resolved to `before`; reports a change, and gives up this
    /// node's own registration if it now loses to another one.
    fn name_changed(&mut self, name: &str, before: Option<ActorId>) {
        let mut now = self.resolve(name);
        if let (Some(own), Some(winner)) = (self.own.names.get(name).copied(), now.clone()) {
            if winner.node != self.me {
                let loser = id(&self.me.name, self.me.incarnation, own.local);
                self.own.names.remove(name);
                let update = self.publish(Change::Unregister {
                    name: name.to_owned(),
                });
                self.outgoing.push(update);
                self.events.push_back(RegistryEvent::NameLost {
                    name: name.to_owned(),
                    loser,
                    winner,
                });
                now = self.resolve(name);
            }
        }
        if before == now {
            return;
        }
        if let Some(actor) = before {
            if now.is_none() {
                self.events.push_back(RegistryEvent::Unregistered {
                    name: name.to_owned(),
                    actor,
                });
            }
        }
        if let Some(actor) = now {
            self.events.push_back(RegistryEvent::Registered {
                name: name.to_owned(),
                actor,
            });
        }
    }

    /// The next own update this machine made by itself (a lost conflict).
    pub fn next_outgoing(&mut self) -> Option<Update> {
        if self.outgoing.is_empty() {
            None
        } else {
            Some(self.outgoing.remove(0))
        }
    }

    /// The next change to report.
    pub fn next_event(&mut self) -> Option<RegistryEvent> {
        self.events.pop_front()
    }
}

fn members_of(node: &str, r: &Replica) -> BTreeSet<(String, ActorId)> {
    r.state
        .groups
        .iter()
        .flat_map(|(g, set)| {
            set.iter()
                .map(move |l| (g.clone(), id(node, r.incarnation, *l)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str) -> ClusterRegistry {
        ClusterRegistry::new(NodeId::new(name, 1))
    }

    fn events(r: &mut ClusterRegistry) -> Vec<RegistryEvent> {
        std::iter::from_fn(|| r.next_event()).collect()
    }

    fn outgoing(r: &mut ClusterRegistry) -> Vec<Update> {
        std::iter::from_fn(|| r.next_outgoing()).collect()
    }

    #[test]
    fn a_name_registered_on_one_node_resolves_on_another() {
        let (mut a, mut b) = (node("a"), node("b"));
        b.apply("a", 1, a.full());
        let up = a.register("svc", 7).expect("accepted").expect("an update");
        assert_eq!(b.apply("a", 1, up), Applied::Done);
        assert_eq!(b.resolve("svc"), Some(id("a", 1, 7)));
        assert_eq!(
            events(&mut b),
            vec![RegistryEvent::Registered {
                name: "svc".into(),
                actor: id("a", 1, 7)
            }]
        );
        // b knows the name is taken
        assert_eq!(b.register("svc", 9), Err(Refused::Taken(id("a", 1, 7))));
        // registering the same actor again is a no-op
        assert_eq!(a.register("svc", 7), Ok(None));
    }

    /// Finding 4: a peer's update with stamp 0 won every name; one at
    /// u64::MAX pushed the clock to its end (and the next registration
    /// wrapped). Stamps of 0, far ahead, or not past the peer's earlier
    /// ones are refused; the name stays its owner's.
    #[test]
    fn stamps_of_zero_far_ahead_or_going_back_are_refused() {
        let (mut a, mut m) = (node("a"), node("mallory"));
        m.apply("a", 1, a.full());
        let up = a.register("svc", 7).expect("accepted").expect("an update");
        m.apply("a", 1, up);
        a.apply("mallory", 1, m.full());
        let hijack = |stamp: u64, seq: u64| Update::Delta {
            seq,
            change: Change::Register {
                name: "svc".into(),
                at: Registration { local: 99, stamp },
            },
        };
        for (stamp, seq) in [(0, 1), (u64::MAX, 2)] {
            assert!(matches!(a.apply("mallory", 1, hijack(stamp, seq)), Applied::Refused(_)));
        }
        // a whole part carrying them is refused as well
        let mut state = Published::default();
        state.names.insert("svc".into(), Registration { local: 99, stamp: 0 });
        assert!(matches!(
            a.apply("mallory", 1, Update::Full { seq: 3, state }),
            Applied::Refused(_)
        ));
        // a stamp that goes back on the peer's own earlier one
        assert_eq!(a.apply("mallory", 1, hijack(5, 3)), Applied::Done);
        assert!(matches!(
            a.apply(
                "mallory",
                1,
                Update::Delta {
                    seq: 4,
                    change: Change::Register {
                        name: "other".into(),
                        at: Registration { local: 98, stamp: 4 },
                    },
                },
            ),
            Applied::Refused(_)
        ));
        assert_eq!(a.resolve("svc"), Some(id("a", 1, 7)));
        // the clock did not move past what was accepted, and still counts
        let next = a.register("next", 8).expect("accepted").expect("update");
        let Update::Delta { change: Change::Register { at, .. }, .. } = next else {
            panic!("a registration");
        };
        assert_eq!(at.stamp, 6);
    }

    /// Finding 5: a peer's part grew without bound (1 M names). Past
    /// [`MAX_OWN_ENTRIES`] its updates are refused, the same on every node.
    #[test]
    fn a_peers_part_past_its_cap_is_refused() {
        let mut a = node("a");
        let mut state = Published::default();
        for i in 0..=MAX_OWN_ENTRIES as u64 {
            state.names.insert(format!("n{i}"), Registration { local: i, stamp: 1 + i });
        }
        assert!(matches!(
            a.apply("mallory", 1, Update::Full { seq: 0, state }),
            Applied::Refused(_)
        ));
        assert_eq!(a.replica_entries(), 0);
        a.apply("mallory", 1, Update::Full { seq: 0, state: Published::default() });
        let mut refused = 0;
        for i in 0..(MAX_OWN_ENTRIES as u64 + 10) {
            let join = Update::Delta {
                seq: i + 1,
                change: Change::Join {
                    group: "g".into(),
                    local: i,
                },
            };
            if matches!(a.apply("mallory", 1, join), Applied::Refused(_)) {
                refused += 1;
            }
        }
        assert_eq!(refused, 10);
        assert_eq!(a.replica_entries(), MAX_OWN_ENTRIES);
    }

    #[test]
    fn concurrent_registrations_have_one_winner_and_the_loser_is_told() {
        let (mut a, mut b) = (node("a"), node("b"));
        let ua = a.register("x", 1).expect("accepted").expect("an update");
        let ub = b.register("x", 2).expect("accepted").expect("an update");
        // each sees the other's registration: same stamp, lower name wins
        b.apply(
            "a",
            1,
            Update::Full {
                seq: 0,
                state: Published::default(),
            },
        );
        a.apply(
            "b",
            1,
            Update::Full {
                seq: 0,
                state: Published::default(),
            },
        );
        a.apply("b", 1, ub);
        b.apply("a", 1, ua);
        assert_eq!(a.resolve("x"), Some(id("a", 1, 1)));
        assert_eq!(b.resolve("x"), Some(id("a", 1, 1)));
        assert!(events(&mut b).contains(&RegistryEvent::NameLost {
            name: "x".into(),
            loser: id("b", 1, 2),
            winner: id("a", 1, 1),
        }));
        // b withdrew its entry, and says so
        let withdrawn = outgoing(&mut b);
        assert_eq!(withdrawn.len(), 1);
        a.apply("b", 1, withdrawn[0].clone());
        assert!(!b.owns("x", 2));
        assert!(outgoing(&mut a).is_empty(), "the winner keeps its entry");
        // once the winner's actor goes, the name is free everywhere
        let gone = a.exited(1);
        for u in gone {
            b.apply("a", 1, u);
        }
        assert_eq!(a.resolve("x"), None);
        assert_eq!(b.resolve("x"), None);
    }

    #[test]
    fn an_older_registration_beats_a_lower_name() {
        let (mut a, mut z) = (node("a"), node("z"));
        // z registers y first in Lamport time (stamp 1); a, without having
        // heard of it, registers two other names and then y (stamp 3)
        let zy = z.register("y", 6).expect("accepted").expect("an update");
        a.register("p", 1).expect("ok");
        a.register("q", 2).expect("ok");
        let ay = a.register("y", 3).expect("accepted").expect("an update");
        a.apply(
            "z",
            1,
            Update::Full {
                seq: 0,
                state: Published::default(),
            },
        );
        z.apply(
            "a",
            1,
            Update::Full {
                seq: 0,
                state: Published::default(),
            },
        );
        a.apply("z", 1, zy);
        z.apply("a", 1, ay);
        assert_eq!(a.resolve("y"), Some(id("z", 1, 6)));
        assert_eq!(z.resolve("y"), Some(id("z", 1, 6)));
        assert!(!a.owns("y", 3), "the later registration withdrew");
        // and a node that saw an entry cannot win against it later: its
        // own stamps are past the entry's
        assert_eq!(a.register("y", 9), Err(Refused::Taken(id("z", 1, 6))));
        assert!(a.clock > 1);
    }

    #[test]
    fn a_gone_owner_takes_its_names_and_members_with_it() {
        let (mut a, mut b) = (node("a"), node("b"));
        a.register("svc", 3).expect("ok");
        a.join("workers", 3).expect("ok");
        a.join("workers", 4).expect("ok");
        b.join("workers", 10).expect("ok");
        b.apply("a", 1, a.full());
        assert_eq!(
            b.group("workers"),
            vec![id("a", 1, 3), id("a", 1, 4), id("b", 1, 10)]
        );
        events(&mut b);
        b.owner_gone("a", 1);
        assert_eq!(b.resolve("svc"), None);
        assert_eq!(b.group("workers"), vec![id("b", 1, 10)]);
        let ev = events(&mut b);
        assert!(ev.contains(&RegistryEvent::Unregistered {
            name: "svc".into(),
            actor: id("a", 1, 3)
        }));
        assert!(ev.contains(&RegistryEvent::Left {
            group: "workers".into(),
            actor: id("a", 1, 4)
        }));
        // a late update from that life is ignored; the next life is taken
        b.apply("a", 1, a.full());
        assert_eq!(b.resolve("svc"), None);
        let mut a2 = ClusterRegistry::new(NodeId::new("a", 2));
        a2.register("svc", 1).expect("ok");
        b.apply("a", 2, a2.full());
        assert_eq!(b.resolve("svc"), Some(id("a", 2, 1)));
    }

    #[test]
    fn a_missing_delta_asks_for_the_whole_state() {
        let (mut a, mut b) = (node("a"), node("b"));
        b.apply("a", 1, a.full());
        let _lost = a.register("one", 1).expect("accepted").expect("an update");
        let second = a.register("two", 2).expect("accepted").expect("an update");
        assert_eq!(b.apply("a", 1, second), Applied::NeedFull);
        assert_eq!(b.resolve("two"), None);
        b.apply("a", 1, a.full());
        assert_eq!(b.resolve("one"), Some(id("a", 1, 1)));
        assert_eq!(b.resolve("two"), Some(id("a", 1, 2)));
        // a stale whole state does not undo newer changes
        let old = a.full();
        let third = a
            .register("three", 3)
            .expect("accepted")
            .expect("an update");
        b.apply("a", 1, third);
        b.apply("a", 1, old);
        assert_eq!(b.resolve("three"), Some(id("a", 1, 3)));
        // a delta from a life we know nothing of yet
        let mut c = node("c");
        let u = c.register("z", 1).expect("accepted").expect("an update");
        assert_eq!(b.apply("c", 1, u), Applied::NeedFull);
    }

    #[test]
    fn kinds_are_published() {
        let (mut a, mut b) = (node("a"), node("b"));
        b.add_kind("fib");
        b.apply("a", 1, a.full());
        let u = a.add_kind("fib").expect("ok");
        assert_eq!(a.add_kind("fib"), None);
        b.apply("a", 1, u);
        assert_eq!(
            b.nodes_with_kind("fib"),
            vec![NodeId::new("a", 1), NodeId::new("b", 1)]
        );
        assert!(b.nodes_with_kind("other").is_empty());
    }

    proptest! {
        /// Nodes register a few names each, concurrently; every update
        /// (and every withdrawal a conflict causes) is delivered in a
        /// random order, per-sender order kept. All nodes end agreeing on
        /// every name, and each name held by some node is held by its
        /// winner only.
        #[test]
        fn every_node_agrees_on_every_winner(
            regs in proptest::collection::vec((0usize..4, 0usize..3), 1..12),
            picks in proptest::collection::vec(any::<u16>(), 200),
        ) {
            let names = ["a", "b", "c", "d"];
            let mut nodes: Vec<ClusterRegistry> = names.iter().map(|n| node(n)).collect();
            // every node starts from every other's (empty) whole state
            for i in 0..4 {
                for j in 0..4 {
                    if i != j {
                        let f = nodes[j].full();
                        nodes[i].apply(names[j], 1, f);
                    }
                }
            }
            // queues[from][to]: updates in flight, in order
            let mut queues: Vec<Vec<VecDeque<Update>>> = vec![vec![VecDeque::new(); 4]; 4];
            for (k, (who, name)) in regs.iter().enumerate() {
                if let Ok(Some(u)) = nodes[*who].register(&format!("n{name}"), k as u64) {
                    for (to, q) in queues[*who].iter_mut().enumerate() {
                        if to != *who { q.push_back(u.clone()); }
                    }
                }
            }
            let mut picks = picks.into_iter().cycle();
            loop {
                let busy: Vec<(usize, usize)> = (0..4)
                    .flat_map(|f| (0..4).map(move |t| (f, t)))
                    .filter(|(f, t)| !queues[*f][*t].is_empty())
                    .collect();
                if busy.is_empty() { break; }
                let (f, t) = busy[picks.next().unwrap_or(0) as usize % busy.len()];
                let u = queues[f][t].pop_front().expect("queued");
                prop_assert_eq!(nodes[t].apply(names[f], 1, u), Applied::Done);
                for u in outgoing(&mut nodes[t]) {
                    for (to, q) in queues[t].iter_mut().enumerate() {
                        if to != t { q.push_back(u.clone()); }
                    }
                }
            }
            for name in ["n0", "n1", "n2"] {
                let w = nodes[0].resolve(name);
                for n in &nodes {
                    prop_assert_eq!(n.resolve(name), w.clone());
                }
                let holders = nodes.iter().filter(|n| n.own.names.contains_key(name)).count();
                prop_assert!(holders <= 1, "one holder per name, {} hold {}", holders, name);
            }
        }
    }
}
