//! SWIM membership (foca) as a sans-IO machine with arbour's types: it is
//! told packets and due timers, and says what to send, which timers to set
//! and what changed. The node's driver carries its packets over the
//! members' authenticated connections and runs its timers through
//! `platform`, in due order (foca requires that).

use foca::{Config, Foca, NoCustomBroadcast, Notification, PostcardCodec, Timer};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// A member: a node of the cluster in one of its lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberId {
    /// The node's name (unique in the cluster).
    pub name: String,
    /// Which life of the node (a restarted node has a larger one).
    pub incarnation: u64,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it is for (placement by role picks among the members that
    /// have it).
    pub roles: Vec<String>,
}

impl MemberId {
    /// Which node and life this member is, as everything else in arbour
    /// names a node.
    pub fn node_id(&self) -> crate::actor::NodeId {
        crate::actor::NodeId::new(self.name.as_str(), self.incarnation)
    }
}

impl From<&MemberId> for crate::actor::NodeId {
    fn from(m: &MemberId) -> Self {
        m.node_id()
    }
}

impl foca::Identity for MemberId {
    /// One member per node name: a newer life replaces an older one.
    type Addr = String;

    /// A node declared down does not rejoin under the same life: a
    /// restarted node joins with its new incarnation.
    fn renew(&self) -> Option<Self> {
        None
    }

    fn addr(&self) -> String {
        self.name.clone()
    }

    fn win_addr_conflict(&self, other: &Self) -> bool {
        self.incarnation > other.incarnation
    }
}

/// How fast failures are detected, and how long the dead are remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipConfig {
    /// How often each member probes another.
    pub probe_period: Duration,
    /// How long a probe waits for its answer before asking others to try.
    pub probe_rtt: Duration,
    /// How long a suspected member has to refute before it is down.
    pub suspect_to_down_after: Duration,
    /// How long a member that went down is remembered.
    pub remove_down_after: Duration,
    /// Which side of a partition goes on (the split-brain resolver).
    pub split_brain: super::SplitBrain,
    /// The most members (alive, suspect or down) a node holds; news of
    /// further ones is dropped, counted. Well above any real cluster: it
    /// bounds what a peer that gossips made-up members can cost.
    pub max_members: usize,
}

/// The default [`MembershipConfig::max_members`].
pub const DEFAULT_MAX_MEMBERS: usize = 10_000;

impl Default for MembershipConfig {
    /// Tuned for a LAN (round trips well under a millisecond; the bench
    /// `cluster` measures these under load): each member probes one other
    /// every 200 ms, in turn; a probe unanswered for 100 ms is retried
    /// through three others; a suspect has 500 ms to refute.
    /// A SIGKILLed node is then down everywhere within about a second
    /// (Akka's defaults take 5.5 s, Erlang's 45–75 s).
    fn default() -> Self {
        Self {
            probe_period: Duration::from_millis(200),
            probe_rtt: Duration::from_millis(100),
            suspect_to_down_after: Duration::from_millis(500),
            remove_down_after: Duration::from_secs(60),
            split_brain: super::SplitBrain::default(),
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }
}

impl MembershipConfig {
    fn foca(&self, cluster_size: u32) -> Config {
        let mut c = Config::new_lan(NonZeroU32::new(cluster_size.max(1)).unwrap_or(NonZeroU32::MIN));
        c.probe_period = self.probe_period;
        c.probe_rtt = self.probe_rtt;
        c.suspect_to_down_after = self.suspect_to_down_after;
        c.remove_down_after = self.remove_down_after;
        // A member never tells another "you are down" (foca's TurnUndead):
        // after a partition heals, the cut-off member considers the others
        // down, and its notice would make a healthy member believe it was
        // declared down; with no way to renew its identity (a node rejoins
        // only as a new life) that member would then be out for good. A
        // member the cluster declared down learns it from being ignored,
        // and rejoins by restarting.
        c.notify_down_members = false;
        // each piece of news is passed on 8 times by every member that
        // learns it (foca derives 2 from a 3-member estimate, which let a
        // death reach the last member a second late in the bench); enough
        // for clusters of about a hundred
        c.max_transmissions = std::num::NonZeroU8::new(8).unwrap_or(std::num::NonZeroU8::MIN);
        // news (a suspicion, a death) reaches three members every probe
        // period's fraction, not only riding on probes
        c.periodic_gossip = Some(foca::PeriodicParams {
            frequency: (self.probe_period / 2).max(Duration::from_millis(10)),
            num_members: std::num::NonZeroUsize::new(3).unwrap_or(std::num::NonZeroUsize::MIN),
        });
        c
    }
}

/// A change of the cluster's membership (also an actix message, for
/// [`Membership::subscribe`](crate::cluster::Membership::subscribe)).
#[derive(Clone, Debug, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
pub enum MemberEvent {
    /// A member joined (or this node learned of it).
    Up(MemberId),
    /// A member is suspected: it did not answer a probe, and has
    /// `suspect_to_down_after` to refute before it is declared down.
    /// Nothing is restarted elsewhere on suspicion alone.
    Suspect(MemberId),
    /// A member was declared down: it stopped answering.
    Down(MemberId),
    /// A member left the cluster on purpose (it shut down gracefully).
    Left(MemberId),
    /// A member that went down is forgotten (`remove_down_after` later):
    /// it may rejoin under the same name and life.
    Forgotten(MemberId),
    /// A node is now known under a newer life; the old one is gone.
    Replaced {
        /// The life that ended.
        old: MemberId,
        /// The new one.
        new: MemberId,
    },
}

impl MemberEvent {
    /// The change in a word: `up`, `suspect`, `down`, `left`, `forgotten`
    /// or `replaced` (what `arbour run` and `arbour serve` print).
    pub fn name(&self) -> &'static str {
        match self {
            MemberEvent::Up(_) => "up",
            MemberEvent::Suspect(_) => "suspect",
            MemberEvent::Down(_) => "down",
            MemberEvent::Left(_) => "left",
            MemberEvent::Forgotten(_) => "forgotten",
            MemberEvent::Replaced { .. } => "replaced",
        }
    }

