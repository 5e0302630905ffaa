//! Two nodes in one process, talking over real QUIC on 127.0.0.1 (port 0):
//! remote tell, ask, refs inside messages, monitors, per-pair FIFO, and bad
//! input from the wire. Every wait is bounded.

use actix::prelude::*;
use arbour::{ActorRef, AskError, ExitReason, Node, TellError};
use arbour_testkit::{
    dial_echo, send_tallies, serve_echo, Crash, Delay, Echo, Fail, Hold, Ping, PingHeld, Report,
    SkewedEcho, Tally, Unknown, WrongShape, ECHO,
};
use arbour_tests::{bounded, run_local, test_node, DownForwarder, LIMIT};
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use std::future::IntoFuture;
use std::time::Duration;

async fn node(name: &str) -> Node {
    test_node(name).start().await.expect("node starts")
}

/// alpha serves an `Echo` exposed as "echo"; beta is connected to alpha
/// and holds a remote ref to it.
async fn pair() -> (Node, Node, ActorRef<Echo>, ActorRef<Echo>) {
    let alpha = node("alpha").await;
    let echo = serve_echo(&alpha);
    let (beta, remote) = beta_with_echo(&alpha).await;
    (alpha, beta, echo, remote)
}

/// A new node beta, connected to alpha, with its ref to alpha's "echo".
async fn beta_with_echo(alpha: &Node) -> (Node, ActorRef<Echo>) {
    let beta = node("beta").await;
    let addr = alpha.net().local_addr().expect("addr");
    let remote = bounded("dial echo", dial_echo(&beta, "alpha", addr, LIMIT))
        .await
        .expect("dial echo");
    (beta, remote)
}

#[test]
fn remote_tell_and_ask_use_the_same_api_as_local() {
    run_local(|| async {
        let (alpha, _beta, echo, remote) = pair().await;
        assert_eq!(
            remote.id(),
            echo.id(),
            "the remote ref names the same actor"
        );
        assert_eq!(bounded("ask", remote.ask(Ping(41))).await, Ok(42));
        for seq in 1..=10 {
            remote.tell(Tally { sender: 7, seq });
        }
        let report = bounded("report", remote.ask(Report)).await.expect("report");
        assert_eq!(report.received, 10);
        assert_eq!(report.last, vec![(7, 10)]);
        assert_eq!(alpha.stats().dead_letters, 0);
    });
}

/// Several senders interleave 100k tells to one remote actor; each sender's
/// messages arrive in the order sent.
#[test]
fn fifo_per_sender_receiver_pair_over_100k_messages() {
    run_local(|| async {
        let (_alpha, _beta, _echo, remote) = pair().await;
        const PER_SENDER: u64 = 25_000;
        const SENDERS: u32 = 4;
        bounded("senders", send_tallies(&remote, SENDERS, PER_SENDER))
            .await
            .expect("sent");
        let report = bounded("report", remote.ask(Report)).await.expect("report");
        assert_eq!(report.received, PER_SENDER * u64::from(SENDERS));
        assert_eq!((report.out_of_order, report.gaps), (0, 0), "per-pair FIFO");
        assert_eq!(
            report.last,
            (0..SENDERS).map(|s| (s, PER_SENDER)).collect::<Vec<_>>()
        );
    });
}

/// Past the outbound cap a plain tell is dropped, and counted: memory stays
/// bounded when a peer cannot keep up.
#[test]
fn past_the_outbound_cap_a_tell_is_dropped_and_counted() {
    run_local(|| async {
        let alpha = node("alpha").await;
        serve_echo(&alpha);
        let beta = test_node("beta")
            .outbound_cap(64 * 1024)
            .start()
            .await
            .expect("beta");
        let addr = alpha.net().local_addr().expect("addr");
        let remote = bounded("dial echo", dial_echo(&beta, "alpha", addr, LIMIT))
            .await
            .expect("dial echo");
        const BURST: u64 = 100_000;
        for seq in 1..=BURST {
            remote.tell(Tally { sender: 0, seq });
        }
        let dropped = beta.stats().outbound_drops;
        assert!(dropped > 0, "a 64 KiB cap holds fewer than {BURST} tells");
        let report = bounded("report", remote.ask(Report).wait_if_full())
            .await
            .expect("report");
        assert_eq!(
            report.received + dropped,
            BURST,
            "each tell arrived or was counted"
        );
        assert_eq!(report.out_of_order, 0, "what arrives keeps its order");
    });
}

