//! The node's membership driver: runs the SWIM machine
//! ([`MembershipMachine`](crate::membership::MembershipMachine)) over the node's
//! authenticated connections (its packets travel as `arbour.swim.v1`
//! control messages; no second socket), fires its timers in due order
//! from one task, and tells what it decides as [`MemberEvent`]s: to the
//! node, which routes them (a member declared down has its connection
//! closed and its registry part dropped), and to subscribers.

use super::resolver::{self, Counted, Resolver, SplitBrain, Verdict};
use super::{MemberEvent, MemberId, MembershipMachine};
use crate::actor::NodeId;
use crate::platform::{self, Instant};
use crate::remote::{Caller, Control, Network};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// How often a node that knows no member yet announces itself to its seeds
/// (the first announce usually finds no connection yet: it dials).
const ANNOUNCE_EVERY: Duration = Duration::from_millis(200);

/// How often a node told it may be held down dials the others anew for
/// their word ([`Members::ask_their_word`]).
const ASK_WORD_EVERY: Duration = Duration::from_secs(1);

/// How often a member that does not see one of its seeds alive announces
/// itself there: after a partition heals, the two sides know nothing of
/// each other's new lives (each side downed the other's, and a side that
/// downed itself came back as new lives), and only a call to a known
/// address brings them together.
const CALL_MISSING_SEEDS_EVERY: Duration = Duration::from_secs(1);

/// How long this member remembers a life it saw declared down, to tell it
/// so if it is heard from again (after the machine forgot it), and how
/// many such lives at most (the oldest go first). A life declared down
/// never comes back as itself: only as a new life.
const TOMBSTONE_FOR: Duration = Duration::from_secs(3600);
const TOMBSTONES_AT_MOST: usize = 4096;

/// How long a member's word that it holds this node down counts toward
/// the verdict ([`downed_by`](super::machine::downed_by)): the others'
/// words about one pause or one partition arrive within seconds of each
/// other; older ones are about a situation that has passed.
const NOTICE_WINDOW: Duration = Duration::from_secs(30);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn counted(m: &MemberId) -> Counted {
    Counted {
        name: m.name.clone(),
        incarnation: m.incarnation,
    }
}

fn names(set: &BTreeSet<String>) -> BTreeSet<&str> {
    set.iter().map(String::as_str).collect()
}

/// Timers the machine set, by due time (then in the order set).
#[derive(Default)]
struct Timers {
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    timers: BTreeMap<u64, foca::Timer<MemberId>>,
    seq: u64,
}

/// Where the node routes membership events (every one, as the machine
/// decided it, before subscribers see it).
pub(crate) type MemberSink = Box<dyn Fn(&MemberEvent) + Send + Sync>;