    /// The member it is about (for `Replaced`, the new life).
    pub fn member(&self) -> &MemberId {
        match self {
            MemberEvent::Up(m)
            | MemberEvent::Suspect(m)
            | MemberEvent::Down(m)
            | MemberEvent::Left(m)
            | MemberEvent::Forgotten(m)
            | MemberEvent::Replaced { new: m, .. } => m,
        }
    }
}

/// One node's membership state machine.
pub struct MembershipMachine {
    foca: Foca<MemberId, PostcardCodec, ChaCha8Rng, NoCustomBroadcast>,
    out: foca::AccumulatingRuntime<MemberId>,
    /// Members suspected now (each reported once per suspicion).
    suspected: std::collections::BTreeSet<MemberId>,
    /// Members down now and still remembered.
    down: std::collections::BTreeSet<MemberId>,
    /// Suspicions and forgettings to report, ahead of foca's notifications.
    noticed: std::collections::VecDeque<MemberEvent>,
    /// Packets that could not be decoded (dropped, counted).
    pub malformed: u64,
    /// Packets refused whole by [`vet`](super::vet): speaking for another
    /// member, or probing one this node does not know.
    pub refused: u64,
    /// Updates dropped from packets by [`vet`](super::vet): lives ahead of
    /// the clock, newer lives of nodes connected here, members past the cap.
    pub updates_dropped: u64,
    /// Bare `Down`s about members this node hears from, taken as
    /// suspicions instead.
    pub downs_doubted: u64,
    max_members: usize,
    /// Local health (a simplified Lifeguard): whether any packet arrived
    /// since the last probe round, and how many rounds in a row were quiet.
    heard_this_round: bool,
    quiet_rounds: u32,
    /// Probe rounds since this member last had to refute a suspicion of
    /// itself (its SWIM incarnation went up), and that incarnation.
    /// (foca does not show its own incarnation: it is read from the
    /// header of each packet sent.)
    rounds_since_refuted: u32,
    own_incarnation: foca::Incarnation,
    /// Probe rounds so far, and the rounds in which this member itself
    /// raised a suspicion (its probe failed), the last few kept.
    round: u64,
    raised_in: std::collections::VecDeque<u64>,
    /// Whether some member said lately that it holds this node's life
    /// down (not yet the cluster's verdict): the third sign of poor health
    /// (this node is probably the one that was paused or cut off).
    held_down_by_some: bool,
    /// Suspicions whose end was put off because this member heard nothing
    /// at all (it is more likely cut off itself), with how often.
    put_off: std::collections::BTreeMap<MemberId, u32>,
    suspect_to_down_after: Duration,
    /// foca's timer token, as last seen on a timer it set.
    token: Option<foca::TimerToken>,
    /// The probe timing stretched to the links' round trips.
    link: super::link::LinkTiming,
}

