//! Two nodes as two OS processes: `arbour serve` runs alpha (exposing a
//! probe `Echo` as "echo"); this test process runs beta and talks to it over
//! real QUIC on 127.0.0.1 (port 0). Every wait is bounded.

use arbour::{net::Misconfiguration, ActorRef, AskError, ExitReason, Node, NodeError};
use arbour_testkit::{dial_echo, send_tallies, Crash, Echo, Hold, Ping, PingHeld, Report};
use arbour_tests::{arbour_bin, bounded, run_arbour, run_local, test_node, DownForwarder, LIMIT};
use std::ffi::OsStr;
use std::future::IntoFuture;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running `arbour serve`; killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Where its log (stderr) goes.
    log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Served {
    /// Waits (bounded) until the node's log has a line containing `needle`.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the node never logged {needle:?}; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `arbour serve` as node alpha of cluster "test", with `security` flags
/// (`--secret …`, or `--ca … --cert … --key …`).
fn serve<S: AsRef<OsStr>>(security: &[S]) -> Served {
    serve_as("alpha", security)
}

/// `arbour serve` as node `name` of cluster "test", with `flags`.
fn serve_as<S: AsRef<OsStr>>(name: &str, flags: &[S]) -> Served {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let log = std::env::temp_dir().join(format!(
        "arbour-serve-{}-{}.log",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let mut child = Command::new(arbour_bin())
        .args(["serve", "--name", name, "--cluster", "test"])
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn arbour serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("listening ") {
                let _ = tx.send(a.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(LIMIT)
        .expect("arbour serve printed its address")
        .parse()
        .expect("an address");
    Served { child, addr, log }
}

/// beta, connected to alpha, and its remote ref to alpha's "echo".
async fn connect_to_echo(alpha: SocketAddr) -> (Node, ActorRef<Echo>) {
    let beta = beta("s3cret").await;
    let echo = bounded("dial echo", dial_echo(&beta, "alpha", alpha, LIMIT))
        .await
        .expect("dial echo");
    (beta, echo)
}

async fn beta(secret: &str) -> Node {
    Node::builder("beta")
        .cluster_name("test")
        .secret(secret)
        .start()
        .await
        .expect("beta starts")
}

#[test]
fn tell_ask_refs_fifo_and_monitors_across_two_processes() {
    let alpha = serve(&["--secret", "s3cret"]);
    run_local(|| async move {
        let (beta, echo) = connect_to_echo(alpha.addr).await;
        assert_eq!(echo.id().node.name.as_ref(), "alpha");

        // ask and tell
        assert_eq!(bounded("ask", echo.ask(Ping(1))).await, Ok(2));

        // FIFO per pair: 4 senders interleave 100k tells
        const PER_SENDER: u64 = 25_000;
        bounded("senders", send_tallies(&echo, 4, PER_SENDER))
            .await
            .expect("sent");
        let report = bounded("report", echo.ask(Report).wait_if_full())
            .await
            .expect("report");
        assert_eq!(report.received, 4 * PER_SENDER);
        assert_eq!((report.out_of_order, report.gaps), (0, 0));

        // a ref to a beta actor goes to alpha, is used there, and comes home
        let mine = beta.spawn(Echo::default());
        assert_eq!(
            bounded("hold", echo.ask(Hold(mine.clone()))).await,
            Ok(None)
        );
        assert_eq!(
            bounded("ping held", echo.ask(PingHeld(41))).await,
            Ok(Some(42))
        );
        let back = bounded("back", echo.ask(Hold(mine.clone())))
            .await
            .expect("reply")
            .expect("held");
        assert_eq!(back, mine);

        // a monitor sees the remote actor's panic
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = echo.monitor(watcher.recipient());
        assert_eq!(bounded("ping", echo.ask(Ping(0))).await, Ok(1));
        echo.tell(Crash("remote boom".into()));
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert!(
            matches!(&down.reason, ExitReason::Panic(m) if m.contains("remote boom")),
            "{down:?}"
        );
        assert!(bounded("dead", echo.ask(Ping(2))).await.is_err());
    });
}

#[test]
fn a_killed_process_fails_pending_asks_and_monitors_with_node_down() {
    let mut alpha = serve(&["--secret", "s3cret"]);
    run_local(|| async move {
        let (_beta, echo) = connect_to_echo(alpha.addr).await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = echo.monitor(watcher.recipient());
        assert_eq!(bounded("ping", echo.ask(Ping(0))).await, Ok(1));
        // an ask that will never be answered: the process is killed meanwhile
        let pending = echo
            .ask(arbour_testkit::Delay(60_000))
            .timeout(Duration::from_secs(60));
        alpha.child.kill().expect("kill alpha");
        let r = bounded("pending ask", pending).await;
        assert!(matches!(r, Err(AskError::NodeDown(_))), "{r:?}");
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
    });
}

/// Sends `signal` (e.g. "TERM") to the process.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// beta (whose silent peers count as lost after `idle`), connected to the
/// node at `alpha`, monitoring its echo (the monitor in place: an ask has
/// come back behind it); the `Down`s arrive on the receiver.
async fn watch_echo(
    alpha: SocketAddr,
    idle: Duration,
) -> (
    Node,
    ActorRef<Echo>,
    tokio::sync::mpsc::UnboundedReceiver<arbour::Down>,
) {
    let beta = test_node("beta")
        .idle_timeout(idle)
        .keep_alive(idle / 4)
        .start()
        .await
        .expect("beta");
    let echo = bounded("dial echo", dial_echo(&beta, "alpha", alpha, LIMIT))
        .await
        .expect("dial echo");
    let (watcher, downs) = DownForwarder::start_new();
    let _m = echo.monitor(watcher.recipient());
    assert_eq!(bounded("ping", echo.ask(Ping(0))).await, Ok(1));
    (beta, echo, downs)
}

/// SIGTERM: the node shuts down gracefully and says goodbye, so this side's
/// monitors fire with `Shutdown` and its pending ask fails with
/// `NodeShutdown` at once. Both sides' idle timeouts are two minutes: only
/// the goodbye can explain a prompt notice.
#[test]
fn a_sigterm_is_a_graceful_shutdown_that_peers_see_at_once() {
    let mut alpha = serve(&["--secret", "s3cret", "--idle-timeout-ms", "120000"]);
    run_local(|| async {
        let (_beta, echo, mut downs) = watch_echo(alpha.addr, Duration::from_secs(120)).await;
        let pending = echo
            .ask(arbour_testkit::Delay(60_000))
            .timeout(Duration::from_secs(60))
            .into_future();
        let sent = Instant::now();
        signal(&alpha.child, "TERM");
        let down = bounded("down", downs.recv()).await.expect("Down");
        let noticed = sent.elapsed();
        assert_eq!(down.reason, ExitReason::Shutdown);
        let r = bounded("pending ask", pending).await;
        assert!(matches!(r, Err(AskError::NodeShutdown(_))), "{r:?}");
        println!("sigterm.peer_notice_ms {}", noticed.as_millis());
    });
    let status = alpha.child.wait().expect("alpha exits");
    assert!(status.success(), "a graceful exit: {status}");
}

/// SIGKILL: no goodbye; the peer notices through the idle timeout it was
/// configured with (500 ms here, against a default of 3 s).
#[test]
fn a_sigkill_is_noticed_through_the_configured_idle_timeout() {
    let mut alpha = serve(&["--secret", "s3cret", "--idle-timeout-ms", "500"]);
    run_local(|| async {
        let (_beta, _echo, mut downs) = watch_echo(alpha.addr, Duration::from_millis(500)).await;
        let killed = Instant::now();
        alpha.child.kill().expect("kill alpha");
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
        let noticed = killed.elapsed();
        assert!(
            noticed < Duration::from_millis(2_500),
            "noticed after {noticed:?}: the 500 ms idle timeout, not the 3 s default"
        );
    });
}

#[test]
fn a_node_with_the_wrong_secret_is_refused_with_the_reason_logged_on_both_sides() {
    let alpha = serve(&["--secret", "s3cret"]);
    run_local(|| async {
        let mallory = beta("guess").await;
        let r = bounded("connect", mallory.net().connect("alpha", alpha.addr)).await;
        assert!(
            matches!(
                &r,
                Err(NodeError::Refused {
                    cause: Misconfiguration::ForeignCa,
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(mallory.net().peers().is_empty());
    });
    // the same from a process, whose log shows the dialing side's view
    let peer = format!("alpha={}", alpha.addr);
    let mallory = serve_as("mallory", &["--secret", "guess", "--peer", &peer]);
    for (side, node) in [("dialer", &mallory), ("listener", &alpha)] {
        let line = node.wait_for_log("TLS handshake failed");
        assert!(line.contains("UnknownIssuer"), "{side}: {line}");
    }
}

/// A scratch directory of certificates made by `arbour certs`.
struct Certs(PathBuf);

impl Certs {
    fn make(name: &str, nodes: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("arbour-certs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.to_str().expect("utf-8 path");
        let mut args = vec!["certs", "--cluster", "test", "--out", out];
        args.extend_from_slice(nodes);
        let run = run_arbour(&args, LIMIT);
        assert!(run.status.success(), "arbour certs: {}", run.stderr);
        Self(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_owned()
    }

    /// `arbour serve` flags for `node`.
    fn flags(&self, node: &str) -> Vec<String> {
        self.files_as_flags(["ca.crt", &format!("{node}.crt"), &format!("{node}.key")])
    }

    /// `--ca`, `--cert` and `--key` flags naming these files of the directory.
    fn files_as_flags(&self, [ca, cert, key]: [&str; 3]) -> Vec<String> {
        vec![
            "--ca".into(),
            self.file(ca),
            "--cert".into(),
            self.file(cert),
            "--key".into(),
            self.file(key),
        ]
    }

    async fn node(&self, node: &str) -> Result<Node, arbour::NodeError> {
        Node::builder(node)
            .cluster_name("test")
            .tls_files(
                self.file("ca.crt"),
                self.file(&format!("{node}.crt")),
                self.file(&format!("{node}.key")),
            )
            .start()
            .await
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn nodes_with_certificate_files_talk_and_a_member_of_another_ca_is_refused_on_both_sides() {
    let ours = Certs::make("ours", &["alpha", "beta"]);
    let theirs = Certs::make("theirs", &["mallory"]);
    let alpha = serve(&ours.flags("alpha"));
    run_local(|| async {
        let beta = ours.node("beta").await.expect("beta starts");
        let echo = bounded("dial echo", dial_echo(&beta, "alpha", alpha.addr, LIMIT))
            .await
            .expect("beta connects");
        assert_eq!(bounded("ask", echo.ask(Ping(1))).await, Ok(2));

        let mallory = theirs.node("mallory").await.expect("mallory starts");
        let refused = bounded(
            "mallory connects",
            mallory.net().connect("alpha", alpha.addr),
        )
        .await
        .expect_err("refused");
        assert!(
            refused.to_string().contains("not from our CA"),
            "mallory's side names the reason: {refused}"
        );
        assert!(mallory.net().peers().is_empty());
        // beta is still served
        assert_eq!(bounded("ask", echo.ask(Ping(2))).await, Ok(3));
    });
    // mallory as a process: both logs name the reason
    let mut flags = theirs.flags("mallory");
    flags.extend(["--peer".into(), format!("alpha={}", alpha.addr)]);
    let mallory = serve_as("mallory", &flags);
    for (side, node) in [("dialer", &mallory), ("listener", &alpha)] {
        let line = node.wait_for_log("TLS handshake failed");
        assert!(line.contains("UnknownIssuer"), "{side}: {line}");
    }
}

#[test]
fn a_node_with_unusable_certificate_files_does_not_start_and_says_why() {
    let certs = Certs::make("unusable", &["alpha", "beta"]);
    // beta's files under alpha's name, a missing key, and a CA that is a key
    let cases = [
        (
            "another node's certificate",
            ["ca.crt", "beta.crt", "beta.key"],
            "not valid for name \"alpha\"",
        ),
        (
            "a missing key file",
            ["ca.crt", "alpha.crt", "nope.key"],
            "nope.key",
        ),
        (
            "a key where the CA should be",
            ["ca.key", "alpha.crt", "alpha.key"],
            "ca.key: no CERTIFICATE block",
        ),
    ];
    for (what, files, reason) in cases {
        let flags = certs.files_as_flags(files);
        let mut args = vec!["serve", "--name", "alpha", "--cluster", "test"];
        args.extend(flags.iter().map(String::as_str));
        let run = run_arbour(&args, LIMIT);
        assert_eq!(run.status.code(), Some(2), "{what}: {run:?}");
        assert!(run.stderr.contains(reason), "{what}: {}", run.stderr);
        assert!(!run.stdout.contains("listening"), "{what}");
    }
}

/// Each misconfiguration is told by `lookup` as its own error, from this
/// node's point of view, within 2 s (it used to wait out the whole timeout
/// and say `NotConnected`, the cause only in WARN lines).
#[test]
fn each_misconfiguration_is_told_by_lookup_as_its_own_error_in_under_two_seconds() {
    let alpha = serve(&["--secret", "s3cret"]);
    let skewed = serve_as("alpha", &["--secret", "s3cret", "--protocol-version", "9"]);
    let foreign = Certs::make("foreign", &["mallory"]);
    run_local(|| async {
        let secret = |cluster: &str, secret: &str| {
            Node::builder("beta").cluster_name(cluster).secret(secret)
        };
        let foreign_ca = Node::builder("mallory").cluster_name("test").tls_files(
            foreign.file("ca.crt"),
            foreign.file("mallory.crt"),
            foreign.file("mallory.key"),
        );
        let cases = [
            ("a wrong secret", secret("test", "guess"), alpha.addr),
            ("a foreign CA", foreign_ca, alpha.addr),
            // the secret's CA is derived with the cluster name: TLS fails,
            // and says it is the name
            ("another cluster name", secret("prod", "s3cret"), alpha.addr),
            (
                "another protocol version",
                secret("test", "s3cret"),
                skewed.addr,
            ),
        ];
        for (what, builder, addr) in cases {
            let node = builder.peer("alpha", addr).start().await.expect("starts");
            let asked = Instant::now();
            let r = bounded(
                what,
                node.lookup::<Echo>("alpha", "echo", Duration::from_secs(10)),
            )
            .await;
            let took = asked.elapsed();
            let Err(NodeError::Refused { node: peer, cause }) = r else {
                panic!("{what}: expected a refusal, got {r:?}");
            };
            assert_eq!(peer, "alpha");
            match what {
                "another cluster name" => assert_eq!(
                    cause,
                    Misconfiguration::ClusterName {
                        ours: "prod".into(),
                        theirs: "test".into()
                    }
                ),
                "another protocol version" => assert_eq!(
                    cause,
                    Misconfiguration::ProtocolVersion {
                        ours: "2".into(),
                        theirs: "9".into()
                    }
                ),
                _ => {
                    assert_eq!(cause, Misconfiguration::ForeignCa, "{what}");
                    assert!(cause
                        .to_string()
                        .contains("a different secret, cluster name or CA file?"));
                }
            }
            assert!(took < Duration::from_secs(2), "{what}: told after {took:?}");
            // connect says the same
            let r = bounded(what, node.net().connect("alpha", addr)).await;
            assert!(matches!(r, Err(NodeError::Refused { .. })), "{what}: {r:?}");
        }
    });
    // certificate files made for another cluster: the node does not start
    let certs = Certs::make("other-cluster", &["beta"]);
    run_local(|| async {
        let r = Node::builder("beta")
            .cluster_name("prod")
            .tls_files(
                certs.file("ca.crt"),
                certs.file("beta.crt"),
                certs.file("beta.key"),
            )
            .start()
            .await;
        let err = r.expect_err("refused at start").to_string();
        assert!(
            err.contains("the CA is of cluster \"test\", this node of cluster \"prod\""),
            "{err}"
        );
    });
}
