//! The first frames on a connection: each side says who it is, and the
//! listener accepts or refuses with a precise reason (logged on both sides)
//! before any actor sees a byte.

use super::frame::Limits;
use super::read::{put_str16, Reader};
use super::WireError;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 2;

/// Who a node is: sent by the dialer (`Hello` frame) and answered by the
/// listener (`Welcome` frame) with its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's protocol version.
    pub version: u16,
    /// The cluster it belongs to.
    pub cluster: String,
    /// Its node name.
    pub node: String,
    /// Its incarnation.
    pub incarnation: u64,
    /// Capability bits (none defined yet; unknown bits are ignored, so they
    /// can be added without a version bump).
    pub capabilities: u64,
}

/// Why a handshake is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak {ours}, the peer {theirs}")]
    VersionMismatch {
        /// Ours.
        ours: u16,
        /// Theirs.
        theirs: u16,
    },
    /// The peer belongs to another cluster.
    #[error("cluster mismatch: we are {ours:?}, the peer is {theirs:?}")]
    ClusterMismatch {
        /// Ours.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The peer claims to be this very node.
    #[error("the peer claims our own name {0:?}")]
    SameNode(String),
    /// The peer's certificate and its hello name different nodes.
    #[error("identity mismatch: {0}")]
    Identity(String),
    /// The peer's first frame is not a well-formed hello (a malformed frame,
    /// a name too long or not UTF-8, an envelope before the hello).
    #[error("malformed handshake: {0}")]
    Malformed(String),
}

impl Refusal {
    /// A short name for the kind of refusal (log lines are throttled per
    /// kind, so every kind of refusal is logged).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::VersionMismatch { .. } => "refused: version",
            Refusal::ClusterMismatch { .. } => "refused: cluster",
            Refusal::SameNode(_) => "refused: same node",
            Refusal::Identity(_) => "refused: identity",
            Refusal::Malformed(_) => "refused: malformed",
        }
    }
}

impl Hello {
    /// A hello for this build's protocol version.
    pub fn new(cluster: &str, node: &str, incarnation: u64) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            cluster: cluster.to_owned(),
            node: node.to_owned(),
            incarnation,
            capabilities: 0,
        }
    }

    /// Whether a node that sent `theirs` may talk to us.
    pub fn admit(&self, theirs: &Hello) -> Result<(), Refusal> {
        if theirs.version != self.version {
            return Err(Refusal::VersionMismatch {
                ours: self.version,
                theirs: theirs.version,
            });
        }
        if theirs.cluster != self.cluster {
            return Err(Refusal::ClusterMismatch {
                ours: self.cluster.clone(),
                theirs: theirs.cluster.clone(),
            });
        }
        if theirs.node == self.node {
            return Err(Refusal::SameNode(theirs.node.clone()));
        }
        Ok(())
    }

    /// Appends the encoded hello (a frame body) to `out`. The version comes
    /// first, so any future layout can still be told apart.
    pub fn encode(&self, limits: &Limits, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.extend_from_slice(&self.version.to_be_bytes());
        put_str16(out, &self.cluster, limits.max_name, "cluster name")?;
        put_str16(out, &self.node, limits.max_name, "node name")?;
        out.extend_from_slice(&self.incarnation.to_be_bytes());
        out.extend_from_slice(&self.capabilities.to_be_bytes());
        Ok(())
    }

    /// Decodes a frame body. A different version decodes its version only
    /// (returned with empty fields) so the refusal can name it.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        if version != PROTOCOL_VERSION {
            return Ok(Self {
                version,
                cluster: String::new(),
                node: String::new(),
                incarnation: 0,
                capabilities: 0,
            });
        }
        let h = Self {
            version,
            cluster: r.str16(limits.max_name, "cluster name")?,
            node: r.str16(limits.max_name, "node name")?,
            incarnation: r.u64()?,
            capabilities: r.u64()?,
        };
        r.finish()?;
        Ok(h)
    }
}

/// The body of a `Reject` frame: the refusal, as text for the peer's log.
pub fn encode_reject(refusal: &Refusal, out: &mut Vec<u8>) -> Result<(), WireError> {
    // the text for people, then the refusal itself, so the refused side can
    // say what went wrong from its own point of view
    put_str16(out, &refusal.to_string(), u16::MAX as usize, "refusal")?;
    let text = |out: &mut Vec<u8>, s: &str| put_str16(out, s, u16::MAX as usize, "refusal detail");
    match refusal {
        Refusal::VersionMismatch { ours, theirs } => {
            out.push(1);
            out.extend_from_slice(&ours.to_be_bytes());
            out.extend_from_slice(&theirs.to_be_bytes());
            Ok(())
        }
        Refusal::ClusterMismatch { ours, theirs } => {
            out.push(2);
            text(out, ours)?;
            text(out, theirs)
        }
        Refusal::SameNode(name) => {
            out.push(3);
            text(out, name)
        }
        Refusal::Identity(why) => {
            out.push(4);
            text(out, why)
        }
        Refusal::Malformed(why) => {
            out.push(5);
            text(out, why)
        }
    }
}

/// Decodes a `Reject` frame body into the peer's reason, as text.
pub fn decode_reject(body: &[u8]) -> Result<String, WireError> {
    let mut r = Reader::new(body);
    let s = r.str16(u16::MAX as usize, "refusal")?;
    Ok(s)
}

/// Decodes a `Reject` frame body into the refusal, as the refusing node
/// saw it (`ours` is the refuser's).
pub fn decode_refusal(body: &[u8]) -> Result<Refusal, WireError> {
    let mut r = Reader::new(body);
    let _text = r.str16(u16::MAX as usize, "refusal")?;
    let max = u16::MAX as usize;
    let refusal = match r.u8()? {
        1 => Refusal::VersionMismatch {
            ours: r.u16()?,
            theirs: r.u16()?,
        },
        2 => Refusal::ClusterMismatch {
            ours: r.str16(max, "refusal detail")?,
            theirs: r.str16(max, "refusal detail")?,
        },
        3 => Refusal::SameNode(r.str16(max, "refusal detail")?),
        4 => Refusal::Identity(r.str16(max, "refusal detail")?),
        5 => Refusal::Malformed(r.str16(max, "refusal detail")?),
        other => return Err(WireError::UnknownRefusal(other)),
    };
    r.finish()?;
    Ok(refusal)
}