/// How many times a member in poor health puts off declaring a suspect
/// down (each time by `suspect_to_down_after`): it waits 4× as long, by
/// which time, if it is the one cut off, the majority has declared *it*
/// down and ignores its claims.
const PUT_OFF_AT_MOST: u32 = 3;

/// The window, in probe rounds, of the second sign of poor health: in it,
/// this member refuted a suspicion of itself *and* its own probes of two
/// or more members failed. (Either alone is common in a healthy member: a
/// member cut off suspects everyone, so everyone refutes; two members
/// crashing at once fail two probes. Together they mean its own packets
/// are the ones lost.)
const REFUTED_ROUNDS: u32 = 5;

impl std::fmt::Debug for MembershipMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipMachine")
            .field("me", self.foca.identity())
            .field("members", &self.foca.num_members())
            .finish()
    }
}

impl MembershipMachine {
    /// A machine for member `me`, sized for about `cluster_size` members,
    /// drawing its randomness from `rng` (the node's, derived).
    pub fn new(me: MemberId, config: &MembershipConfig, cluster_size: u32, rng: ChaCha8Rng) -> Self {
        Self {
            foca: Foca::new(me, config.foca(cluster_size), rng, PostcardCodec),
            out: foca::AccumulatingRuntime::new(),
            suspected: Default::default(),
            down: Default::default(),
            noticed: Default::default(),
            malformed: 0,
            refused: 0,
            updates_dropped: 0,
            downs_doubted: 0,
            max_members: config.max_members.max(1),
            heard_this_round: true,
            quiet_rounds: 0,
            held_down_by_some: false,
            rounds_since_refuted: REFUTED_ROUNDS + 1,
            round: 0,
            raised_in: Default::default(),
            own_incarnation: Default::default(),
            put_off: Default::default(),
            suspect_to_down_after: config.suspect_to_down_after,
            token: None,
            link: super::link::LinkTiming::new(
                config.probe_period,
                config.probe_rtt,
                config.suspect_to_down_after,
            ),
        }
    }

    /// This member.
    pub fn me(&self) -> &MemberId {
        self.foca.identity()
    }

    /// Asks `seed` to let this member in.
    pub fn join(&mut self, seed: MemberId) {
        // only fails for a seed that is this member: nothing to do then
        let _ = self.foca.announce(seed, &mut self.out);
    }