/// Counts the tallies it handles into a counter the test reads after the
/// actor is gone.
struct Counting(std::sync::Arc<std::sync::atomic::AtomicU64>);
impl Actor for Counting {
    type Context = Context<Self>;
}
impl Handler<Tally> for Counting {
    type Result = ();
    fn handle(&mut self, _: Tally, _: &mut Context<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
arbour::remote_actor!(Counting { Tally });

/// Per sender→receiver order covers signals (Erlang's guarantee): a `stop`
/// sent after 10,000 tells is handled after all of them, round after round.
#[test]
fn a_remote_stop_never_overtakes_the_tells_sent_before_it() {
    run_local(|| async {
        let (alpha, beta, _echo, _remote) = pair().await;
        const TELLS: u64 = 10_000;
        let (watcher, mut downs) = DownForwarder::start_new();
        for round in 0..100 {
            let handled = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let actor = alpha.spawn(Counting(handled.clone()));
            let name = format!("counting-{round}");
            alpha.expose(&name, &actor).expect("expose");
            alpha.allow_remote_stop(&actor).expect("allow remote stop");
            let remote = bounded("lookup", beta.lookup::<Counting>("alpha", &name, LIMIT))
                .await
                .expect("lookup");
            let _m = remote.monitor(watcher.clone().recipient());
            for seq in 1..=TELLS {
                remote.tell(Tally { sender: 0, seq });
            }
            remote.stop();
            let down = bounded("down", downs.recv()).await.expect("Down");
            assert_eq!(down.reason, ExitReason::Shutdown, "round {round}");
            assert_eq!(
                handled.load(std::sync::atomic::Ordering::Relaxed),
                TELLS,
                "round {round}: every tell handled before the stop"
            );
        }
        assert_eq!(beta.stats().outbound_drops, 0);
    });
}

/// A monitor set just before a crash is in place when the crash arrives:
/// it fires with the panic, never with `NoActor`.
#[test]
fn a_monitor_set_before_a_remote_crash_always_fires_with_the_panic() {
    run_local(|| async {
        let (alpha, beta, _echo, _remote) = pair().await;
        let (watcher, mut downs) = DownForwarder::start_new();
        for round in 0..100 {
            let actor = alpha.spawn(Echo::default());
            let name = format!("victim-{round}");
            alpha.expose(&name, &actor).expect("expose");
            let remote = bounded("lookup", beta.lookup::<Echo>("alpha", &name, LIMIT))
                .await
                .expect("lookup");
            let _m = remote.monitor(watcher.clone().recipient());
            remote.tell(Crash(format!("round {round}")));
            let down = bounded("down", downs.recv()).await.expect("Down");
            assert!(
                matches!(&down.reason, ExitReason::Panic(m) if m.contains(&format!("round {round}"))),
                "round {round}: {down:?}"
            );
        }
    });
}

/// A peer cannot make a node hold more monitors than it allows: past the
/// cap a monitor is refused, and its `Down` says so at once; the ones held
/// go when the connection does.
#[test]
fn a_peers_monitors_are_bounded() {
    run_local(|| async {
        let alpha = test_node("alpha")
            .max_peer_monitors(3)
            .start()
            .await
            .expect("alpha");
        serve_echo(&alpha);
        let (beta, remote) = beta_with_echo(&alpha).await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _monitors: Vec<_> = (0..5)
            .map(|_| remote.monitor(watcher.clone().recipient()))
            .collect();
        for _ in 0..2 {
            let down = bounded("refusal", downs.recv()).await.expect("Down");
            assert!(
                matches!(&down.reason, ExitReason::Error(m) if m.contains("monitor refused")),
                "{down:?}"
            );
        }
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        let stats = alpha.net().stats();
        assert_eq!((stats.peer_monitors, stats.monitors_refused), (3, 2));
        // the three held ones still work
        remote.tell(Crash("boom".into()));
        for _ in 0..3 {
            let down = bounded("down", downs.recv()).await.expect("Down");
            assert!(matches!(&down.reason, ExitReason::Panic(_)), "{down:?}");
        }
        assert_eq!(alpha.net().stats().peer_monitors, 0);
        drop(beta);
    });
}

/// A ref travels to another node and back: away it is remote, at home it
/// is the local ref again.
#[test]
fn a_ref_in_a_message_round_trips_and_resolves_home_to_local() {
    run_local(|| async {
        let (_alpha, beta, _echo, remote) = pair().await;
        let mine = beta.spawn(Echo::default());
        assert_eq!(
            bounded("hold", remote.ask(Hold(mine.clone()))).await,
            Ok(None)
        );
        // alpha uses the ref it got: a remote ask from alpha to beta
        assert_eq!(
            bounded("ping held", remote.ask(PingHeld(9))).await,
            Ok(Some(10))
        );
        // and hands it back: it resolves to beta's local actor
        let back = bounded("hold again", remote.ask(Hold(mine.clone())))
            .await
            .expect("reply")
            .expect("the held ref");
        assert_eq!(back, mine);
        assert!(back.is_alive());
        assert_eq!(bounded("local ask", back.ask(Ping(1))).await, Ok(2));
    });
}

#[test]
fn a_monitor_of_a_remote_actor_reports_its_panic_and_its_exit_reason() {
    run_local(|| async {
        let (alpha, beta, _echo, remote) = pair().await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = remote.monitor(watcher.clone().recipient());
        // an ask first, so the crash below hits a running actor
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        remote.tell(Crash("boom".into()));
        let down = bounded("down", downs.recv()).await.expect("a Down");
        assert_eq!(&down.id, remote.id());
        assert!(
            matches!(&down.reason, ExitReason::Panic(m) if m.contains("boom")),
            "{down:?}"
        );
        // an ask to the dead actor fails with the reason
        assert!(matches!(
            bounded("ask dead", remote.ask(Ping(1))).await,
            Err(AskError::ActorGone(_) | AskError::Panicked(_))
        ));

        let other = alpha.spawn(Echo::default());
        alpha.expose("other", &other).expect("expose");
        let other_remote = bounded("lookup", beta.lookup::<Echo>("alpha", "other", LIMIT))
            .await
            .expect("lookup");
        let _m2 = other_remote.monitor(watcher.clone().recipient());
        assert_eq!(bounded("ping", other_remote.ask(Ping(0))).await, Ok(1));
        other_remote.tell(Fail("bad state".into()));
        let down = bounded("down 2", downs.recv()).await.expect("a Down");
        assert_eq!(down.reason, ExitReason::Error("bad state".into()));
    });
}

/// A monitor outlives the connection it was set on when a newer
/// connection to the same life replaces it (a simultaneous dial decided
/// late): the `Down` follows the peer, not the connection. (It went out on
/// the replaced connection, closed 2 s after the replacement, and was lost:
/// a supervisor missed its remote children's exits.)
#[test]
fn a_monitor_fires_after_its_connection_was_replaced_by_one_to_the_same_life() {
    run_local(|| async {
        // beta dials alpha first; alpha's later dial replaces it on both
        // sides (within one life, the smaller name's dial wins)
        let (alpha, beta, _echo, remote) = pair().await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = remote.monitor(watcher.recipient());
        // the ask follows the monitor on its lane: alpha holds the watch
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        let beta_addr = beta.net().local_addr().expect("addr");
        bounded("alpha dials beta", alpha.net().connect("beta", beta_addr))
            .await
            .expect("a second connection");
        // the replaced connection drains, then closes on both sides
        arbour_tests::eventually(
            "the old connection closed",
            Duration::from_millis(20),
            || {
                alpha.net().stats().connections_open == 1
                    && beta.net().stats().connections_open == 1
            },
        )
        .await;
        remote.tell(Fail("after the replacement".into()));
        let down = bounded("down", downs.recv()).await.expect("a Down");
        assert_eq!(&down.id, remote.id());
        assert_eq!(
            down.reason,
            ExitReason::Error("after the replacement".into())
        );
    });
}

#[test]
fn a_lost_connection_fails_pending_asks_and_fires_monitors_with_node_down() {
    run_local(|| async {
        let (alpha, _beta, _echo, remote) = pair().await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = remote.monitor(watcher.clone().recipient());
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        alpha.shutdown_network();
        let down = bounded("down", downs.recv()).await.expect("a Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
        assert!(matches!(
            bounded("ask", remote.ask(Ping(2))).await,
            Err(AskError::NodeDown(_))
        ));
        assert!(matches!(
            remote.try_tell(Ping(3)),
            Err(TellError::NodeDown(_))
        ));
    });
}

#[test]
fn an_unknown_tag_and_an_undecodable_payload_get_precise_errors_and_the_node_keeps_serving() {
    run_local(|| async {
        let (alpha, beta, _echo, remote) = pair().await;
        let skewed = bounded("lookup", beta.lookup::<SkewedEcho>("alpha", "echo", LIMIT))
            .await
            .expect("lookup");
        assert_eq!(
            bounded("unknown", skewed.ask(Unknown(1))).await,
            Err(AskError::UnknownMessage(
                "probe.nobody_accepts_this.v1".into()
            ))
        );
        assert!(matches!(
            bounded(
                "bad payload",
                skewed.ask(WrongShape("a".into(), "b".into()))
            )
            .await,
            Err(AskError::Decode(_))
        ));
        skewed.tell(Unknown(2));
        // still serving, on the same connection
        assert_eq!(bounded("ask", remote.ask(Ping(5))).await, Ok(6));
        assert_eq!(alpha.net().stats().undeliverable, 3);
        // a message type the actor does not declare cannot even be sent
        #[derive(Message)]
        #[rtype(result = "()")]
        struct LocalOnly;
        impl Handler<LocalOnly> for Echo {
            type Result = ();
            fn handle(&mut self, _: LocalOnly, _: &mut Context<Self>) {}
        }
        assert!(matches!(
            remote.try_tell(LocalOnly),
            Err(TellError::Encode(..))
        ));
    });
}

#[test]
fn an_ask_past_its_deadline_times_out_and_its_late_reply_is_counted() {
    run_local(|| async {
        let (_alpha, beta, _echo, remote) = pair().await;
        // the actor answers after 300 ms; the ask gives up after 30 ms
        let timeout = Duration::from_millis(30);
        let r = bounded("ask", remote.ask(Delay(300)).timeout(timeout)).await;
        assert_eq!(r, Err(AskError::Timeout(timeout)));
        // the reply still arrives, finds nobody waiting, and is counted;
        // meanwhile the connection serves other asks
        until_a_late_reply(&beta, &remote).await;
        assert_eq!(
            beta.net().stats().late_replies,
            1,
            "{:?}",
            beta.net().stats()
        );
    });
}

/// Waits (bounded) until `node` has counted a late reply, asking `remote`
/// meanwhile (which also shows the connection keeps serving).
async fn until_a_late_reply(node: &Node, remote: &ActorRef<Echo>) {
    bounded("a late reply is counted", async {
        while node.net().stats().late_replies == 0 {
            assert_eq!(bounded("ask", remote.ask(Ping(2))).await, Ok(3));
        }
    })
    .await
}

/// The serving node gives up at the asker's own deadline (the envelope
/// carries it), so the caller hears its own timeout and the served ask ends
/// then, not at some fixed server-side bound.
#[test]
fn a_remote_timeout_is_the_callers_deadline_on_both_nodes() {
    run_local(|| async {
        let (_alpha, beta, _echo, remote) = pair().await;
        let timeout = Duration::from_millis(200);
        // the handler would answer after 60 s
        let r = bounded("ask", remote.ask(Delay(60_000)).timeout(timeout)).await;
        assert_eq!(r, Err(AskError::Timeout(timeout)));
        // alpha stops serving it at the same deadline and says so: the answer
        // arrives late (nobody waits any more) long before the handler's 60 s
        until_a_late_reply(&beta, &remote).await;
    });
}

/// `Duration::MAX` means "wait as long as it takes", never an overflow.
#[test]
fn a_duration_max_timeout_saturates() {
    run_local(|| async {
        let (alpha, beta, echo, remote) = pair().await;
        let forever = Duration::MAX;
        assert_eq!(
            bounded("remote ask", remote.ask(Ping(1)).timeout(forever)).await,
            Ok(2)
        );
        assert_eq!(
            bounded(
                "local ask",
                echo.ask(Ping(2)).timeout(forever).wait_if_full()
            )
            .await,
            Ok(3)
        );
        let again = bounded("lookup", beta.lookup::<Echo>("alpha", ECHO, forever))
            .await
            .expect("lookup");
        assert_eq!(
            bounded("ask", again.ask(Ping(3)).timeout(forever)).await,
            Ok(4)
        );
        assert!(bounded("wait", beta.net().wait_for("alpha", forever)).await);
        drop(alpha);
    });
}

/// An exit reason crosses the wire as itself (serde), not as text.
#[test]
fn an_exit_reason_crosses_the_wire_typed() {
    run_local(|| async {
        let (_alpha, _beta, _echo, remote) = pair().await;
        // both go out in one batch, in order: the ask is queued behind the
        // message that stops the actor, and dies with it
        remote.tell(Fail("bad state: x=1, y=\"two\"".into()));
        let pending = remote.ask(Ping(1)).into_future();
        assert_eq!(
            bounded("pending ask", pending).await,
            Err(AskError::ActorGone(ExitReason::Error(
                "bad state: x=1, y=\"two\"".into()
            )))
        );
    });
}

/// A message that cannot be put on the wire is an encode failure, said
/// before anything is sent; the node that would have received it sees
/// nothing.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
struct Unencodable;
impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}
impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Unencodable)
    }
}
arbour::remote_message!(Unencodable => "test.unencodable.v1");
#[derive(Debug)]
struct PickyEcho;
impl Actor for PickyEcho {
    type Context = Context<Self>;
}
impl Handler<Unencodable> for PickyEcho {
    type Result = u64;
    fn handle(&mut self, _: Unencodable, _: &mut Context<Self>) -> u64 {
        0
    }
}
arbour::remote_actor!(PickyEcho { Unencodable });