/// One node's membership: the machine, its timers, its subscribers.
pub(crate) struct Members {
    me: NodeId,
    /// The network its packets travel on (the node owns it).
    net: Weak<Network>,
    route: std::sync::OnceLock<MemberSink>,
    machine: Mutex<MembershipMachine>,
    timers: Mutex<Timers>,
    wake: Notify,
    events: broadcast::Sender<MemberEvent>,
    seeds: Vec<(String, SocketAddr)>,
    /// Members that said goodbye: their `Down` is reported as `Left`,
    /// once.
    left: Mutex<BTreeSet<(String, u64)>>,
    /// Lives that left (rather than being declared down), for as long as
    /// the machine remembers them down ([`Members::departed`]).
    departed: Mutex<BTreeSet<(String, u64)>>,
    /// Members that said they hold this node's life down, and when.
    notices: Mutex<BTreeMap<String, Instant>>,
    /// Lives this member saw declared down, and when (bounded:
    /// [`TOMBSTONES_AT_MOST`], for [`TOMBSTONE_FOR`]).
    tombstones: Mutex<BTreeMap<(String, u64), Instant>>,
    /// Lives this node has held a connection with (their certificates and
    /// hellos checked): only these count against this side in the
    /// split-brain rule. A member known only from gossip, that no
    /// connection ever reached here (one made up by a peer, at an address
    /// nothing answers on), would otherwise outvote the real cluster.
    met: Mutex<BTreeSet<(String, u64)>>,
    /// Set once the cluster declared this node's life down.
    downed: tokio::sync::watch::Sender<bool>,
    /// Set once this node began to leave (what members say of it after
    /// that is about a node that left).
    leaving: std::sync::atomic::AtomicBool,
    /// Which side of a partition goes on.
    resolver: Mutex<Resolver>,
    /// When this member last called the seeds it does not see alive.
    seeds_called_at: Mutex<Option<Instant>>,
    /// When this member, told it may be held down, last asked the word
    /// of the members that had not said so ([`Members::ask_their_word`]).
    word_asked_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Members {
    /// The driver of `machine` over `net`, which it registers its control
    /// messages with (membership packets, a member's leaving).
    pub(crate) fn new(
        machine: MembershipMachine,
        split_brain: SplitBrain,
        seeds: Vec<(String, SocketAddr)>,
        net: &Arc<Network>,
    ) -> Arc<Self> {
        let members = Arc::new(Self {
            me: net.me.clone(),
            net: Arc::downgrade(net),
            route: std::sync::OnceLock::new(),
            machine: Mutex::new(machine),
            timers: Mutex::default(),
            wake: Notify::new(),
            events: broadcast::channel(1024).0,
            seeds,
            left: Mutex::default(),
            departed: Mutex::default(),
            notices: Mutex::default(),
            tombstones: Mutex::default(),
            met: Mutex::default(),
            downed: tokio::sync::watch::Sender::new(false),
            leaving: std::sync::atomic::AtomicBool::new(false),
            resolver: Mutex::new(Resolver::new(split_brain)),
            seeds_called_at: Mutex::new(None),
            word_asked_at: Mutex::new(None),
        });
        let weak = Arc::downgrade(&members);
        net.router
            .route_members(crate::wire::tags::SWIM, weak.clone(), Members::on_swim);
        net.router
            .route_members(crate::wire::tags::LEAVING, weak, Members::on_leaving);
        members
    }

    /// Sends every event from now on to `sink` (once; the node's).
    pub(crate) fn on_events(&self, sink: MemberSink) {
        let _ = self.route.set(sink);
    }

    fn emit(&self, event: MemberEvent) {
        if let Some(route) = self.route.get() {
            route(&event);
        }
        let _ = self.events.send(event);
    }

    fn on_swim(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        if self.tell_if_held_down(caller.node(), caller.incarnation()) {
            return Ok(());
        }
        let Control::Swim { packet } = msg else {
            return Ok(());
        };
        let Some(net) = self.net.upgrade() else {
            return Ok(());
        };
        let speaker = super::vet::Speaker {
            name: caller.node(),
            incarnation: caller.incarnation(),
        };
        let latest_life = net.endpoint.latest_life();
        let connected = |name: &str| net.live_life(name);
        let refused = lock(&self.machine).on_packet_from(speaker, &packet, latest_life, &connected);
        if let Some(why) = refused {
            crate::platform::throttled_warn!(net.endpoint.throttle(), "membership packet refused", source = caller.node(),
                node = %self.me, peer = %caller.node(), "membership packet refused: {why}");
        }
        self.drain();
        Ok(())
    }

    /// If this member saw node `name`'s life `incarnation` declared down
    /// (within [`TOMBSTONE_FOR`], even if the machine forgot it), closes
    /// its connection saying so (the close code is the notice, which that
    /// node counts toward its verdict) and returns true. A downed life
    /// that is heard from again learns it at once, instead of being
    /// ignored until it is forgotten.
    pub(crate) fn tell_if_held_down(&self, name: &str, incarnation: u64) -> bool {
        let held = lock(&self.tombstones).contains_key(&(name.to_owned(), incarnation));
        if held && self.speaks_for_the_cluster() {
            if let Some(net) = self.net.upgrade() {
                net.close_life(name, incarnation, "declared down by the cluster");
            }
        }
        held
    }

    /// Whether this member and those it sees alive are the part of the
    /// cluster whose word counts ([`downed_by`](super::machine::downed_by)
    /// from the other side: more than half of the cluster it knows, or
    /// half holding its lowest name). A member that resumed from a pause,
    /// or sits on a partition's small side, holds the others down too; it
    /// must not close on them (it would close first, and never hear that
    /// it is the one they declared down).
    fn speaks_for_the_cluster(&self) -> bool {
        self.survives_as_seen(false)
    }

    /// Whether the resolver's rule keeps the side this node sees: the
    /// members alive (with `suspects_missed`, only those not suspected)
    /// against those declared down (and the suspects). A member that left
    /// is out of the count, as the resolver has it.
    fn survives_as_seen(&self, suspects_missed: bool) -> bool {
        let departed = lock(&self.departed).clone();
        let m = lock(&self.machine);
        let suspects = if suspects_missed { m.suspects() } else { Vec::new() };
        let reached: Vec<Counted> = m
            .members()
            .iter()
            .filter(|x| !suspects.contains(x))
            .chain([m.me()])
            .map(counted)
            .collect();
        let met = lock(&self.met);
        let missed: Vec<Counted> = suspects
            .iter()
            .chain(m.remembered_down().iter())
            .filter(|d| met.contains(&(d.name.clone(), d.incarnation)))
            .filter(|d| !departed.contains(&(d.name.clone(), d.incarnation)))
            .filter(|d| !reached.iter().any(|a| a.name == d.name))
            .map(counted)
            .collect();
        drop(met);
        drop(m);
        let strategy = lock(&self.resolver).settings().strategy;
        resolver::survives(strategy, &reached, &missed)
    }

    /// This node and the members alive, oldest first: the lowest
    /// incarnation (the life started first), then the lowest name.
    pub(crate) fn oldest_first(&self) -> Vec<NodeId> {
        let m = lock(&self.machine);
        let mut v: Vec<NodeId> = m
            .members()
            .iter()
            .chain([m.me()])
            .map(MemberId::node_id)
            .collect();
        drop(m);
        v.sort_by(|a, b| (a.incarnation, &a.name).cmp(&(b.incarnation, &b.name)));
        v
    }

    /// Whether node `name` is a member this node sees alive and does not
    /// suspect.
    pub(crate) fn reaches(&self, name: &str) -> bool {
        let m = lock(&self.machine);
        let suspects = m.suspects();
        m.members()
            .iter()
            .any(|x| x.name == name && !suspects.contains(x))
    }

    /// Whether this node reaches enough of the cluster to act for it: the
    /// split-brain resolver's rule over the members it reaches, where a
    /// suspect counts as not reached, like one declared down. On a
    /// partition's losing side this turns false at the first suspicions,
    /// before either side declares the other down (and long before
    /// `stable_after`), so the work a deployment does there can stop
    /// before the winning side starts it again ([`HANDOVER_MARGIN`]).
    ///
    /// [`HANDOVER_MARGIN`]: crate::cluster::HANDOVER_MARGIN
    pub(crate) fn reaches_quorum(&self) -> bool {
        !*self.downed.borrow() && self.survives_as_seen(true)
    }

    /// Asks the split-brain resolver whether this side goes on; a side
    /// that loses downs itself (it then leaves, or rejoins as a new life
    /// once the partition heals, as `on_downed` says).
    fn resolve(&self, now: Instant) {
        if self.leaving.load(std::sync::atomic::Ordering::Acquire) || *self.downed.borrow() {
            return;
        }
        // a suspect counts as unreachable (until refuted), as a member
        // Akka's failure detector flags does: a node cut off alone, which
        // puts off declaring the others down, decides as soon as the rest
        let (reachable, suspects): (Vec<Counted>, Vec<Counted>) = {
            let m = lock(&self.machine);
            let met = lock(&self.met);
            let suspects: Vec<Counted> = m
                .suspects()
                .iter()
                .filter(|s| met.contains(&(s.name.clone(), s.incarnation)))
                .map(counted)
                .collect();
            let reachable = m
                .members()
                .iter()
                .chain([m.me()])
                .map(counted)
                .filter(|c| !suspects.contains(c))
                .collect();
            (reachable, suspects)
        };
        let (verdict, strategy) = {
            let mut r = lock(&self.resolver);
            for s in suspects {
                r.down(s, now);
            }
            for name in r.unreachable_names() {
                if reachable.iter().any(|c| c.name == name) {
                    r.back(&name, now);
                }
            }
            (r.tick(&reachable, now), r.settings().strategy.name())
        };
        match verdict {
            Verdict::Wait => {}
            Verdict::Survive(out) => tracing::info!(
                node = %self.me, strategy, reachable = reachable.len(),
                unreachable = ?out.iter().map(|m| &m.name).collect::<Vec<_>>(),
                "split-brain resolver: this side goes on as the cluster"
            ),
            Verdict::Unstable { lasted, unreachable } => {
                tracing::error!(
                    node = %self.me, strategy, ?lasted,
                    unreachable = ?unreachable.iter().map(|m| &m.name).collect::<Vec<_>>(),
                    "split-brain resolver: the view never held still (down-all-when-unstable): every side downs itself, this life of the node too"
                );
                self.downed.send_replace(true);
            }
            Verdict::DownSelf {
                reachable,
                unreachable,
            } => {
                tracing::error!(
                    node = %self.me, strategy, reachable,
                    unreachable = ?unreachable.iter().map(|m| &m.name).collect::<Vec<_>>(),
                    "split-brain resolver: this side is not the one that goes on: this life of the node downs itself"
                );
                self.downed.send_replace(true);
            }
        }
    }

    /// Node `by` closed its connection because it holds this node's life
    /// down. When the members that said so within [`NOTICE_WINDOW`] speak
    /// for the cluster ([`downed_by`](super::machine::downed_by)), this
    /// life is over: [`Members::downed`] turns true.
    pub(crate) fn declared_down_by(&self, by: &str) {
        // a node that is leaving is told so by members closing on it; it
        // left, it was not declared down
        let leaving = self.leaving.load(std::sync::atomic::Ordering::Acquire)
            || self.net.upgrade().is_none_or(|n| n.is_closed());
        if leaving || *self.downed.borrow() {
            return;
        }
        let now = platform::now();
        lock(&self.notices).insert(by.to_owned(), now);
        let notifiers = self.said_so(now);
        let (me, known): (String, BTreeSet<String>) = {
            let m = lock(&self.machine);
            let known = m
                .members()
                .into_iter()
                .chain(m.remembered_down())
                .map(|x| x.name)
                .collect();
            (m.me().name.clone(), known)
        };
        if super::machine::downed_by(&me, &names(&known), &names(&notifiers)) {
            tracing::error!(
                node = %self.me, by = ?notifiers, cluster = known.len() + 1,
                "the cluster declared this node down: this life of it is over"
            );
            self.downed.send_replace(true);
        } else {
            tracing::warn!(
                node = %self.me, by, said_so = ?notifiers, cluster = known.len() + 1,
                "member {by} holds this node down (not yet the cluster's verdict)"
            );
            // this node is probably the one cut off: it puts off its own
            // verdicts, and asks the others' word at the next announce
            // ([`Members::announce`], within ANNOUNCE_EVERY) and over fresh
            // handshakes
            lock(&self.machine).set_held_down_by_some(true);
            self.ask_their_word(&notifiers, now);
        }
    }

    /// Dials anew, at most once per [`ASK_WORD_EVERY`], each member that
    /// has not said it holds this node down. After a pause, the others'
    /// closes were likely lost (the socket's buffer filled with their
    /// traffic while it slept), and a connection a member dropped looks
    /// live here until its idle timeout; a fresh handshake gets the
    /// verdict at once from a member that holds this life down.
    fn ask_their_word(&self, notifiers: &BTreeSet<String>, now: Instant) {
        {
            let mut at = lock(&self.word_asked_at);
            if at.is_some_and(|t| now.saturating_duration_since(t) < ASK_WORD_EVERY) {
                return;
            }
            *at = Some(now);
        }
        let (Some(net), members) = (self.net.upgrade(), lock(&self.machine).members()) else {
            return;
        };
        for m in members.iter().filter(|m| !notifiers.contains(&m.name)) {
            net.dial_anew(&m.name, m.addr);
        }
    }

    /// The members that said within [`NOTICE_WINDOW`] that they hold this
    /// node's life down (older words are forgotten here).
    fn said_so(&self, now: Instant) -> BTreeSet<String> {
        let mut n = lock(&self.notices);
        n.retain(|_, at| now.saturating_duration_since(*at) <= NOTICE_WINDOW);
        n.keys().cloned().collect()
    }

    /// Remembers that `m`'s life was declared down.
    fn bury(&self, m: &MemberId) {
        let now = platform::now();
        let mut t = lock(&self.tombstones);
        t.retain(|_, at| now.saturating_duration_since(*at) <= TOMBSTONE_FOR);
        if t.len() >= TOMBSTONES_AT_MOST {
            let oldest = t.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                t.remove(&oldest);
                tracing::warn!(
                    node = %self.me, forgotten = %oldest.0, incarnation = oldest.1,
                    "remembering {TOMBSTONES_AT_MOST} lives declared down, the most it keeps: the oldest is forgotten (if it is heard from again, it is taken back as a member)"
                );
            }
        }
        t.insert((m.name.clone(), m.incarnation), now);
    }