    /// A packet from `speaker`, as its connection proves it, checked
    /// ([`vet`](super::vet::vet)) against this node's clock (`latest_life`:
    /// the latest life any member may have) and its connections
    /// (`connected(name)`: the life of `name` connected here) before the
    /// machine takes it. Returns why it was refused, if it was.
    pub fn on_packet_from(
        &mut self,
        speaker: super::vet::Speaker<'_>,
        bytes: &[u8],
        latest_life: u64,
        connected: &dyn Fn(&str) -> Option<u64>,
    ) -> Option<&'static str> {
        let verdict = {
            let state_of = |m: &MemberId| {
                self.foca
                    .iter_membership_state()
                    .find(|x| x.id() == m)
                    .map(|x| x.state())
            };
            let knows_name = |n: &str| self.foca.iter_membership_state().any(|x| x.id().name == n);
            let known = super::vet::Known {
                me: self.foca.identity(),
                own_incarnation: self.own_incarnation,
                latest_life,
                connected,
                state_of: &state_of,
                knows_name: &knows_name,
                members: self.foca.iter_membership_state().len(),
                max_members: self.max_members,
            };
            super::vet::vet(bytes, speaker, &known)
        };
        match verdict {
            super::vet::Vetted::AsIs => self.on_packet(bytes),
            super::vet::Vetted::Changed {
                packet,
                dropped,
                doubted,
            } => {
                self.updates_dropped += u64::from(dropped);
                self.downs_doubted += u64::from(doubted);
                self.on_packet(&packet);
            }
            super::vet::Vetted::Refused(why) => {
                self.refused += 1;
                return Some(why);
            }
        }
        None
    }

    /// A packet from another member, taken as it is (the simulator's and
    /// the tests' way in; a node's packets go through
    /// [`Self::on_packet_from`]). One that does not decode is dropped and
    /// counted.
    pub fn on_packet(&mut self, bytes: &[u8]) {
        if self.foca.handle_data(bytes, &mut self.out).is_err() {
            self.malformed += 1;
        } else {
            self.heard_this_round = true;
        }
        // a suspicion heard of (not raised by this member's own probe):
        // this member starts its own count to the verdict now, as Lifeguard
        // does. foca starts one only at a member whose probe failed, so a
        // member that missed every copy of the verdict waited for its own
        // round-robin probe of the dead member (up to N probe periods). The
        // `verdict` bench, 100 members, 10 % loss, 10,395 survivor
        // samples: the last verdict 18.7 s -> 1.7 s, p99 1.97 -> 1.60 s,
        // no member that lived declared down either way. (A refutation
        // cancels the count: foca applies it only to the incarnation
        // suspected.)
        let heard = self.track_suspicion();
        if let Some(token) = self.token {
            for (member_id, incarnation) in heard {
                let timer = Timer::ChangeSuspectToDown {
                    member_id,
                    incarnation,
                    token,
                };
                foca::Runtime::submit_after(&mut self.out, timer, self.suspect_to_down_after);
            }
        }
    }

    /// Notes members that became suspect, and down members forgotten
    /// (foca notifies neither); returns those that became suspect, with
    /// the incarnation they are suspected in.
    fn track_suspicion(&mut self) -> Vec<(MemberId, foca::Incarnation)> {
        // the common case, on every packet: nothing changed (no clones)
        let (mut suspects, mut downs, mut same) = (0, 0, true);
        for m in self.foca.iter_membership_state() {
            match m.state() {
                foca::State::Suspect => {
                    suspects += 1;
                    same &= self.suspected.contains(m.id());
                }
                foca::State::Down => {
                    downs += 1;
                    same &= self.down.contains(m.id());
                }
                foca::State::Alive => {}
            }
            if !same {
                break;
            }
        }
        if same && suspects == self.suspected.len() && downs == self.down.len() {
            return Vec::new();
        }
        let (mut suspect, mut down) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        let mut raised = Vec::new();
        for m in self.foca.iter_membership_state() {
            match m.state() {
                foca::State::Suspect => {
                    if !self.suspected.contains(m.id()) {
                        raised.push((m.id().clone(), m.incarnation()));
                    }
                    suspect.insert(m.id().clone())
                }
                foca::State::Down => down.insert(m.id().clone()),
                foca::State::Alive => false,
            };
        }
        for m in suspect.difference(&self.suspected) {
            self.noticed.push_back(MemberEvent::Suspect(m.clone()));
        }
        // gone from the down list: forgotten, unless a newer life of the
        // node took its place (that is `Replaced`)
        let names: std::collections::BTreeSet<&str> = self
            .foca
            .iter_membership_state()
            .map(|m| m.id().name.as_str())
            .collect();
        for m in self.down.difference(&down) {
            if !names.contains(m.name.as_str()) {
                self.noticed.push_back(MemberEvent::Forgotten(m.clone()));
            }
        }
        self.suspected = suspect;
        self.down = down;
        raised
    }

    /// The members suspected now (still members until declared down).
    pub fn suspects(&self) -> Vec<MemberId> {
        self.suspected.iter().cloned().collect()
    }

    /// The members that went down and are still remembered.
    pub fn remembered_down(&self) -> Vec<MemberId> {
        self.down.iter().cloned().collect()
    }

    /// A timer this machine set is due.
    ///
    /// A member in poor health (Lifeguard's idea, simplified) puts off
    /// declaring its suspects down: one that heard nothing from anyone
    /// during the last probe round, or had to refute a suspicion of itself
    /// within the last few, is probably the one cut off (a partition's
    /// minority, or its own packets lost). Declared after a heal, its
    /// claims would take healthy members out of the cluster for good, since
    /// a member declared down rejoins only as a new life.
    pub fn on_timer(&mut self, timer: Timer<MemberId>) {
        match &timer {
            Timer::ProbeRandomMember(_) => {
                self.quiet_rounds = if self.heard_this_round { 0 } else { self.quiet_rounds + 1 };
                self.heard_this_round = false;
                self.rounds_since_refuted = self.rounds_since_refuted.saturating_add(1);
                self.round += 1;
                let oldest = self.round.saturating_sub(u64::from(REFUTED_ROUNDS));
                while self.raised_in.front().is_some_and(|r| *r < oldest) {
                    self.raised_in.pop_front();
                }
            }
            Timer::ChangeSuspectToDown { member_id, .. } => {
                let times = self.put_off.get(member_id).copied().unwrap_or(0);
                let poor_health = self.quiet_rounds > 0
                    || self.held_down_by_some
                    || (self.rounds_since_refuted <= REFUTED_ROUNDS && self.raised_in.len() >= 2);
                if poor_health && times < PUT_OFF_AT_MOST {
                    if times == 0 {
                        tracing::warn!(
                            suspect = %member_id.name,
                            quiet_rounds = self.quiet_rounds,
                            rounds_since_refuted = self.rounds_since_refuted,
                            held_down_by_some = self.held_down_by_some,
                            "heard from no member for a probe round, had to refute a suspicion of itself, or was told a member holds it down: this node may be cut off, so it puts off declaring {} down",
                            member_id.name
                        );
                    }
                    self.put_off.insert(member_id.clone(), times + 1);
                    foca::Runtime::submit_after(&mut self.out, timer, self.suspect_to_down_after);
                    return;
                }
                self.put_off.remove(member_id);
            }
            _ => {}
        }
        let _ = self.foca.handle_timer(timer, &mut self.out);
        // a suspicion raised while handling a timer is this member's own
        // (its probe failed); one learned from a packet is not
        for _ in self.track_suspicion() {
            self.raised_in.push_back(self.round);
        }
    }


    /// Some member said lately that it holds this node's life down (or no
    /// longer, when `yes` is false): until the verdict, this member puts off
    /// declaring its suspects down, as in poor health ([`Self::on_timer`]).
    pub fn set_held_down_by_some(&mut self, yes: bool) {
        self.held_down_by_some = yes;
    }

    /// The round trips measured now on the connections to members, by
    /// name: probe timeouts, the probe period and the time a suspect has
    /// to refute follow the slowest link (see `membership::link`).
    pub fn set_link_rtts(&mut self, rtts: std::collections::BTreeMap<String, Duration>) {
        self.link.set_rtts(rtts);
    }

    /// Leaves the cluster, telling the others.
    pub fn leave(&mut self) {
        let _ = self.foca.leave_cluster(&mut self.out);
    }

    /// The members alive as far as this one knows (itself excluded).
    pub fn members(&self) -> Vec<MemberId> {
        let mut v: Vec<MemberId> = self.foca.iter_members().map(|m| m.id().clone()).collect();
        v.sort();
        v
    }

    /// The next packet to send, and to whom.
    pub fn next_send(&mut self) -> Option<(MemberId, Vec<u8>)> {
        let (to, bytes) = self.out.to_send()?;
        let header = foca::Codec::<MemberId>::decode_header(&mut PostcardCodec, &bytes[..]);
        if let Ok(h) = header {
            if h.src_incarnation != self.own_incarnation {
                // it went up: this member refuted a suspicion of itself
                self.own_incarnation = h.src_incarnation;
                self.rounds_since_refuted = 0;
            }
        }
        Some((to, bytes.to_vec()))
    }

    /// The next timer to set: due after the duration.
    pub fn next_timer(&mut self) -> Option<(Duration, Timer<MemberId>)> {
        let next = self
            .out
            .to_schedule()
            .map(|(after, timer)| (self.link.stretch(after, &timer), timer));
        // foca honours a timer only with its current token: read it from
        // the timers it sets (this member's own count to a verdict carries it)
        match &next {
            Some((_, Timer::ProbeRandomMember(t) | Timer::PeriodicGossip(t)))
            | Some((_, Timer::ChangeSuspectToDown { token: t, .. })) => self.token = Some(*t),
            _ => {}
        }
        next
    }

    /// The next change to report.
    pub fn next_event(&mut self) -> Option<MemberEvent> {
        if let Some(e) = self.noticed.pop_front() {
            return Some(e);
        }
        loop {
            let n = self.out.to_notify()?;
            let event = match n {
                Notification::MemberUp(m) => MemberEvent::Up(m),
                Notification::MemberDown(m) => MemberEvent::Down(m),
                Notification::Rename(old, new) => MemberEvent::Replaced { old, new },
                _ => continue,
            };
            return Some(event);
        }
    }
}

