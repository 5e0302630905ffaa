//! Why a peer node could not be joined, from this node's point of view: the
//! misconfigurations a first setup runs into (another secret or CA, another
//! cluster name, another protocol version), told as an error value by
//! `connect` and `lookup` instead of a timeout.

use crate::transport::TransportError;
use crate::wire::Refusal;

/// What keeps two nodes apart, as the node that could not join sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Misconfiguration {
    /// TLS failed on a certificate: the peer's is not from our CA, or ours
    /// not from its.
    #[error(
        "the peer's certificate is not from our CA, or ours not from its: \
         a different secret, cluster name or CA file?"
    )]
    ForeignCa,
    /// The nodes belong to clusters of different names.
    #[error("cluster name differs: ours {ours:?}, theirs {theirs:?}")]
    ClusterName {
        /// Ours.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The nodes speak different protocol versions.
    #[error("protocol version differs: ours {ours}, theirs {theirs}")]
    ProtocolVersion {
        /// Ours.
        ours: String,
        /// Theirs (as much as is known).
        theirs: String,
    },
    /// The peer has this node's own name.
    #[error("the peer has our own name {0:?}")]
    SameName(String),
    /// A certificate and a hello name different nodes.
    #[error("identity mismatch: {0}")]
    Identity(String),
    /// A handshake was malformed.
    #[error("malformed handshake: {0}")]
    Malformed(String),
    /// Refused, for a reason the refusal did not spell out (its words).
    #[error("refused: {0}")]
    Refused(String),
    /// TLS failed for another reason.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
}

/// Our TLS verifier's "cluster name differs: ours \"a\", theirs \"b\"" (the
/// peer's certificate is from an arbour CA of another cluster name).
fn cluster_differs(text: &str) -> Option<Misconfiguration> {
    let rest = &text[text.find(crate::transport::CLUSTER_DIFFERS)?..];
    let rest = rest.strip_prefix(crate::transport::CLUSTER_DIFFERS)?;
    let (ours, theirs) = rest.split_once(", theirs ")?;
    let unquote = |s: &str| -> Option<String> {
        let s = s.trim().strip_prefix('"')?;
        Some(s[..s.find('"')?].to_owned())
    };
    Some(Misconfiguration::ClusterName {
        ours: unquote(ours)?,
        theirs: unquote(theirs)?,
    })
}

/// TLS alerts that mean "I do not trust your certificate".
const CERTIFICATE_ALERTS: [u8; 8] = [42, 43, 44, 45, 46, 48, 51, 116];
/// `no_application_protocol`: the ALPN (which carries the version) differs.
const NO_APPLICATION_PROTOCOL: u8 = 120;

impl Misconfiguration {
    /// What a failed dial or handshake says about the configuration, if it
    /// says something (a peer that is down says nothing: `None`).
    pub(crate) fn of(e: &TransportError) -> Option<Self> {
        match e {
            TransportError::Refused {
                by_peer,
                refusal: Some(r),
                ..
            } => Some(Self::from_refusal(r.clone(), *by_peer)),
            TransportError::Refused { reason, .. } => Some(Self::Refused(reason.clone())),
            TransportError::Connection(c) => Self::of_tls(c),
            _ => None,
        }
    }

    /// A refusal as the refusing node saw it (`ours` its own) if `by_peer`,
    /// else as we did: told from our side.
    fn from_refusal(r: Refusal, by_peer: bool) -> Self {
        let ours_theirs = |a: String, b: String| if by_peer { (b, a) } else { (a, b) };
        match r {
            Refusal::VersionMismatch { ours, theirs } => {
                let (ours, theirs) = ours_theirs(ours.to_string(), theirs.to_string());
                Self::ProtocolVersion { ours, theirs }
            }
            Refusal::ClusterMismatch { ours, theirs } => {
                let (ours, theirs) = ours_theirs(ours, theirs);
                Self::ClusterName { ours, theirs }
            }
            Refusal::SameNode(name) => Self::SameName(name),
            Refusal::Identity(why) => Self::Identity(why),
            Refusal::Malformed(why) => Self::Malformed(why),
        }
    }

    fn of_tls(c: &quinn::ConnectionError) -> Option<Self> {
        let (code, text) = match c {
            quinn::ConnectionError::TransportError(t) => (t.code, t.to_string()),
            quinn::ConnectionError::ConnectionClosed(close) => {
                (close.error_code, close.to_string())
            }
            _ => return None,
        };
        let code = u64::from(code);
        if !(0x100..0x200).contains(&code) {
            return None;
        }
        let alert = (code - 0x100) as u8;
        if let Some(m) = cluster_differs(&text) {
            return Some(m);
        }
        Some(if CERTIFICATE_ALERTS.contains(&alert) {
            Self::ForeignCa
        } else if alert == NO_APPLICATION_PROTOCOL {
            Self::ProtocolVersion {
                ours: String::from_utf8_lossy(crate::transport::ALPN).into_owned(),
                theirs: "another (TLS ALPN)".into(),
            }
        } else {
            Self::Tls(text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_told_from_the_refused_sides_point_of_view() {
        let refused = |by_peer, refusal| TransportError::Refused {
            by_peer,
            reason: String::new(),
            refusal: Some(refusal),
        };
        // the peer (cluster "prod") refused us (cluster "arbour")
        let theirs = Refusal::ClusterMismatch {
            ours: "prod".into(),
            theirs: "arbour".into(),
        };
        assert_eq!(
            Misconfiguration::of(&refused(true, theirs.clone())),
            Some(Misconfiguration::ClusterName {
                ours: "arbour".into(),
                theirs: "prod".into()
            })
        );
        // we refused the peer's welcome: already our point of view
        assert_eq!(
            Misconfiguration::of(&refused(false, theirs)),
            Some(Misconfiguration::ClusterName {
                ours: "prod".into(),
                theirs: "arbour".into()
            })
        );
        let version = Refusal::VersionMismatch { ours: 3, theirs: 2 };
        assert_eq!(
            Misconfiguration::of(&refused(true, version)).map(|m| m.to_string()),
            Some("protocol version differs: ours 2, theirs 3".into())
        );
        // a peer that is down says nothing about configuration
        assert_eq!(
            Misconfiguration::of(&TransportError::HandshakeTimeout),
            None
        );
    }
}
