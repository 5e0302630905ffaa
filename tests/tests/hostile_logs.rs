//! Hostile peers, finding 6: what a peer can make the node log. Alone in
//! its test binary, because it installs a log subscriber (tracing caches
//! per call site whether anyone listens; tests on other threads without a
//! subscriber would race that cache).

use arbour::{net::PeerLimits, Node};
use arbour_testkit::{dial_echo, serve_echo, Ping, SkewedEcho, Unknown, ECHO};
use arbour_tests::attack::HalfOpen;
use arbour_tests::{bounded, bounded_for, run_local, test_node, LIMIT};
use std::time::Duration;

async fn victim(limits: PeerLimits) -> Node {
    let alpha = test_node("alpha")
        .limits(limits)
        .start()
        .await
        .expect("alpha starts");
    serve_echo(&alpha);
    alpha
}

fn frame(kind: arbour::wire::FrameKind, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    arbour::wire::encode_frame(kind, body, &arbour::wire::Limits::default(), &mut out)
        .expect("frame");
    out
}

/// A member's QUIC connection (raw quinn) sends `bytes` as its hello; the
/// reason the node's `Reject` frame gives.
async fn refusal(alpha: &Node, bytes: &[u8]) -> String {
    let ca = arbour::transport::ClusterCa::from_secret("test", "s3cret").expect("ca");
    let id = ca.issue("mallory", [5; 32]).expect("identity");
    let tls = ca.trust().expect("trust").client_config(&id).expect("tls");
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
    let conn = client
        .connect_with(
            quinn::ClientConfig::new(std::sync::Arc::new(quic)),
            alpha.net().local_addr().expect("addr"),
            "alpha",
        )
        .expect("connect");
    let conn = bounded("TLS", conn).await.expect("TLS passes");
    let (mut send, mut recv) = bounded("stream", conn.open_bi()).await.expect("stream");
    send.write_all(bytes).await.expect("write");
    let reply = bounded("the reject", recv.read_to_end(64 * 1024))
        .await
        .expect("read");
    let mut decoder = arbour::wire::FrameDecoder::new(arbour::wire::Limits::default());
    decoder.push(&reply);
    let reject = decoder.next_frame().expect("frame").expect("a whole frame");
    assert_eq!(reject.kind, arbour::wire::FrameKind::Reject);
    arbour::wire::decode_reject(&reject.body).expect("reason")
}

