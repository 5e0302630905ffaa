//! The rooms of a networked node, built and wired together: the network
//! (`remote`), membership (`cluster`), the cluster registry (`registry`)
//! and remote spawn (`spawn`). None of them calls another: each registers
//! its control messages with the network's router, and what one decides
//! reaches the others as events routed here.
//!
//! | event | from | routed to |
//! | --- | --- | --- |
//! | a peer's connection is up | remote | registry (sends this node's part) |
//! | a peer's connection is gone | remote | registry (drops the part of a life membership does not track) |
//! | a peer said goodbye | remote | membership (reports it left) |
//! | a peer's connection is up, of a life membership holds down | remote | membership (closes it, saying so) |
//! | a peer closed a connection saying it holds this node down | remote | membership (counts toward the verdict) |
//! | a member is down | membership | remote (its connection closes), registry (its part goes), spawn (it no longer drains) |
//! | a member left, or restarted | membership | registry (the old life's part goes), spawn (it no longer drains) |

use super::status::NodeStatus;
use crate::actor::{Exported, Host};
use crate::membership::{MemberEvent, MemberId, Members, MembershipMachine, MembershipConfig};
use crate::registry::Replica;
use crate::remote::{Caller, Control, Network, PeerEvent};
use crate::spawn::{Spawner, View};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// MembershipMachine settings for a node that takes part in a cluster.
#[derive(Clone, Debug)]
pub(crate) struct ClusterTuning {
    pub(crate) config: MembershipConfig,
    pub(crate) seeds: Vec<(String, SocketAddr)>,
    pub(crate) expected_size: u32,
    pub(crate) roles: Vec<String>,
}

/// A networked node's rooms.
#[derive(Debug)]
pub(crate) struct Services {
    pub(crate) net: Arc<Network>,
    pub(crate) members: Option<Arc<Members>>,
    pub(crate) replica: Arc<Replica>,
    pub(crate) spawner: Arc<Spawner>,
    /// The node's actors (for its status).
    host: crate::actor::WeakHost,
}

impl Services {
    /// Builds the rooms over `net` and routes their events.
    pub(crate) fn wire(
        host: &Host,
        net: Arc<Network>,
        cluster: Option<(ClusterTuning, rand_chacha::ChaCha8Rng)>,
    ) -> Arc<Self> {
        let members = cluster.map(|(c, rng)| {
            let me = MemberId {
                name: net.me.name.to_string(),
                incarnation: net.me.incarnation,
                addr: net
                    .endpoint
                    .local_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
                roles: c.roles.clone(),
            };
            let machine = MembershipMachine::new(me, &c.config, c.expected_size, rng);
            Members::new(machine, c.config.split_brain, c.seeds, &net)
        });
        let replica = Replica::new(&net);
        let spawner = Spawner::new(host, &net);
        let services = Arc::new(Self {
            net: net.clone(),
            members,
            replica,
            spawner,
            host: host.downgrade(),
        });
        let weak = Arc::downgrade(&services);
        net.on_peer_events(Box::new({
            let weak = weak.clone();
            move |event| {
                if let Some(s) = weak.upgrade() {
                    s.peer_event(event);
                }
            }
        }));
        if let Some(members) = &services.members {
            let weak = weak.clone();
            members.on_events(Box::new(move |event| {
                if let Some(s) = weak.upgrade() {
                    s.member_event(event);
                }
            }));
        }
        services.spawner.install(
            Box::new(ClusterView(weak.clone())),
            Box::new({
                let replica = Arc::downgrade(&services.replica);
                move |group: &str, actor: &Arc<dyn Exported>| match replica.upgrade() {
                    Some(r) => r.join_exported(group, actor),
                    None => Err("the node is shut down".into()),
                }
            }),
        );
        net.router
            .route(crate::wire::tags::STATUS, weak, Services::on_status);
        host.set_spawner(Arc::downgrade(&services.spawner) as Weak<dyn crate::actor::RemoteSpawn>);
        services
    }

    fn peer_event(&self, event: PeerEvent<'_>) {
        match event {
            PeerEvent::Up { session, conn } => {
                let incarnation = conn.peer().incarnation;
                if let Some(m) = &self.members {
                    m.met(&session.node, incarnation);
                }
                let held_down = self
                    .members
                    .as_ref()
                    .is_some_and(|m| m.tell_if_held_down(&session.node, incarnation));
                if !held_down {
                    self.replica.connected(session, conn);
                }
            }
            PeerEvent::Down { node, incarnation } => {
                // membership decides when a member's life is over (a
                // connection may drop while it lives)
                if !self.is_member(node, incarnation) {
                    self.replica.disconnected(node, incarnation);
                }
            }
            PeerEvent::Left { node, incarnation } => {
                if let Some(m) = &self.members {
                    m.left(node, incarnation);
                }
            }
            PeerEvent::DeclaredUsDown { by } => {
                if let Some(m) = &self.members {
                    m.declared_down_by(by);
                }
            }
        }
    }

