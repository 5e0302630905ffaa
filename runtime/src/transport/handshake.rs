//! arbour's handshake as a sans-IO state machine (quinn-proto's shape): it
//! is told the bytes that arrive on the control stream and says what to do
//! (send this frame, admit the peer, refuse it, give up); the endpoint does
//! the reading, writing, closing and timing.
//!
//! The dialer sends `Hello`; the listener answers `Welcome` with its own, or
//! `Reject` with a precise reason. Each side admits the other only if the
//! hellos fit (protocol version, cluster, not our own name) and the peer's
//! TLS certificate names the node its hello claims to be.

use super::endpoint::TransportError;
use crate::wire::{
    decode_refusal, decode_reject, encode_frame, encode_reject, FrameDecoder, FrameKind, Hello,
    Limits, Refusal, HANDSHAKE_FRAME_MAX,
};

/// Which side of the connection this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// It dialed: it speaks first.
    Dialer,
    /// It accepted: it answers.
    Listener,
}

/// What the endpoint should do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Wait for more bytes.
    NeedMore,
    /// The peer is admitted as `theirs`; send `reply` first (a listener's
    /// `Welcome`). Bytes after the handshake stay in the decoder.
    Admitted {
        /// Who the peer is.
        theirs: Hello,
        /// A frame to send before the connection starts, if any.
        reply: Option<Vec<u8>>,
    },
    /// Refuse the peer: send `reject` (a whole frame), then close with the
    /// reason.
    Refuse {
        /// The `Reject` frame.
        reject: Vec<u8>,
        /// Why.
        refusal: Refusal,
    },
    /// The peer refused us, saying why (and what, when it could be read).
    RefusedByPeer {
        /// The peer's words.
        reason: String,
        /// The refusal, as the peer saw it.
        refusal: Option<Refusal>,
    },
    /// The peer broke the protocol (or sent malformed bytes): close.
    Failed(TransportError),
}

/// One side of one handshake.
#[derive(Debug)]
pub(crate) struct Handshake {
    role: Role,
    ours: Hello,
    limits: Limits,
    decoder: FrameDecoder,
    finished: bool,
}

impl Handshake {
    /// Until the peer is admitted its frames are held to
    /// [`HANDSHAKE_FRAME_MAX`]; the connection's `limits` apply after.
    pub(crate) fn new(role: Role, ours: Hello, limits: Limits) -> Self {
        let before_hello = Limits {
            max_frame: limits.max_frame.min(HANDSHAKE_FRAME_MAX),
            ..limits
        };
        Self {
            role,
            ours,
            limits,
            decoder: FrameDecoder::new(before_hello),
            finished: false,
        }
    }

    /// The frame this side sends first: the dialer's `Hello` (a listener
    /// sends nothing before it has heard the peer).
    pub(crate) fn opening(&self) -> Result<Option<Vec<u8>>, TransportError> {
        match self.role {
            Role::Dialer => Ok(Some(self.hello_frame(FrameKind::Hello)?)),
            Role::Listener => Ok(None),
        }
    }