/// Whether the members that told this one it is down (`notifiers`, by
/// name) speak for the cluster as it knows it (`known`: names, itself,
/// the members alive and down it remembers, the notifiers): more than
/// half of it, or exactly half holding its lowest name (keep-majority,
/// ties going to the side with the lowest name, as Akka's split-brain
/// resolver breaks them).
///
/// One member's word is not enough: after a partition heals, each side
/// holds the other down and says so, and only the minority must go. A
/// member paused long enough to be declared down hears it from every
/// other member at once when it resumes.
pub fn downed_by(me: &str, known: &BTreeSet<&str>, notifiers: &BTreeSet<&str>) -> bool {
    let mut cluster: BTreeSet<&str> = known.iter().chain(notifiers).copied().collect();
    cluster.insert(me);
    let said = notifiers.iter().filter(|n| **n != me).count();
    let (said, of) = (said * 2, cluster.len());
    if said != of {
        return said > of;
    }
    let lowest_of_notifiers = notifiers.iter().filter(|n| **n != me).min();
    let lowest_of_rest = cluster.iter().filter(|n| !notifiers.contains(*n)).min();
    matches!((lowest_of_notifiers, lowest_of_rest), (Some(a), Some(b)) if a < b)
}

#[cfg(test)]
mod tests {

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn a_member_is_downed_only_by_the_word_of_a_majority_or_of_the_half_with_the_lowest_name() {
        let three = set(&["alpha", "beta", "gamma"]);
        // paused gamma hears it from both others
        assert!(downed_by("gamma", &three, &set(&["alpha", "beta"])));
        // one of three is not enough (the cut-off one says so of each)
        assert!(!downed_by("alpha", &three, &set(&["gamma"])));
        // 2|3 healed: the two hear it from three, the three from two
        let five = set(&["n1", "n2", "n3", "n4", "n5"]);
        assert!(downed_by("n4", &five, &set(&["n1", "n2", "n3"])));
        assert!(!downed_by("n1", &five, &set(&["n4", "n5"])));
        // 2|2: the side without the lowest name goes
        let four = set(&["a", "b", "c", "d"]);
        assert!(downed_by("c", &four, &set(&["a", "b"])));
        assert!(!downed_by("a", &four, &set(&["c", "d"])));
        // two members: the one with the higher name goes
        assert!(downed_by("beta", &set(&["alpha"]), &set(&["alpha"])));
        assert!(!downed_by("alpha", &set(&["beta"]), &set(&["beta"])));
        // its own word, or none, downs nobody
        assert!(!downed_by("alpha", &three, &set(&["alpha"])));
        assert!(!downed_by("alpha", &three, &set(&[])));
        // notifiers it never knew of count as members
        assert!(downed_by("alpha", &set(&[]), &set(&["x", "y"])));
    }

