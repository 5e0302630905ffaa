//! The wire codec against untrusted input: arbitrary bytes never panic a
//! decoder, every encoding round-trips, limits are enforced before any
//! allocation, and each malformed case gets its own error.

use arbour::wire::{
    decode_reject, encode_frame, encode_reject, Envelope, Frame, FrameDecoder, FrameKind, Hello,
    Limits, Refusal, RemoteError, Reply, TraceContext, WireActorId, WireError, PROTOCOL_VERSION,
};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = FrameKind> {
    prop_oneof![
        Just(FrameKind::Hello),
        Just(FrameKind::Welcome),
        Just(FrameKind::Reject),
        Just(FrameKind::Envelope),
        Just(FrameKind::Reply),
        Just(FrameKind::Ping),
        Just(FrameKind::Pong),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::option::of(("[a-z0-9-]{0,20}", any::<u64>(), any::<u64>())),
        "[a-z0-9._]{0,60}",
        proptest::option::of((any::<u64>(), proptest::option::of(any::<u32>()))),
        proptest::option::of((any::<u128>(), any::<u64>())),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(recipient, inc, sender, tag, ask, trace, payload)| Envelope {
                recipient,
                recipient_incarnation: inc,
                sender: sender.map(|(node, incarnation, local)| WireActorId {
                    node,
                    incarnation,
                    local,
                }),
                tag,
                correlation: ask.map(|(c, _)| c),
                timeout_ms: ask.and_then(|(_, t)| t),
                trace: trace.map(|(trace_id, span_id)| TraceContext { trace_id, span_id }),
                payload,
            },
        )
}

fn reply() -> impl Strategy<Value = Reply> {
    let outcome = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Ok),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(|r| Err(RemoteError::ActorGone(r))),
        ".{0,40}".prop_map(|s| Err(RemoteError::UnknownMessage(s))),
        ".{0,40}".prop_map(|s| Err(RemoteError::Decode(s))),
        Just(Err(RemoteError::MailboxFull)),
        ".{0,40}".prop_map(|s| Err(RemoteError::Panicked(s))),
        Just(Err(RemoteError::Timeout)),
        ".{0,40}".prop_map(|s| Err(RemoteError::Encode(s))),
    ];
    (any::<u64>(), outcome).prop_map(|(correlation, outcome)| Reply {
        correlation,
        outcome,
    })
}