    /// Takes bytes from the peer. `vouch(hello)` says whether the peer may
    /// be who its hello says: its TLS certificate names that node, and the
    /// life it claims is not ahead of this node's clock.
    pub(crate) fn on_bytes(
        &mut self,
        bytes: &[u8],
        vouch: impl FnOnce(&Hello) -> Result<(), Refusal>,
    ) -> Step {
        if self.finished {
            return Step::Failed(TransportError::Protocol("handshake already over".into()));
        }
        self.decoder.push(bytes);
        let frame = match self.decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Step::NeedMore,
            Err(e) => return self.fail(e.into()),
        };
        let expected = match self.role {
            Role::Dialer => FrameKind::Welcome,
            Role::Listener => FrameKind::Hello,
        };
        if self.role == Role::Dialer && frame.kind == FrameKind::Reject {
            self.finished = true;
            return match decode_reject(&frame.body) {
                Ok(reason) => Step::RefusedByPeer {
                    reason,
                    refusal: decode_refusal(&frame.body).ok(),
                },
                Err(e) => Step::Failed(e.into()),
            };
        }
        if frame.kind != expected {
            let what = match self.role {
                Role::Dialer => "welcome or reject",
                Role::Listener => "hello",
            };
            let why = format!("expected {what}, got {:?}", frame.kind);
            return self.fail(TransportError::Protocol(why));
        }
        let theirs = match Hello::decode(&frame.body, &self.limits) {
            Ok(h) => h,
            Err(e) => return self.fail(e.into()),
        };
        self.finished = true;
        let admitted = self
            .ours
            .admit(&theirs)
            .and_then(|()| vouch(&theirs));
        if let Err(refusal) = admitted {
            return match self.reject_frame(&refusal) {
                Ok(reject) => Step::Refuse { reject, refusal },
                Err(e) => Step::Failed(e),
            };
        }
        let reply = match self.role {
            Role::Dialer => None,
            Role::Listener => match self.hello_frame(FrameKind::Welcome) {
                Ok(f) => Some(f),
                Err(e) => return Step::Failed(e),
            },
        };
        Step::Admitted { theirs, reply }
    }

    /// The decoder, holding whatever followed the handshake.
    pub(crate) fn into_decoder(mut self) -> FrameDecoder {
        self.decoder.set_limits(self.limits);
        self.decoder
    }

    /// The peer's bytes break the handshake. A listener tells the peer why
    /// (a `Reject`, logged as a refusal); a dialer just gives up.
    fn fail(&mut self, e: TransportError) -> Step {
        self.finished = true;
        if self.role == Role::Listener {
            let refusal = Refusal::Malformed(match e {
                TransportError::Protocol(why) => why,
                other => other.to_string(),
            });
            return match self.reject_frame(&refusal) {
                Ok(reject) => Step::Refuse { reject, refusal },
                Err(e) => Step::Failed(e),
            };
        }
        Step::Failed(e)
    }

    fn hello_frame(&self, kind: FrameKind) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        self.ours.encode(&self.limits, &mut body)?;
        let mut out = Vec::new();
        encode_frame(kind, &body, &self.limits, &mut out)?;
        Ok(out)
    }

    fn reject_frame(&self, refusal: &Refusal) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        encode_reject(refusal, &mut body)?;
        let mut out = Vec::new();
        encode_frame(FrameKind::Reject, &body, &self.limits, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dialer: Hello, listener: Hello) -> (Handshake, Handshake) {
        let limits = Limits::default();
        (
            Handshake::new(Role::Dialer, dialer, limits),
            Handshake::new(Role::Listener, listener, limits),
        )
    }

    fn names_ok(_: &Hello) -> Result<(), Refusal> {
        Ok(())
    }

    /// Feeds `bytes` one at a time, as the network may cut them.
    fn trickle(hs: &mut Handshake, bytes: &[u8]) -> Step {
        for (i, b) in bytes.iter().enumerate() {
            let step = hs.on_bytes(std::slice::from_ref(b), names_ok);
            if !matches!(step, Step::NeedMore) || i + 1 == bytes.len() {
                return step;
            }
        }
        Step::NeedMore
    }

    #[test]
    fn two_sides_admit_each_other_whatever_the_cuts() {
        let (mut d, mut l) = pair(Hello::new("c", "alpha", 1), Hello::new("c", "beta", 2));
        let hello = d.opening().expect("opening").expect("the dialer speaks first");
        assert!(l.opening().expect("opening").is_none());
        let Step::Admitted { theirs, reply } = trickle(&mut l, &hello) else {
            panic!("the listener admits the dialer");
        };
        assert_eq!(theirs.node, "alpha");
        let mut welcome = reply.expect("a welcome");
        // bytes after the welcome stay for the connection
        welcome.extend_from_slice(b"\0\0\0\x02");
        let Step::Admitted { theirs, reply } = d.on_bytes(&welcome, names_ok) else {
            panic!("the dialer admits the listener");
        };
        assert_eq!((theirs.node.as_str(), reply), ("beta", None));
        assert_eq!(d.into_decoder().buffered(), 4);
    }

    #[test]
    fn a_peer_of_another_cluster_is_refused_with_the_reason() {
        let (mut d, mut l) = pair(Hello::new("blue", "alpha", 1), Hello::new("red", "beta", 2));
        let hello = d.opening().expect("opening").expect("hello");
        let Step::Refuse { reject, refusal } = l.on_bytes(&hello, names_ok) else {
            panic!("refused");
        };
        assert!(matches!(refusal, Refusal::ClusterMismatch { .. }));
        let Step::RefusedByPeer { reason, .. } = d.on_bytes(&reject, names_ok) else {
            panic!("the dialer reads the refusal");
        };
        assert_eq!(reason, refusal.to_string());
    }

    #[test]
    fn a_hello_its_certificate_does_not_back_is_refused() {
        let (d, mut l) = pair(Hello::new("c", "mallory", 1), Hello::new("c", "beta", 2));
        let hello = d.opening().expect("opening").expect("hello");
        let step = l.on_bytes(&hello, |h| {
            Err(Refusal::Identity(format!("the hello says {}, the certificate says eve", h.node)))
        });
        assert!(matches!(step, Step::Refuse { refusal: Refusal::Identity(_), .. }), "{step:?}");
    }

    /// The refusal a listener sends a peer whose first bytes are not a
    /// hello, with the reason in it.
    fn refusal_of(step: Step) -> String {
        match step {
            Step::Refuse {
                reject,
                refusal: Refusal::Malformed(why),
            } => {
                let mut d = FrameDecoder::new(Limits::default());
                d.push(&reject);
                let frame = d.next_frame().expect("reject frame").expect("whole");
                assert_eq!(frame.kind, FrameKind::Reject);
                assert_eq!(
                    decode_reject(&frame.body).expect("reason"),
                    format!("malformed handshake: {why}")
                );
                why
            }
            other => panic!("expected a malformed-handshake refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_listener_refuses_garbage_and_out_of_turn_frames_saying_why() {
        let limits = Limits::default();
        let mut l = Handshake::new(Role::Listener, Hello::new("c", "beta", 2), limits);
        let why = refusal_of(l.on_bytes(&[0xff; 16], names_ok));
        assert!(why.contains("malformed"), "{why}");
        // a listener that gets a welcome, or an envelope, instead of a hello
        let d = Handshake::new(Role::Listener, Hello::new("c", "alpha", 1), limits);
        let welcome = d.hello_frame(FrameKind::Welcome).expect("frame");
        let mut l = Handshake::new(Role::Listener, Hello::new("c", "beta", 2), limits);
        let why = refusal_of(l.on_bytes(&welcome, names_ok));
        assert_eq!(why, "expected hello, got Welcome");
        let mut envelope = Vec::new();
        encode_frame(FrameKind::Envelope, b"x", &limits, &mut envelope).expect("frame");
        let mut l = Handshake::new(Role::Listener, Hello::new("c", "beta", 2), limits);
        let why = refusal_of(l.on_bytes(&envelope, names_ok));
        assert_eq!(why, "expected hello, got Envelope");
        // a hello whose node name is not UTF-8
        let mut body = Vec::new();
        Hello::new("c", "alpha", 1)
            .encode(&limits, &mut body)
            .expect("hello");
        let at = body
            .windows(5)
            .position(|w| w == b"alpha")
            .expect("the name");
        body[at] = 0xff;
        let mut bad = Vec::new();
        encode_frame(FrameKind::Hello, &body, &limits, &mut bad).expect("frame");
        let mut l = Handshake::new(Role::Listener, Hello::new("c", "beta", 2), limits);
        let why = refusal_of(l.on_bytes(&bad, names_ok));
        assert!(why.contains("UTF-8"), "{why}");
        // nothing is taken once the handshake is over
        assert!(matches!(l.on_bytes(&welcome, names_ok), Step::Failed(_)));
    }

    /// Before its hello is admitted a peer may not announce a frame larger
    /// than a hello can be: the listener refuses it at the length prefix,
    /// holding none of it; once admitted, the connection's limits apply.
    #[test]
    fn a_frame_before_the_hello_is_held_to_the_size_of_a_hello() {
        let limits = Limits::default();
        let mut l = Handshake::new(Role::Listener, Hello::new("c", "beta", 2), limits);
        let sixteen_mib = (16u32 * 1024 * 1024).to_be_bytes();
        let why = refusal_of(l.on_bytes(&sixteen_mib, names_ok));
        assert!(why.contains("exceeds the limit of 8192"), "{why}");
        let (mut d, mut l) = pair(Hello::new("c", "alpha", 1), Hello::new("c", "beta", 2));
        let mut hello = d.opening().expect("opening").expect("hello");
        // a large frame right after the hello is the connection's business
        let mut big = Vec::new();
        encode_frame(FrameKind::Envelope, &vec![0; 1 << 20], &limits, &mut big).expect("frame");
        hello.extend_from_slice(&big);
        let Step::Admitted { reply, .. } = l.on_bytes(&hello, names_ok) else {
            panic!("admitted");
        };
        let mut decoder = l.into_decoder();
        let frame = decoder.next_frame().expect("decodes").expect("whole");
        assert_eq!(frame.body.len(), 1 << 20);
        assert!(matches!(d.on_bytes(&reply.expect("welcome"), names_ok), Step::Admitted { .. }));
    }

    #[test]
    fn a_dialer_gives_up_on_garbage() {
        let limits = Limits::default();
        let mut d = Handshake::new(Role::Dialer, Hello::new("c", "alpha", 1), limits);
        assert!(matches!(
            d.on_bytes(&[0xff; 16], names_ok),
            Step::Failed(TransportError::Wire(_))
        ));
    }
}