    use super::*;
    use rand::SeedableRng;
    use std::collections::{BTreeMap, BinaryHeap};
    use std::cmp::Reverse;

    /// Members on an in-memory network under virtual time: packets arrive
    /// after 1 ms, timers fire in due order.
    struct Net {
        nodes: BTreeMap<String, MembershipMachine>,
        now: Duration,
        queue: BinaryHeap<Reverse<(Duration, u64, String, Work)>>,
        seq: u64,
        crashed: Vec<String>,
        /// Members cut off: their packets, both ways, are lost (their
        /// timers still run).
        cut: Vec<String>,
        /// The share of datagrams lost (drawn from a seeded RNG), and when
        /// the last packet between two members arrives.
        loss: f64,
        rng: ChaCha8Rng,
        last: BTreeMap<(String, String), Duration>,
        events: Vec<(Duration, String, MemberEvent)>,
    }

    /// foca's timers are not `Ord`: the queue holds a key to them.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Work {
        Packet(Vec<u8>),
        Timer(u64),
    }

    impl Net {
        fn new(names: &[&str]) -> (Self, BTreeMap<u64, Timer<MemberId>>) {
            let mut nodes = BTreeMap::new();
            for (i, name) in names.iter().enumerate() {
                let id = MemberId {
                    name: (*name).into(),
                    incarnation: 1,
                    addr: format!("127.0.0.1:{}", 7000 + i).parse().expect("addr"),
                    roles: Vec::new(),
                };
                let m = MembershipMachine::new(
                    id,
                    &MembershipConfig::default(),
                    names.len() as u32,
                    ChaCha8Rng::seed_from_u64(i as u64),
                );
                nodes.insert((*name).to_owned(), m);
            }
            let net = Self {
                nodes,
                now: Duration::ZERO,
                queue: BinaryHeap::new(),
                seq: 0,
                crashed: Vec::new(),
                cut: Vec::new(),
                loss: 0.0,
                rng: ChaCha8Rng::seed_from_u64(99),
                last: BTreeMap::new(),
                events: Vec::new(),
            };
            (net, BTreeMap::new())
        }

        fn flush(&mut self, name: &str, timers: &mut BTreeMap<u64, Timer<MemberId>>) {
            let m = self.nodes.get_mut(name).expect("member");
            let mut sends = Vec::new();
            while let Some((to, bytes)) = m.next_send() {
                sends.push((to.name, bytes));
            }
            let mut sets = Vec::new();
            while let Some(t) = m.next_timer() {
                sets.push(t);
            }
            while let Some(e) = m.next_event() {
                self.events.push((self.now, name.to_owned(), e));
            }
            for (to, bytes) in sends {
                if self.cut.iter().any(|c| *c == to || c == name) {
                    continue;
                }
                // as on a QUIC stream: a lost datagram is resent after the
                // probe timeout (30 ms, doubling), and what follows it
                // between the same two members waits for it
                let mut at = self.now + Duration::from_millis(1);
                let mut pto = Duration::from_millis(30);
                while self.loss > 0.0 && rand::Rng::gen::<f64>(&mut self.rng) < self.loss {
                    at += pto;
                    pto *= 2;
                }
                let last = self.last.entry((name.to_owned(), to.clone())).or_default();
                at = at.max(*last);
                *last = at;
                self.seq += 1;
                self.queue.push(Reverse((at, self.seq, to, Work::Packet(bytes))));
            }
            for (after, timer) in sets {
                self.seq += 1;
                timers.insert(self.seq, timer);
                self.queue.push(Reverse((
                    self.now + after,
                    self.seq,
                    name.to_owned(),
                    Work::Timer(self.seq),
                )));
            }
        }

        fn run_until(&mut self, until: Duration, timers: &mut BTreeMap<u64, Timer<MemberId>>) {
            while let Some(Reverse((at, _, _, _))) = self.queue.peek() {
                if *at > until {
                    break;
                }
                let Some(Reverse((at, _, to, work))) = self.queue.pop() else {
                    break;
                };
                self.now = at;
                if self.crashed.contains(&to) {
                    continue;
                }
                let m = self.nodes.get_mut(&to).expect("member");
                match work {
                    Work::Packet(bytes) => m.on_packet(&bytes),
                    Work::Timer(seq) => {
                        if let Some(t) = timers.remove(&seq) {
                            m.on_timer(t);
                        }
                    }
                }
                self.flush(&to, timers);
            }
            self.now = until;
        }
    }

    #[test]
    fn a_member_cut_off_alone_is_declared_down_before_it_declares_anyone() {
        let (mut net, mut timers) = Net::new(&["a", "b", "c", "d", "e"]);
        let seed = net.nodes["a"].me().clone();
        for name in ["b", "c", "d", "e"] {
            net.nodes.get_mut(name).expect("member").join(seed.clone());
            net.flush(name, &mut timers);
        }
        net.run_until(Duration::from_secs(5), &mut timers);
        net.cut.push("e".into());
        let cut_at = net.now;
        // the others' verdict on e comes within about a second
        net.run_until(cut_at + Duration::from_millis(1_500), &mut timers);
        for name in ["a", "b", "c", "d"] {
            assert!(!names(&net.nodes[name].members()).contains(&"e"), "{name} declared e down");
        }
        // e hears nobody: it puts its verdicts off (4x the suspicion time),
        // so it has declared nobody down yet; had it done so, and the
        // partition healed, its claims would take healthy members out
        let declared: Vec<&MemberEvent> = net
            .events
            .iter()
            .filter(|(t, who, e)| *t > cut_at && who == "e" && matches!(e, MemberEvent::Down(_)))
            .map(|(_, _, e)| e)
            .collect();
        assert!(declared.is_empty(), "e declared {declared:?} down while cut off");
        // it does, later, as a member that lost everyone must
        net.run_until(cut_at + Duration::from_secs(10), &mut timers);
        assert!(net.nodes["e"].members().is_empty(), "e gave up on the others in the end");
    }

    /// foca starts the count to a verdict only at a member whose own probe
    /// failed; one that missed every copy of the news waited for its own
    /// round-robin probe of the dead member (up to N probe periods). Every
    /// member that hears of the suspicion now counts too, so the last
    /// survivor's verdict does not grow with the cluster.
    #[test]
    fn every_survivor_reaches_the_verdict_within_a_bound_that_does_not_grow_with_the_cluster() {
        let names_owned: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
        let all: Vec<&str> = names_owned.iter().map(String::as_str).collect();
        let (mut net, mut timers) = Net::new(&all);
        let seed = net.nodes["m00"].me().clone();
        for name in &all[1..] {
            net.nodes.get_mut(*name).expect("member").join(seed.clone());
            net.flush(name, &mut timers);
        }
        net.run_until(Duration::from_secs(30), &mut timers);
        for (name, m) in &net.nodes {
            assert_eq!(m.members().len(), all.len() - 1, "{name} knows everyone");
        }
        // 10 % of datagrams lost from now on (resent late, as QUIC does)
        net.loss = 0.1;
        let mut latest = Duration::ZERO;
        for victim in &all[30..] {
            net.crashed.push((*victim).to_owned());
            let (at, from) = (net.now, net.events.len());
            net.run_until(at + Duration::from_secs(15), &mut timers);
            for name in all.iter().filter(|n| !net.crashed.iter().any(|c| c == *n)) {
                let down = net.events[from..]
                    .iter()
                    .find(|(_, who, e)| who == name && matches!(e, MemberEvent::Down(m) if m.name == *victim))
                    .map(|(t, ..)| *t - at)
                    .unwrap_or_else(|| panic!("{name} never declared {victim} down"));
                latest = latest.max(down);
            }
        }
        // a failed probe (100 ms) and the suspicion (500 ms), heard within a
        // few gossip rounds: not N probe periods (40 x 200 ms = 8 s)
        assert!(latest < Duration::from_millis(2_000), "the last verdict came after {latest:?}");
    }

    fn names(v: &[MemberId]) -> Vec<&str> {
        v.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn members_joining_through_one_seed_converge_and_a_crashed_one_is_declared_down() {
        let (mut net, mut timers) = Net::new(&["a", "b", "c", "d"]);
        let seed = net.nodes["a"].me().clone();
        for name in ["b", "c", "d"] {
            net.nodes.get_mut(name).expect("member").join(seed.clone());
            net.flush(name, &mut timers);
        }
        net.run_until(Duration::from_secs(5), &mut timers);
        for (name, m) in &net.nodes {
            let others: Vec<&str> = ["a", "b", "c", "d"].into_iter().filter(|n| n != name).collect();
            assert_eq!(names(&m.members()), others, "{name} knows everyone");
        }
        // d crashes: nobody hears from it again
        net.crashed.push("d".into());
        let crashed_at = net.now;
        net.run_until(crashed_at + Duration::from_secs(10), &mut timers);
        for name in ["a", "b", "c"] {
            assert!(
                !names(&net.nodes[name].members()).contains(&"d"),
                "{name} declared d down"
            );
            let down = net
                .events
                .iter()
                .find(|(_, who, e)| who == name && matches!(e, MemberEvent::Down(m) if m.name == "d"))
                .map(|(t, ..)| *t - crashed_at)
                .expect("a Down event");
            assert!(down < Duration::from_secs(3), "{name} noticed after {down:?}");
        }
        assert_eq!(net.nodes.values().map(|m| m.malformed).sum::<u64>(), 0);
        // garbage is dropped and counted, never a panic
        let a = net.nodes.get_mut("a").expect("a");
        a.on_packet(&[0xff; 40]);
        assert_eq!(a.malformed, 1);
    }
}