/// Feeds `bytes` to a decoder in chunks cut at `cuts`, collecting frames
/// until the first error.
fn decode_chunked(bytes: &[u8], cuts: &[usize], limits: Limits) -> (Vec<Frame>, Option<WireError>) {
    let mut d = FrameDecoder::new(limits);
    let mut frames = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut start = 0;
    for p in points {
        d.push(&bytes[start..p]);
        start = p;
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let limits = Limits { max_frame: 1024, ..Limits::default() };
        let _ = decode_chunked(&bytes, &cuts, limits);
        let _ = Envelope::decode(&bytes, &limits);
        let _ = Reply::decode(&bytes, &limits);
        let _ = Hello::decode(&bytes, &limits);
        let _ = decode_reject(&bytes);
    }

    #[test]
    fn frames_survive_any_chunking(
        frames in proptest::collection::vec((kind(), proptest::collection::vec(any::<u8>(), 0..200)), 0..10),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let limits = Limits::default();
        let mut bytes = Vec::new();
        for (k, body) in &frames {
            encode_frame(*k, body, &limits, &mut bytes).expect("encode");
        }
        let (got, err) = decode_chunked(&bytes, &cuts, limits);
        prop_assert_eq!(err, None);
        let want: Vec<Frame> = frames.into_iter().map(|(kind, body)| Frame { kind, body }).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn envelopes_round_trip(e in envelope()) {
        let limits = Limits::default();
        let mut body = Vec::new();
        e.encode(&limits, &mut body).expect("encode");
        prop_assert_eq!(Envelope::decode(&body, &limits), Ok(e));
    }

    #[test]
    fn every_truncation_of_an_envelope_is_an_error(e in envelope(), cut in any::<usize>()) {
        let limits = Limits::default();
        let mut body = Vec::new();
        e.encode(&limits, &mut body).expect("encode");
        let cut = cut % body.len();
        prop_assert_eq!(Envelope::decode(&body[..cut], &limits), Err(WireError::Truncated));
    }

    #[test]
    fn replies_round_trip(r in reply()) {
        let limits = Limits::default();
        let mut body = Vec::new();
        r.encode(&limits, &mut body).expect("encode");
        prop_assert_eq!(Reply::decode(&body, &limits), Ok(r));
    }

    #[test]
    fn hellos_round_trip(cluster in "[a-z]{1,20}", node in "[a-z0-9-]{1,20}", inc in any::<u64>(), caps in any::<u64>()) {
        let limits = Limits::default();
        let h = Hello { capabilities: caps, ..Hello::new(&cluster, &node, inc) };
        let mut body = Vec::new();
        h.encode(&limits, &mut body).expect("encode");
        prop_assert_eq!(Hello::decode(&body, &limits), Ok(h));
    }
}

#[test]
fn an_oversized_frame_is_refused_from_its_prefix_alone() {
    let limits = Limits {
        max_frame: 1 << 20,
        ..Limits::default()
    };
    let mut d = FrameDecoder::new(limits);
    d.push(&(1u32 << 30).to_be_bytes()); // announces 1 GiB
    assert_eq!(
        d.next_frame(),
        Err(WireError::FrameTooLarge {
            len: 1 << 30,
            max: 1 << 20
        })
    );
    assert!(d.buffered() <= 4, "nothing of the body was buffered");
    d.push(&[0; 16]);
    assert_eq!(
        d.next_frame(),
        Err(WireError::Poisoned),
        "the stream stays failed"
    );
    let mut out = Vec::new();
    assert!(matches!(
        encode_frame(FrameKind::Envelope, &vec![0; 1 << 20], &limits, &mut out),
        Err(WireError::FrameTooLarge { .. })
    ));
    assert!(out.is_empty(), "a refused frame writes nothing");
}

#[test]
fn a_partial_frame_waits_for_more_bytes() {
    let limits = Limits::default();
    let mut bytes = Vec::new();
    encode_frame(FrameKind::Ping, b"hello", &limits, &mut bytes).expect("encode");
    let mut d = FrameDecoder::new(limits);
    d.push(&bytes[..7]);
    assert_eq!(d.next_frame(), Ok(None));
    d.push(&bytes[7..]);
    assert_eq!(
        d.next_frame(),
        Ok(Some(Frame {
            kind: FrameKind::Ping,
            body: b"hello".to_vec()
        }))
    );
    assert_eq!(d.next_frame(), Ok(None));
}

#[test]
fn malformed_inputs_get_precise_errors() {
    let limits = Limits::default();
    let mut d = FrameDecoder::new(limits);
    d.push(&[0, 0, 0, 1, 99]);
    assert_eq!(d.next_frame(), Err(WireError::UnknownFrameKind(99)));
    let mut d = FrameDecoder::new(limits);
    d.push(&[0, 0, 0, 0]);
    assert_eq!(d.next_frame(), Err(WireError::EmptyFrame));

    let e = Envelope {
        recipient: 1,
        recipient_incarnation: 2,
        sender: None,
        tag: "t.v1".into(),
        correlation: None,
        timeout_ms: None,
        trace: None,
        payload: vec![1, 2, 3],
    };
    let mut body = Vec::new();
    e.encode(&limits, &mut body).expect("encode");
    let mut flagged = body.clone();
    flagged[0] |= 0x80;
    assert_eq!(
        Envelope::decode(&flagged, &limits),
        Err(WireError::UnknownFlags(0x80))
    );
    let mut trailing = body.clone();
    trailing.push(0);
    assert_eq!(
        Envelope::decode(&trailing, &limits),
        Err(WireError::TrailingBytes(1))
    );
    let long_tag = Envelope {
        tag: "x".repeat(limits.max_tag + 1),
        ..e.clone()
    };
    assert!(matches!(
        long_tag.encode(&limits, &mut Vec::new()),
        Err(WireError::TooLong {
            what: "message tag",
            ..
        })
    ));
    let mut bad_utf8 = body.clone();
    bad_utf8[19] = 0xff; // first byte of the tag
    assert_eq!(
        Envelope::decode(&bad_utf8, &limits),
        Err(WireError::BadUtf8("message tag"))
    );
    assert_eq!(
        Reply::decode(&[0, 0, 0, 0, 0, 0, 0, 1, 42], &limits),
        Err(WireError::UnknownReplyCode(42))
    );
}

#[test]
fn the_handshake_refuses_with_precise_reasons() {
    let limits = Limits::default();
    let ours = Hello::new("demo", "alpha", 7);
    assert_eq!(ours.admit(&Hello::new("demo", "beta", 1)), Ok(()));
    assert_eq!(
        ours.admit(&Hello::new("prod", "beta", 1)),
        Err(Refusal::ClusterMismatch {
            ours: "demo".into(),
            theirs: "prod".into()
        })
    );
    assert_eq!(
        ours.admit(&Hello::new("demo", "alpha", 8)),
        Err(Refusal::SameNode("alpha".into()))
    );
    // a peer from the future: its version is still read, so the refusal names it
    let mut future = Vec::new();
    future.extend_from_slice(&(PROTOCOL_VERSION + 1).to_be_bytes());
    future.extend_from_slice(b"some layout we do not know");
    let theirs = Hello::decode(&future, &limits).expect("version is readable");
    let refusal = ours.admit(&theirs).expect_err("refused");
    assert_eq!(
        refusal,
        Refusal::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: PROTOCOL_VERSION + 1
        }
    );
    let mut body = Vec::new();
    encode_reject(&refusal, &mut body).expect("encode");
    let text = decode_reject(&body).expect("decode");
    assert!(text.contains("protocol version mismatch"), "{text}");
}
