//! What a membership packet may say, checked before the SWIM machine sees
//! it. foca believes every packet: its sender may name any member as
//! itself, and any update about any member is applied. Over arbour's
//! connections each packet comes from a node whose certificate and hello
//! were checked, so the packet is held to that:
//!
//! - Its sender must be the connection's own node and life (a packet
//!   speaking for another member is refused whole).
//! - No life may be ahead of this node's clock by more than the allowed
//!   skew (a life far in the future outranks every real restart).
//! - A third node's newer life is not taken from gossip while this node is
//!   connected to an older one: that node says so itself when it restarts.
//! - A third node's `Down` is not taken as a bare assertion while this node
//!   holds a live connection to that very life and does not suspect it: it
//!   becomes a suspicion, which a live member refutes and a dead one does
//!   not (the protocol's suspicion path; a real verdict about a member this
//!   node still hears from was a suspicion here first, as gossip spreads
//!   suspicions before verdicts).
//! - About this node itself: a `Down` becomes a suspicion (refuted at
//!   once), no newer life of its name is taken, and a SWIM incarnation is
//!   capped at its own (one at the maximum would leave it unable to
//!   refute).
//! - New members past the cap are not taken.
//! - An indirect probe of a member this node does not know is refused (it
//!   would send a packet where the sender wrote).
//!
//! Pure: the driver says who sent the packet and what it knows.

use super::MemberId;
use bytes::{Buf, BufMut};
use foca::{Codec, Header, Incarnation, Member, Message, PostcardCodec, State};

/// Who sent a packet, as its connection proves it.
#[derive(Clone, Copy, Debug)]
pub struct Speaker<'a> {
    /// The node its certificate names.
    pub name: &'a str,
    /// The life its hello said.
    pub incarnation: u64,
}

/// What this node knows that a packet is checked against.
#[allow(missing_debug_implementations)] // closures
pub struct Known<'a> {
    /// This member.
    pub me: &'a MemberId,
    /// This member's SWIM incarnation now.
    pub own_incarnation: Incarnation,
    /// The latest life any member may have: this node's clock (wall-clock
    /// milliseconds) plus the allowed skew.
    pub latest_life: u64,
    /// The life of `name` this node holds a live connection with.
    pub connected: &'a dyn Fn(&str) -> Option<u64>,
    /// What this node's machine holds about `member`: `None` if it does
    /// not know it.
    pub state_of: &'a dyn Fn(&MemberId) -> Option<State>,
    /// Whether the machine knows any life of node `name`.
    pub knows_name: &'a dyn Fn(&str) -> bool,
    /// Members (alive, suspect or down) the machine holds now.
    pub members: usize,
    /// The most it may hold.
    pub max_members: usize,
}

/// What became of a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Vetted {
    /// Hand it to the machine as it came (also one that does not decode:
    /// the machine counts it malformed).
    AsIs,
    /// Hand the machine this packet instead: some updates were dropped or
    /// softened, as counted.
    Changed {
        /// The packet to hand on.
        packet: Vec<u8>,
        /// Updates dropped.
        dropped: u32,
        /// `Down`s turned into suspicions.
        doubted: u32,
    },
    /// Drop it whole.
    Refused(&'static str),
}

/// What to do with one update.
enum Fate {
    Keep,
    Drop,
    Doubt(Member<MemberId>),
}

/// Checks `packet`, sent by `speaker`, against what this node knows.
pub fn vet(packet: &[u8], speaker: Speaker<'_>, known: &Known<'_>) -> Vetted {
    let mut data = packet;
    let Ok(header) = Codec::<MemberId>::decode_header(&mut PostcardCodec, &mut data) else {
        return Vetted::AsIs;
    };
    if header.src.name != speaker.name || header.src.incarnation != speaker.incarnation {
        return Vetted::Refused("the packet speaks for another member than its connection's node");
    }
    if header.src.incarnation > known.latest_life {
        return Vetted::Refused("the sender's life is ahead of this node's clock");
    }
    if let Message::PingReq { target, .. } | Message::IndirectAck { target, .. } = &header.message
    {
        // each makes this node send a packet to `target`, at the address
        // the sender wrote: only to a member it knows
        if (known.state_of)(target).is_none() {
            return Vetted::Refused("a probe on behalf of a member this node does not know");
        }
    }
    if data.remaining() < 2 || header.message == Message::Broadcast {
        return Vetted::AsIs;
    }
    let count = data.get_u16();
    let mut updates = Vec::with_capacity(usize::from(count).min(64));
    for _ in 0..count {
        match Codec::<MemberId>::decode_member(&mut PostcardCodec, &mut data) {
            Ok(m) => updates.push(m),
            Err(_) => return Vetted::AsIs,
        }
    }
    let tail = data;
    // only a packet that could take the machine past its cap needs each new
    // name looked up (a scan of the members): the common one does not
    let near_cap = known.members + updates.len() >= known.max_members;
    let (mut dropped, mut doubted, mut added) = (0u32, 0u32, 0usize);
    let mut kept = Vec::with_capacity(updates.len());
    let mut changed = false;
    for m in updates {
        match fate(&m, speaker, known, near_cap, &mut added) {
            Fate::Keep => kept.push(m),
            Fate::Drop => {
                dropped += 1;
                changed = true;
            }
            Fate::Doubt(softer) => {
                doubted += 1;
                changed = true;
                kept.push(softer);
            }
        }
    }
    if !changed {
        return Vetted::AsIs;
    }
    match encode(&header, &kept, tail) {
        Some(packet) => Vetted::Changed {
            packet,
            dropped,
            doubted,
        },
        None => Vetted::Refused("the vetted packet does not encode"),
    }
}

