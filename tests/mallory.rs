//! Mallory: a peer that holds a valid certificate of the tests' cluster
//! (minted from its secret, under a name of her own), passes the handshake,
//! and then speaks the wire format by hand: membership packets about
//! anyone, control messages of any kind. She never joins membership on her
//! own account and uses none of arbour's connection code past the
//! handshake (`arbour::transport::Endpoint`).

use arbour::cluster::MemberId;
use arbour::wire::{Control, EnvelopeHead, Limits, CONTROL_RECIPIENT};
use arbour::ExitReason;
use foca::{Codec, Header, Member, Message, PostcardCodec, State};
use std::net::SocketAddr;

/// One connection of Mallory's to one node.
pub struct Mallory {
    /// Her name (what her certificate says).
    pub name: String,
    /// Her life, as her hello says it.
    pub incarnation: u64,
    /// The node she talks to, and its life.
    pub target: (String, u64),
    conn: quinn::Connection,
    lane: quinn::SendStream,
    _endpoint: arbour::transport::Endpoint,
}

impl std::fmt::Debug for Mallory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mallory").field("name", &self.name).finish()
    }
}

impl Mallory {
    /// Connects as `name` (life `incarnation`) to node `node` at `addr`,
    /// whose life is `node_incarnation`, from `bind` (a loopback address).
    pub async fn connect(
        name: &str,
        incarnation: u64,
        bind: SocketAddr,
        target: (&str, u64, SocketAddr),
    ) -> Result<Self, String> {
        Self::connect_in(("test", "s3cret"), name, incarnation, bind, target).await
    }

    /// [`Mallory::connect`] to a node of cluster `cluster` with secret
    /// `secret` (her certificate minted from it).
    pub async fn connect_in(
        cluster: (&str, &str),
        name: &str,
        incarnation: u64,
        bind: SocketAddr,
        target: (&str, u64, SocketAddr),
    ) -> Result<Self, String> {
        let role = arbour::net::PeerRole::Member;
        Self::connect_as(role, cluster, name, incarnation, bind, target).await
    }

    /// [`Mallory::connect_in`] with a certificate of `role` (a client's
    /// may ask and look up, and no more).
    pub async fn connect_as(
        role: arbour::net::PeerRole,
        (cluster, secret): (&str, &str),
        name: &str,
        incarnation: u64,
        bind: SocketAddr,
        (node, node_incarnation, addr): (&str, u64, SocketAddr),
    ) -> Result<Self, String> {
        use arbour::transport::{ClusterCa, Endpoint};
        let ca = ClusterCa::from_secret(cluster, secret).map_err(|e| e.to_string())?;
        let id = match role {
            arbour::net::PeerRole::Member => ca.issue(name, [66; 32]),
            arbour::net::PeerRole::Client => ca.issue_client(name, [66; 32]),
        }
        .map_err(|e| e.to_string())?;
        let trust = ca.trust().map_err(|e| e.to_string())?;
        let endpoint = Endpoint::bind(
            bind,
            &trust,
            &id,
            arbour::wire::Hello::new(cluster, name, incarnation),
        )
        .map_err(|e| e.to_string())?;
        let peer = endpoint
            .connect(addr, node)
            .await
            .map_err(|e| e.to_string())?;
        let conn = peer.connection().clone();
        // the peer's control stream stays open (dropping it would close it)
        std::mem::forget(peer);
        let lane = conn.open_uni().await.map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_owned(),
            incarnation,
            target: (node.to_owned(), node_incarnation),
            conn,
            lane,
            _endpoint: endpoint,
        })
    }

    /// Her connection (to read its close reason).
    pub fn connection(&self) -> &quinn::Connection {
        &self.conn
    }

    /// Sends control message `msg` (a tell; with `correlation`, an ask
    /// whose reply she never reads).
    pub async fn control(
        &mut self,
        msg: &Control<ExitReason>,
        correlation: Option<u64>,
    ) -> Result<(), String> {
        let mut payload = Vec::new();
        msg.encode_payload(&mut payload)
            .map_err(|e| e.to_string())?;
        self.envelope(CONTROL_RECIPIENT, msg.tag(), &payload, correlation, None)
            .await
    }

    /// Sends one envelope to actor `recipient` of the target's life.
    pub async fn envelope(
        &mut self,
        recipient: u64,
        tag: &str,
        payload: &[u8],
        correlation: Option<u64>,
        timeout_ms: Option<u32>,
    ) -> Result<(), String> {
        let head = EnvelopeHead {
            recipient,
            recipient_incarnation: self.target.1,
            sender: None,
            tag,
            correlation,
            timeout_ms,
            trace: None,
        };
        let mut out = Vec::new();
        head.write_frame(&Limits::default(), &mut out, |b| {
            b.extend_from_slice(payload);
            Ok::<(), String>(())
        })
        .map_err(|e| e.to_string())?;
        self.lane.write_all(&out).await.map_err(|e| e.to_string())
    }

    /// Sends a membership packet.
    pub async fn swim(&mut self, packet: Vec<u8>) -> Result<(), String> {
        self.control(&Control::Swim { packet }, None).await
    }
}

/// A member identity as SWIM carries it.
pub fn member(name: &str, incarnation: u64, addr: SocketAddr) -> MemberId {
    MemberId {
        name: name.to_owned(),
        incarnation,
        addr,
        roles: Vec::new(),
    }
}

/// A SWIM gossip packet from `src` to `dst` carrying `updates` (member,
/// SWIM incarnation, state), encoded as foca encodes it.
pub fn gossip(src: &MemberId, dst: &MemberId, updates: &[(MemberId, u16, State)]) -> Vec<u8> {
    let header = Header {
        src: src.clone(),
        src_incarnation: 0,
        dst: dst.clone(),
        message: Message::Gossip,
    };
    let mut out = Vec::new();
    let _ = Codec::<MemberId>::encode_header(&mut PostcardCodec, &header, &mut out);
    let n = u16::try_from(updates.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
    for (id, inc, state) in updates.iter().take(usize::from(n)) {
        let m = Member::new(id.clone(), *inc, *state);
        let _ = Codec::<MemberId>::encode_member(&mut PostcardCodec, &m, &mut out);
    }
    out
}

/// foca's member states, for [`gossip`].
pub use foca::State as SwimState;