    /// Turns true once the cluster declared this node's life down.
    pub(crate) fn downed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.downed.subscribe()
    }

    fn on_leaving(self: &Arc<Self>, caller: &Caller<'_>, _: Control) -> Result<(), String> {
        self.left(caller.node(), caller.incarnation());
        Ok(())
    }

    /// The members alive as far as this node knows (itself excluded).
    pub(crate) fn members(&self) -> Vec<MemberId> {
        lock(&self.machine).members()
    }

    /// Members that went down and are still remembered.
    pub(crate) fn down(&self) -> Vec<MemberId> {
        let departed = lock(&self.departed);
        lock(&self.machine)
            .remembered_down()
            .into_iter()
            .filter(|m| !departed.contains(&(m.name.clone(), m.incarnation)))
            .collect()
    }

    /// The members remembered as gone that left on their own (said
    /// goodbye), rather than being declared down.
    pub(crate) fn departed(&self) -> Vec<MemberId> {
        let gone = lock(&self.machine).remembered_down();
        let mut departed = lock(&self.departed);
        departed.retain(|(n, i)| gone.iter().any(|m| m.name == *n && m.incarnation == *i));
        gone.into_iter()
            .filter(|m| departed.contains(&(m.name.clone(), m.incarnation)))
            .collect()
    }

    /// This node holds a connection with node `name`'s life `incarnation`
    /// (its certificate and hello checked): that life counts in the
    /// split-brain rule from now on. Older lives of the name are dropped.
    pub(crate) fn met(&self, name: &str, incarnation: u64) {
        let mut met = lock(&self.met);
        met.retain(|(n, i)| n != name || *i >= incarnation);
        met.insert((name.to_owned(), incarnation));
    }

    /// This node's id.
    pub(crate) fn me(&self) -> NodeId {
        self.me.clone()
    }

    /// This node as a member.
    pub(crate) fn me_as_member(&self) -> MemberId {
        lock(&self.machine).me().clone()
    }

    /// MembershipMachine changes from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<MemberEvent> {
        self.events.subscribe()
    }

    /// Packets the machine could not decode (dropped).
    pub(crate) fn malformed(&self) -> u64 {
        lock(&self.machine).malformed
    }

    /// What [`vet`](super::vet) held back so far: packets refused whole,
    /// updates dropped, `Down`s taken as suspicions.
    pub(crate) fn vetted(&self) -> (u64, u64, u64) {
        let m = lock(&self.machine);
        (m.refused, m.updates_dropped, m.downs_doubted)
    }


    /// Node `name` (life `incarnation`) said goodbye: it left on purpose.
    /// Reported as `Left` now; the `Down` SWIM brings later is not
    /// reported again.
    pub(crate) fn left(&self, name: &str, incarnation: u64) {
        let member = lock(&self.machine)
            .members()
            .into_iter()
            .find(|m| m.name == name && m.incarnation == incarnation);
        let Some(member) = member else {
            return;
        };
        if lock(&self.left).insert((member.name.clone(), member.incarnation)) {
            tracing::info!(node = %self.me, member = %member.name, incarnation, "member left");
            self.emit(MemberEvent::Left(member));
        }
    }

    /// From now on, members closing on this node are about a node that
    /// leaves: they are not counted as its being declared down.
    pub(crate) fn mark_leaving(&self) {
        self.leaving.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Tells the cluster this node leaves.
    pub(crate) fn leave(&self) {
        self.mark_leaving();
        lock(&self.machine).leave();
        self.drain();
    }

    /// Carries out what the machine decided: sends, timers, events.
    fn drain(&self) {
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
        if let Some(net) = self.net.upgrade() {
            for (to, packet) in sends {
                net.send_to_member(&to.name, to.addr, Control::Swim { packet });
            }
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
        let now = platform::now();
        for event in events {
            match &event {
                MemberEvent::Up(m) => {
                    lock(&self.resolver).back(&m.name, now);
                    tracing::info!(node = %self.me, member = %m.name, incarnation = m.incarnation, "member up")
                }
                MemberEvent::Down(m)
                    if lock(&self.left).remove(&(m.name.clone(), m.incarnation)) =>
                {
                    // it said goodbye: already reported (and routed) as left;
                    // its connection is its own to close
                    lock(&self.departed).insert((m.name.clone(), m.incarnation));
                    continue;
                }
                MemberEvent::Down(m) => {
                    tracing::warn!(node = %self.me, member = %m.name, incarnation = m.incarnation, "member down");
                    self.bury(m);
                    if lock(&self.met).contains(&(m.name.clone(), m.incarnation)) {
                        lock(&self.resolver).down(counted(m), now);
                    }
                }
                MemberEvent::Left(m) => lock(&self.resolver).back(&m.name, now),
                MemberEvent::Forgotten(m) => {
                    lock(&self.met).retain(|(n, _)| *n != m.name);
                    tracing::debug!(node = %self.me, member = %m.name, incarnation = m.incarnation, "down member forgotten")
                }
                MemberEvent::Suspect(m) => {
                    tracing::info!(node = %self.me, member = %m.name, incarnation = m.incarnation, "member suspected")
                }
                MemberEvent::Replaced { old, new } => {
                    lock(&self.resolver).back(&new.name, now);
                    tracing::info!(
                        node = %self.me, member = %new.name, old = old.incarnation, new = new.incarnation,
                        "member restarted"
                    );
                }
            }
            self.emit(event);
        }
    }

    /// Announces this node to its seeds while it knows no member; and,
    /// while it knows no member or some member said it holds this node
    /// down (not yet the verdict), to every member it knows or declared
    /// down itself that has not said so. A node that was the one cut off
    /// (paused, partitioned) holds the others down too and stopped talking
    /// to them; it needs most of them to say so to know it was declared
    /// down (a seed alone, or one member, is not the cluster), and they
    /// say so only when they hear from it.
    fn announce(&self, now: Instant) {
        let alone = lock(&self.machine).members().is_empty();
        let said_so = self.said_so(now);
        lock(&self.machine).set_held_down_by_some(!said_so.is_empty());
        if !alone {
            self.call_missing_seeds(now);
        }
        if !alone && said_so.is_empty() {
            return;
        }
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
        let known = {
            let m = lock(&self.machine);
            let mut known = m.remembered_down();
            if !said_so.is_empty() {
                known.extend(m.members());
            }
            known
        };
        for m in known {
            let seeded = alone && self.seeds.iter().any(|(n, _)| *n == m.name);
            if !seeded && !said_so.contains(&m.name) {
                lock(&self.machine).join(m);
            }
        }
    }

    /// Announces this node, every [`CALL_MISSING_SEEDS_EVERY`], to each
    /// seed it does not see alive (two sides of a healed partition find
    /// each other so).
    fn call_missing_seeds(&self, now: Instant) {
        {
            let mut at = lock(&self.seeds_called_at);
            if at.is_some_and(|at| now.saturating_duration_since(at) < CALL_MISSING_SEEDS_EVERY) {
                return;
            }
            *at = Some(now);
        }
        let mut m = lock(&self.machine);
        let alive: BTreeSet<String> = m.members().into_iter().map(|x| x.name).collect();
        for (name, addr) in &self.seeds {
            if !alive.contains(name) && *name != m.me().name {
                m.join(MemberId {
                    name: name.clone(),
                    incarnation: 0,
                    addr: *addr,
                    roles: Vec::new(),
                });
            }
        }
    }

    /// Tells the machine the round trips QUIC measures to each member (its
    /// probe timing follows them).
    fn measure_links(&self) {
        let Some(net) = self.net.upgrade() else {
            return;
        };
        let members = lock(&self.machine).members();
        let rtts = members
            .into_iter()
            .filter_map(|m| net.rtt_to(&m.name).map(|rtt| (m.name, rtt)))
            .collect();
        lock(&self.machine).set_link_rtts(rtts);
    }

    /// Runs the machine's timers in due order, and announces this node to
    /// its seeds while it knows no member, until the node closes.
    pub(crate) async fn run(self: Arc<Self>) {
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
            match self.net.upgrade() {
                Some(net) if !net.is_closed() => {}
                _ => return,
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
                self.announce(now);
                self.resolve(now);
                self.measure_links();
                announce_at = now + ANNOUNCE_EVERY;
            }
            self.drain();
        }
    }
}