/// Log lines that a peer can provoke, as the node wrote them.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl CapturedLog {
    /// A log capturing this thread's lines until the guard drops.
    fn install() -> (Self, impl Drop) {
        use tracing_subscriber::util::SubscriberInitExt;
        let log = CapturedLog::default();
        let guard = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish()
            .set_default();
        (log, guard)
    }

    fn lines_with(&self, text: &str) -> usize {
        let log = self.0.lock().expect("log");
        String::from_utf8_lossy(&log)
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

/// Finding 6: a flood of what a peer can provoke costs a line per kind per
/// interval (10 s), not a line each, and every one is still counted.
#[test]
fn lines_a_peer_can_provoke_are_throttled_and_every_case_counted() {
    let (log, _guard) = CapturedLog::install();
    run_local(|| async {
        let alpha = victim(PeerLimits {
            unvalidated_handshakes: 4,
            handshake_timeout: Duration::from_millis(300),
            ..PeerLimits::default()
        })
        .await;
        let beta = test_node("beta").start().await.expect("beta");
        let addr = alpha.net().local_addr().expect("addr");
        let echo = bounded("dial echo", dial_echo(&beta, "alpha", addr, LIMIT))
            .await
            .expect("dial echo");
        let skewed = bounded("lookup", beta.lookup::<SkewedEcho>("alpha", ECHO, LIMIT))
            .await
            .expect("lookup");
        for i in 0..10_000 {
            skewed.tell(Unknown(i));
        }
        // the ask follows the tells on their lane
        assert_eq!(
            bounded("ask", echo.ask(Ping(1)).wait_if_full()).await,
            Ok(2)
        );
        assert_eq!(alpha.net().stats().undeliverable, 10_000);
        assert_eq!(log.lines_with("message from the wire not delivered"), 1);
        // 200 abandoned handshakes: a few held to their deadline, the rest
        // sent a Retry (at debug)
        let mut flood = HalfOpen::start(alpha.net().local_addr().expect("addr"), 200);
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            flood.ping();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stats = alpha.net().stats();
        assert!(stats.handshakes_timed_out >= 4, "{stats:?}");
        assert!(stats.handshakes_retried >= 100, "{stats:?}");
        assert_eq!(log.lines_with("handshake timed out"), 1);
        // finding 7: an envelope before the hello, and a hello whose name is
        // not UTF-8, are refused with the reason, logged and told the peer
        // (one line per kind of refusal and interval: the second, of the
        // same kind, is held back and counted in the next such line)
        let envelope = frame(arbour::wire::FrameKind::Envelope, b"x");
        let told = refusal(&alpha, &envelope).await;
        assert_eq!(told, "malformed handshake: expected hello, got Envelope");
        let mut hello = Vec::new();
        arbour::wire::Hello::new("test", "mallory", 1)
            .encode(&arbour::wire::Limits::default(), &mut hello)
            .expect("hello");
        let at = hello
            .windows(7)
            .position(|w| w == b"mallory")
            .expect("name");
        hello[at] = 0xff;
        let told = refusal(&alpha, &frame(arbour::wire::FrameKind::Hello, &hello)).await;
        assert!(
            told.starts_with("malformed handshake: ") && told.contains("UTF-8"),
            "{told}"
        );
        assert_eq!(
            log.lines_with("refusing the peer: malformed handshake: expected hello, got Envelope"),
            1
        );
        assert_eq!(
            log.lines_with("refusing the peer: malformed handshake: "),
            1
        );
        assert_eq!(log.lines_with("WARN"), 3, "one line per kind");
    });
}

/// Cluster-layer finding 10: the throttle was keyed by kind over all
/// peers, so one peer's flood hid another's lines, and the held-back count
/// was said only if the kind recurred. Now each peer has its own window,
/// and a closed window says what it held back.
#[test]
fn one_peers_flood_does_not_hide_anothers_lines_and_held_back_counts_are_said() {
    let (log, _guard) = CapturedLog::install();
    run_local(|| async {
        let alpha = victim(PeerLimits::default()).await;
        let addr = alpha.net().local_addr().expect("addr");
        let mut asks = Vec::new();
        for name in ["beta", "gamma"] {
            let peer = test_node(name).start().await.expect("peer");
            let echo = bounded("dial echo", dial_echo(&peer, "alpha", addr, LIMIT))
                .await
                .expect("dial echo");
            let skewed = bounded("lookup", peer.lookup::<SkewedEcho>("alpha", ECHO, LIMIT))
                .await
                .expect("lookup");
            for i in 0..1_000 {
                skewed.tell(Unknown(i));
            }
            assert_eq!(
                bounded("ask", echo.ask(Ping(1)).wait_if_full()).await,
                Ok(2)
            );
            asks.push(peer);
        }
        assert_eq!(alpha.net().stats().undeliverable, 2_000);
        assert_eq!(
            log.lines_with("message from the wire not delivered"),
            2,
            "one line for each peer"
        );
        // no more lines come: when the 10 s window closes, each says what
        // it held back
        bounded_for(
            Duration::from_secs(15),
            "the held-back counts are said",
            async {
                while log.lines_with("999 more lines of this kind from this source") < 2 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        )
        .await;
        drop(asks);
    });
}

/// A node with another cluster secret cannot join: it logs that it cannot,
/// naming itself and the seed, and the seed logs where it was.
#[test]
fn a_node_with_the_wrong_secret_cannot_join_and_is_named_in_the_log() {
    let (log, _guard) = CapturedLog::install();
    run_local(|| async {
        let alpha = test_node("alpha")
            .membership(arbour::cluster::MembershipConfig::default())
            .start()
            .await
            .expect("alpha starts");
        let addr = alpha.net().local_addr().expect("addr");
        let mallory = Node::builder("mallory")
            .cluster_name("test")
            .secret("not-the-secret")
            .seed_node("alpha", addr)
            .start()
            .await
            .expect("mallory starts");
        // a dial of its own gets the answer the seed gives its announces
        match bounded("mallory dials", mallory.net().connect("alpha", addr)).await {
            Err(arbour::NodeError::Refused { node, cause }) => {
                assert_eq!(node, "alpha");
                eprintln!("mallory is told: {cause}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let text = String::from_utf8_lossy(&log.0.lock().expect("log")).to_string();
        // mallory says it cannot join, naming itself and the seed
        let own = text
            .lines()
            .find(|l| l.contains("cannot join node alpha"))
            .unwrap_or_else(|| panic!("no line from mallory in\n{text}"));
        assert!(own.contains("node=mallory#"), "{own}");
        // the seed names where the refused node is (TLS 1.3: a client that
        // distrusts the seed aborts before presenting its certificate, so
        // the address is what the seed can know)
        let port = format!(":{}", mallory.net().local_addr().expect("addr").port());
        let seed_line = || {
            let text = String::from_utf8_lossy(&log.0.lock().expect("log")).to_string();
            text.lines()
                .find(|l| l.contains("refused our certificate") && l.contains(&port))
                .map(str::to_owned)
        };
        // the seed reads mallory's close after mallory has given up
        let seed = bounded("the seed logs the refused node", async {
            loop {
                if let Some(line) = seed_line() {
                    return line;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        eprintln!("seed: {seed}\nmallory: {own}");
        assert!(
            alpha.membership().members().is_empty(),
            "mallory did not join"
        );
        assert!(mallory.membership().members().is_empty());
        assert!(alpha.net().peers().is_empty());
    });
}