#[test]
fn an_encode_failure_is_not_a_decode_failure() {
    run_local(|| async {
        let (alpha, beta, _echo, _remote) = pair().await;
        let picky = bounded("lookup", beta.lookup::<PickyEcho>("alpha", ECHO, LIMIT))
            .await
            .expect("lookup");
        let r = bounded("ask", picky.ask(Unencodable)).await;
        assert!(
            matches!(&r, Err(AskError::Encode(m)) if m.contains("refuses to be encoded")),
            "{r:?}"
        );
        assert!(matches!(
            picky.try_tell(Unencodable),
            Err(TellError::Encode(_, _))
        ));
        assert_eq!(alpha.net().stats().undeliverable, 0, "nothing was sent");
    });
}

/// A raw endpoint of cluster "test" holding a valid certificate for
/// "mallory" whose hello claims to be `claims`.
fn raw_member(claims: &str) -> arbour::transport::Endpoint {
    use arbour::transport::{ClusterCa, Endpoint};
    let ca = ClusterCa::from_secret("test", "s3cret").expect("ca");
    let id = ca.issue("mallory", [9; 32]).expect("identity");
    let hello = arbour::wire::Hello::new("test", claims, 9);
    Endpoint::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &ca.trust().expect("trust"),
        &id,
        hello,
    )
    .expect("bind")
}