fn fate(
    m: &Member<MemberId>,
    speaker: Speaker<'_>,
    known: &Known<'_>,
    near_cap: bool,
    added: &mut usize,
) -> Fate {
    let id = m.id();
    if id.incarnation > known.latest_life {
        return Fate::Drop;
    }
    if id.name == known.me.name {
        if id.incarnation > known.me.incarnation {
            // a newer life of this very node: no one but it may know one
            return Fate::Drop;
        }
        if id.incarnation < known.me.incarnation {
            return Fate::Keep;
        }
        let incarnation = m.incarnation().min(known.own_incarnation);
        return match m.state() {
            State::Down => Fate::Doubt(Member::new(id.clone(), incarnation, State::Suspect)),
            state if incarnation != m.incarnation() => {
                Fate::Doubt(Member::new(id.clone(), incarnation, state))
            }
            _ => Fate::Keep,
        };
    }
    if id.name == speaker.name {
        // the sender about itself: any word about its own lives so far
        return if id.incarnation <= speaker.incarnation {
            Fate::Keep
        } else {
            Fate::Drop
        };
    }
    let connected = (known.connected)(&id.name);
    if connected.is_some_and(|life| id.incarnation > life) {
        return Fate::Drop;
    }
    if m.state() == State::Down && connected == Some(id.incarnation) {
        let held = (known.state_of)(id);
        if matches!(held, Some(State::Alive)) {
            return Fate::Doubt(Member::new(id.clone(), m.incarnation(), State::Suspect));
        }
    }
    if near_cap && m.state() != State::Down && !(known.knows_name)(&id.name) {
        if known.members + *added >= known.max_members {
            return Fate::Drop;
        }
        *added += 1;
    }
    Fate::Keep
}