    fn member_event(&self, event: &MemberEvent) {
        match event {
            MemberEvent::Down(m) => {
                self.net
                    .close_life(&m.name, m.incarnation, "declared down by the cluster");
                // one never reached (made up, or gone before this node
                // dialed it) is not redialed; a connected one is, until
                // membership forgets it
                self.net.forget(&m.name);
                self.replica.owner_gone(&m.name, m.incarnation);
                self.spawner.peer_gone(&m.name);
            }
            MemberEvent::Left(m) => {
                self.replica.owner_gone(&m.name, m.incarnation);
                self.spawner.peer_gone(&m.name);
            }
            // every life before the new one is over (one may have come and
            // gone unseen by membership)
            MemberEvent::Replaced { old, new } => {
                self.replica.owner_gone(
                    &new.name,
                    new.incarnation.saturating_sub(1).max(old.incarnation),
                );
                self.spawner.peer_gone(&new.name);
            }
            MemberEvent::Forgotten(m) => self.net.forget(&m.name),
            MemberEvent::Up(_) | MemberEvent::Suspect(_) => {}
        }
        if matches!(event, MemberEvent::Down(_) | MemberEvent::Suspect(_)) {
            self.spawner.reach_changed();
        }
    }

    fn is_member(&self, name: &str, incarnation: u64) -> bool {
        self.members.as_ref().is_some_and(|m| {
            m.members()
                .iter()
                .any(|x| x.name == name && x.incarnation == incarnation)
        })
    }

    /// This node's [`NodeStatus`].
    pub(crate) fn status(&self) -> NodeStatus {
        let (up, down, left) = match &self.members {
            Some(m) => (
                m.members().iter().map(MemberId::node_id).collect(),
                m.down().iter().map(MemberId::node_id).collect(),
                m.departed().iter().map(MemberId::node_id).collect(),
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        NodeStatus {
            node: self.net.me.clone(),
            up,
            down,
            left,
            restarts: self.host.upgrade().map_or(0, |h| h.stats().restarts),
        }
    }

    fn on_status(self: &Arc<Self>, caller: &Caller<'_>, _: Control) -> Result<(), String> {
        caller.reply(crate::wire::encode(&self.status()).map_err(|e| e.to_string())?)
    }

    /// Drains this node before it leaves (see [`Spawner::drain`]): what
    /// runs here for the members' supervisors is started elsewhere, then
    /// stopped here, within `within`.
    pub(crate) async fn drain(&self, host: &Host, within: Duration) {
        let members: Vec<String> = self
            .members
            .as_ref()
            .map(|m| m.members().into_iter().map(|x| x.name).collect())
            .unwrap_or_default();
        let began = crate::platform::now();
        let drained = self.spawner.drain(host, members, within).await;
        let took = began.elapsed();
        if drained.left_behind > 0 {
            tracing::warn!(node = %self.net.me, moved = drained.moved, left_behind = drained.left_behind, ?took,
                "drained for the whole bound: the actors still here stop with the node (their supervisors restart them elsewhere)");
        } else if drained.moved > 0 {
            tracing::info!(node = %self.net.me, moved = drained.moved, ?took, "drained: every actor supervised from elsewhere runs elsewhere now");
        }
    }

    /// Leaves the cluster gracefully: every member is told first (the
    /// leave travels on the control lane, ahead of the goodbye, so the
    /// peers see this node as left, not down), then membership says so,
    /// then every peer gets the goodbye and the endpoint closes.
    pub(crate) async fn leave(&self, wait: Duration) {
        if let Some(members) = &self.members {
            members.mark_leaving();
            let peers = members
                .members()
                .into_iter()
                .map(|m| (m.name, m.addr))
                .collect();
            self.net.tell_each(peers, &Control::Leaving, wait).await;
            members.leave();
        }
        self.net.leave(wait).await;
    }
}

/// The spawner's view of the cluster: membership and the registry's kinds.
struct ClusterView(Weak<Services>);

impl View for ClusterView {
    fn known_down(&self, name: &str) -> bool {
        let Some(s) = self.0.upgrade() else {
            return false;
        };
        s.members
            .as_ref()
            .is_some_and(|m| !m.members().iter().any(|x| x.name == name))
    }

    fn reaches(&self, name: &str) -> bool {
        self.0
            .upgrade()
            .is_some_and(|s| s.members.as_ref().is_none_or(|m| m.reaches(name)))
    }

    fn has_quorum(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|s| s.members.as_ref().is_none_or(|m| m.reaches_quorum()))
    }

    fn candidates(&self, kind: &str, role: Option<&str>) -> Vec<String> {
        let Some(s) = self.0.upgrade() else {
            return Vec::new();
        };
        let members = s.members.as_ref().map(|m| m.members()).unwrap_or_default();
        let my_roles = s.members.as_ref().map(|m| m.me_as_member().roles).unwrap_or_default();
        let me = &s.net.me;
        s.replica
            .read(|m| m.nodes_with_kind(kind))
            .into_iter()
            .filter(|n| {
                if *n.name == *me.name {
                    return role.is_none_or(|r| my_roles.iter().any(|x| x == r));
                }
                members.iter().any(|m| {
                    *m.name == *n.name
                        && m.incarnation == n.incarnation
                        && role.is_none_or(|r| m.roles.iter().any(|x| x == r))
                })
            })
            .map(|n| n.name.to_string())
            .collect()
    }
}
