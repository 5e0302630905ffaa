//! The node's membership driver: runs the SWIM machine
//! ([`Membership`](crate::cluster::Membership)) over the node's
//! authenticated connections (its packets travel as `arbour.swim.v1`
//! control messages; no second socket), fires its timers in due order
//! from one task, and acts on what it decides: a member declared down has
//! its connection closed, which fails its asks and fires its monitors.

use super::network::Network;
use crate::cluster::{MemberEvent, MemberId, Membership};
use crate::platform::{self, Instant};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// How often a node that knows no member yet announces itself to its seeds
/// (the first announce usually finds no connection yet: it dials).
const ANNOUNCE_EVERY: Duration = Duration::from_millis(200);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Timers the machine set, by due time (then in the order set).
#[derive(Default)]
struct Timers {
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    timers: BTreeMap<u64, foca::Timer<MemberId>>,
    seq: u64,
}

/// One node's membership: the machine, its timers, its subscribers.
pub(crate) struct Members {
    machine: Mutex<Membership>,
    timers: Mutex<Timers>,
    wake: Notify,
    events: broadcast::Sender<MemberEvent>,
    seeds: Vec<(String, SocketAddr)>,
    /// Members that said goodbye: their `Down` is reported as `Left`,
    /// once.
    left: Mutex<BTreeSet<(String, u64)>>,
}

impl Members {
    pub(crate) fn new(machine: Membership, seeds: Vec<(String, SocketAddr)>) -> Arc<Self> {
        Arc::new(Self {
            machine: Mutex::new(machine),
            timers: Mutex::default(),
            wake: Notify::new(),
            events: broadcast::channel(1024).0,
            seeds,
            left: Mutex::default(),
        })
    }

    /// The members alive as far as this node knows (itself excluded).
    pub(crate) fn members(&self) -> Vec<MemberId> {
        lock(&self.machine).members()
    }

    /// Members that went down and are still remembered.
    pub(crate) fn down(&self) -> Vec<MemberId> {
        lock(&self.machine).remembered_down()
    }

    /// This node as a member.
    pub(crate) fn me(&self) -> MemberId {
        lock(&self.machine).me().clone()
    }

    /// Membership changes from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<MemberEvent> {
        self.events.subscribe()
    }

    /// Packets the machine could not decode (dropped).
    pub(crate) fn malformed(&self) -> u64 {
        lock(&self.machine).malformed
    }

    /// A packet from a peer.
    pub(crate) fn on_packet(&self, net: &Arc<Network>, packet: &[u8]) {
        lock(&self.machine).on_packet(packet);
        self.drain(net);
    }

    /// Node `name` (life `incarnation`) said goodbye: it left on purpose.
    /// Reported as `Left` now; the `Down` SWIM brings later is not
    /// reported again.
    pub(crate) fn left(&self, net: &Network, name: &str, incarnation: u64) {
        let member = lock(&self.machine)
            .members()
            .into_iter()
            .find(|m| m.name == name && m.incarnation == incarnation);
        let Some(member) = member else {
            return;
        };
        if lock(&self.left).insert((member.name.clone(), member.incarnation)) {
            tracing::info!(node = %net.me, member = %member.name, incarnation, "member left");
            net.registry_owner_gone(&member.name, member.incarnation);
            let _ = self.events.send(MemberEvent::Left(member));
        }
    }

    /// Tells the cluster this node leaves.
    pub(crate) fn leave(&self, net: &Arc<Network>) {
        lock(&self.machine).leave();
        self.drain(net);
    }

    /// Carries out what the machine decided: sends, timers, events.
    fn drain(&self, net: &Arc<Network>) {
        let (mut sends, mut sets, mut events) = (Vec::new(), Vec::new(), Vec::new());
        {
            let mut m = lock(&self.machine);
            while let Some(s) = m.next_send() {
                sends.push(s);
            }
            while let Some(t) = m.next_timer() {
                sets.push(t);
            }
            while let Some(e) = m.next_event() {
                events.push(e);
            }
        }
        for (to, packet) in sends {
            net.send_swim(&to, packet);
        }
        if !sets.is_empty() {
            let now = platform::now();
            let mut t = lock(&self.timers);
            for (after, timer) in sets {
                t.seq += 1;
                let seq = t.seq;
                t.timers.insert(seq, timer);
                t.due.push(Reverse((now + after, seq)));
            }
            drop(t);
            self.wake.notify_one();
        }
        for event in events {
            match &event {
                MemberEvent::Up(m) => {
                    tracing::info!(node = %net.me, member = %m.name, incarnation = m.incarnation, "member up")
                }
                MemberEvent::Down(m)
                    if lock(&self.left).remove(&(m.name.clone(), m.incarnation)) =>
                {
                    // it said goodbye: already reported as left
                    net.member_down(m);
                    continue;
                }
                MemberEvent::Down(m) => {
                    tracing::warn!(node = %net.me, member = %m.name, incarnation = m.incarnation, "member down");
                    net.member_down(m);
                    net.registry_owner_gone(&m.name, m.incarnation);
                }
                MemberEvent::Left(_) => {}
                MemberEvent::Forgotten(m) => {
                    tracing::debug!(node = %net.me, member = %m.name, incarnation = m.incarnation, "down member forgotten")
                }
                MemberEvent::Suspect(m) => {
                    tracing::info!(node = %net.me, member = %m.name, incarnation = m.incarnation, "member suspected")
                }
                MemberEvent::Replaced { old, new } => {
                    tracing::info!(
                        node = %net.me, member = %new.name, old = old.incarnation, new = new.incarnation,
                        "member restarted"
                    );
                    // every life before the new one is over (one may have
                    // come and gone unseen by membership)
                    net.registry_owner_gone(
                        &new.name,
                        new.incarnation.saturating_sub(1).max(old.incarnation),
                    );
                }
            }
            let _ = self.events.send(event);
        }
    }

    /// Runs the machine's timers in due order, and announces this node to
    /// its seeds while it knows no member, until the node closes.
    pub(crate) async fn run(self: Arc<Self>, net: Weak<Network>) {
        let mut announce_at = platform::now();
        loop {
            let next = lock(&self.timers).due.peek().map(|Reverse((at, _))| *at);
            let wait_until = match next {
                Some(at) if at < announce_at => at,
                _ => announce_at,
            };
            tokio::select! {
                () = tokio::time::sleep_until(wait_until) => {}
                () = self.wake.notified() => {}
            }
            let Some(net) = net.upgrade() else {
                return;
            };
            if net.is_closed() {
                return;
            }
            let now = platform::now();
            loop {
                let due = {
                    let mut t = lock(&self.timers);
                    match t.due.peek() {
                        Some(Reverse((at, _))) if *at <= now => t
                            .due
                            .pop()
                            .and_then(|Reverse((_, seq))| t.timers.remove(&seq)),
                        _ => break,
                    }
                };
                if let Some(timer) = due {
                    lock(&self.machine).on_timer(timer);
                }
            }
            if now >= announce_at {
                let alone = lock(&self.machine).members().is_empty();
                if alone {
                    for (name, addr) in &self.seeds {
                        let seed = MemberId {
                            name: name.clone(),
                            incarnation: 0,
                            addr: *addr,
                            roles: Vec::new(),
                        };
                        lock(&self.machine).join(seed);
                    }
                }
                announce_at = now + ANNOUNCE_EVERY;
            }
            self.drain(&net);
        }
    }
}