fn encode(header: &Header<MemberId>, updates: &[Member<MemberId>], tail: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    Codec::<MemberId>::encode_header(&mut PostcardCodec, header, &mut out).ok()?;
    if !updates.is_empty() || !tail.is_empty() {
        out.put_u16(u16::try_from(updates.len()).ok()?);
        for m in updates {
            Codec::<MemberId>::encode_member(&mut PostcardCodec, m, &mut out).ok()?;
        }
        out.put_slice(tail);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, incarnation: u64) -> MemberId {
        MemberId {
            name: name.into(),
            incarnation,
            addr: ([127, 0, 0, 1], 7000).into(),
            roles: Vec::new(),
        }
    }

    fn packet(src: &MemberId, dst: &MemberId, updates: &[Member<MemberId>]) -> Vec<u8> {
        let header = Header {
            src: src.clone(),
            src_incarnation: 0,
            dst: dst.clone(),
            message: Message::Gossip,
        };
        encode(&header, updates, &[]).expect("encodes")
    }

    fn updates_of(packet: &[u8]) -> Vec<Member<MemberId>> {
        let mut data = packet;
        let _ = Codec::<MemberId>::decode_header(&mut PostcardCodec, &mut data).expect("header");
        if data.remaining() < 2 {
            return Vec::new();
        }
        let n = data.get_u16();
        (0..n)
            .map(|_| Codec::<MemberId>::decode_member(&mut PostcardCodec, &mut data).expect("member"))
            .collect()
    }

    struct World {
        me: MemberId,
        connected: Vec<(String, u64)>,
        alive: Vec<MemberId>,
        max_members: usize,
    }

    impl World {
        fn vet(&self, packet: &[u8], speaker: Speaker<'_>) -> Vetted {
            let connected = |n: &str| {
                self.connected
                    .iter()
                    .find(|(name, _)| name == n)
                    .map(|(_, l)| *l)
            };
            let state_of = |m: &MemberId| self.alive.contains(m).then_some(State::Alive);
            let knows_name = |n: &str| self.alive.iter().any(|m| m.name == n);
            vet(
                packet,
                speaker,
                &Known {
                    me: &self.me,
                    own_incarnation: 3,
                    latest_life: 1_000,
                    connected: &connected,
                    state_of: &state_of,
                    knows_name: &knows_name,
                    members: self.alive.len(),
                    max_members: self.max_members,
                },
            )
        }
    }

    fn world() -> World {
        World {
            me: member("alpha", 10),
            connected: vec![("beta".into(), 20), ("mallory".into(), 30)],
            alive: vec![member("beta", 20), member("mallory", 30)],
            max_members: 100,
        }
    }

    const MALLORY: Speaker<'static> = Speaker {
        name: "mallory",
        incarnation: 30,
    };

    #[test]
    fn a_packet_speaking_for_another_member_is_refused_whole() {
        let w = world();
        let p = packet(&member("beta", 20), &w.me, &[]);
        assert!(matches!(w.vet(&p, MALLORY), Vetted::Refused(_)));
        // the sender's own name at another life than its connection's
        let p = packet(&member("mallory", 31), &w.me, &[]);
        assert!(matches!(w.vet(&p, MALLORY), Vetted::Refused(_)));
        let p = packet(&member("mallory", 30), &w.me, &[]);
        assert_eq!(w.vet(&p, MALLORY), Vetted::AsIs);
    }

    #[test]
    fn a_bare_down_about_a_member_this_node_hears_from_becomes_a_suspicion() {
        let w = world();
        let down = Member::new(member("beta", 20), 0, State::Down);
        let p = packet(&member("mallory", 30), &w.me, &[down]);
        let Vetted::Changed { packet: vetted, doubted, dropped } = w.vet(&p, MALLORY) else {
            panic!("changed");
        };
        assert_eq!((doubted, dropped), (1, 0));
        let got = updates_of(&vetted);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].id().name.as_str(), got[0].state()), ("beta", State::Suspect));
        // one about a member this node is not connected to goes on as it is
        // (the verdict of a member it cannot hear from itself)
        let down = Member::new(member("gamma", 40), 0, State::Down);
        let p = packet(&member("mallory", 30), &w.me, &[down]);
        assert_eq!(w.vet(&p, MALLORY), Vetted::AsIs);
    }

    #[test]
    fn lives_ahead_of_the_clock_and_newer_lives_of_connected_nodes_are_dropped() {
        let w = world();
        let far = Member::new(member("gamma", u64::MAX), 0, State::Alive);
        let newer_beta = Member::new(member("beta", 21), 0, State::Alive);
        let newer_me = Member::new(member("alpha", 11), 0, State::Alive);
        let fine = Member::new(member("delta", 50), 0, State::Alive);
        let p = packet(&member("mallory", 30), &w.me, &[far, newer_beta, newer_me, fine]);
        let Vetted::Changed { packet, dropped, .. } = w.vet(&p, MALLORY) else {
            panic!("changed");
        };
        assert_eq!(dropped, 3);
        let got = updates_of(&packet);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id().name, "delta");
    }

    #[test]
    fn about_this_node_a_down_is_a_suspicion_at_most_at_its_own_swim_incarnation() {
        let w = world();
        let down = Member::new(member("alpha", 10), Incarnation::MAX, State::Down);
        let p = packet(&member("mallory", 30), &w.me, &[down]);
        let Vetted::Changed { packet, .. } = w.vet(&p, MALLORY) else {
            panic!("changed");
        };
        let got = updates_of(&packet);
        assert_eq!((got[0].state(), got[0].incarnation()), (State::Suspect, 3));
    }

    #[test]
    fn members_past_the_cap_are_not_taken() {
        let mut w = world();
        w.max_members = 4;
        let fakes: Vec<_> = (0..5)
            .map(|i| Member::new(member(&format!("fake{i}"), 5), 0, State::Alive))
            .collect();
        let p = packet(&member("mallory", 30), &w.me, &fakes);
        let Vetted::Changed { packet, dropped, .. } = w.vet(&p, MALLORY) else {
            panic!("changed");
        };
        assert_eq!(dropped, 3);
        assert_eq!(updates_of(&packet).len(), 2);
    }
}