/// A raw peer that passes TLS and the handshake, then sends `bytes` on a
/// data stream: the node closes that connection with a protocol error and
/// keeps serving everyone else.
async fn misbehave(alpha: &Node, bytes: &[u8]) -> quinn::ConnectionError {
    let ep = raw_member("mallory");
    let peer = bounded(
        "mallory connects",
        ep.connect(alpha.net().local_addr().expect("addr"), "alpha"),
    )
    .await
    .expect("handshake passes");
    let conn = peer.connection().clone();
    let mut s = conn.open_uni().await.expect("stream");
    s.write_all(bytes).await.expect("write");
    s.finish().expect("finish");
    bounded("the node closes the connection", conn.closed()).await
}

/// A member may open only the streams arbour uses: one bidirectional
/// stream (the control lane, already open after the handshake) and at most
/// 48 unidirectional ones at a time. quinn's defaults let a peer open 100
/// of each, every one buffering up to 2 MiB.
#[test]
fn a_member_cannot_open_streams_arbour_does_not_use() {
    run_local(|| async {
        let (alpha, _beta, _echo, remote) = pair().await;
        let ep = raw_member("mallory");
        let peer = bounded(
            "mallory connects",
            ep.connect(alpha.net().local_addr().expect("addr"), "alpha"),
        )
        .await
        .expect("handshake passes");
        let conn = peer.connection().clone();
        // the limits come with the handshake's transport parameters, so an
        // open past them is refused at once, not after some wait
        assert!(
            conn.open_bi().now_or_never().is_none(),
            "a second bidirectional stream"
        );
        let mut uni = Vec::new();
        while let Some(s) = conn.open_uni().now_or_never() {
            uni.push(s.expect("stream"));
            assert!(uni.len() <= 48, "more than 48 unidirectional streams");
        }
        assert_eq!(uni.len(), 48);
        // the node keeps serving its real peer
        assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2));
    });
}

#[test]
fn a_member_claiming_another_nodes_name_is_refused() {
    run_local(|| async {
        let (alpha, _beta, _echo, remote) = pair().await;
        let ep = raw_member("beta");
        let r = bounded(
            "mallory connects as beta",
            ep.connect(alpha.net().local_addr().expect("addr"), "alpha"),
        )
        .await;
        match r {
            Err(arbour::transport::TransportError::Refused {
                by_peer: true,
                reason,
                ..
            }) => {
                assert!(reason.contains("identity mismatch"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // the real beta keeps its connection
        assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2));
    });
}

#[test]
fn a_peer_that_connects_and_says_nothing_is_dropped_after_the_handshake_timeout() {
    run_local(|| async {
        let alpha = test_node("alpha")
            .handshake_timeout(Duration::from_millis(500))
            .start()
            .await
            .expect("alpha starts");
        serve_echo(&alpha);
        let addr = alpha.net().local_addr().expect("addr");
        // QUIC and TLS complete, then silence: no control stream, no hello
        let silent = raw_member("mallory");
        let conn = bounded("TLS", silent.quic().connect(addr, "alpha").expect("dial"))
            .await
            .expect("TLS completes");
        // a well-behaved peer is served meanwhile
        let (_beta, remote) = beta_with_echo(&alpha).await;
        assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2));
        match bounded("the silent peer is dropped", conn.closed()).await {
            quinn::ConnectionError::ApplicationClosed(c) => {
                assert_eq!(&c.reason[..], b"handshake timeout")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            alpha.net().peers().len(),
            1,
            "only beta: {:?}",
            alpha.net().peers()
        );
    });
}

#[test]
fn garbage_truncated_and_oversized_frames_close_only_the_offending_connection() {
    run_local(|| async {
        let (alpha, _beta, _echo, remote) = pair().await;
        let mut oversized = (64u32 * 1024 * 1024).to_be_bytes().to_vec();
        oversized.extend_from_slice(&[4; 64]);
        let mut truncated = 100u32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[4, 0, 0]);
        let cases: [(&str, Vec<u8>, &str); 4] = [
            (
                "garbage",
                b"\x00\x00\x00\x05\xffhello, node".to_vec(),
                "unknown frame kind",
            ),
            ("oversized", oversized, "exceeds the limit"),
            ("truncated", truncated, "ended inside a frame"),
            (
                "bad envelope",
                b"\x00\x00\x00\x03\x04\xff\xff".to_vec(),
                "flags",
            ),
        ];
        for (what, bytes, why) in cases {
            let closed = misbehave(&alpha, &bytes).await;
            match &closed {
                quinn::ConnectionError::ApplicationClosed(c) => {
                    let reason = String::from_utf8_lossy(&c.reason);
                    assert!(reason.contains(why), "{what}: closed with {reason:?}");
                }
                other => panic!("{what}: {other:?}"),
            }
            // the node still serves its good peer
            assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2), "{what}");
        }
    });
}
