//! Two nodes as two OS processes: `arbour serve` runs alpha (exposing a
//! probe `Echo` as "echo"); this test process runs beta and talks to it over
//! real QUIC on 127.0.0.1 (port 0). Every wait is bounded.

use arbour::{ActorRef, AskError, ExitReason, Node};
use arbour_node::probe::{Crash, DownForwarder, Echo, Hold, Ping, PingHeld, Report, Tally};
use arbour_tests::{arbour_bin, bounded, run_local, LIMIT};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `arbour serve`; killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(secret: &str) -> Served {
    let mut child = Command::new(arbour_bin())
        .args([
            "serve",
            "--name",
            "alpha",
            "--cluster",
            "test",
            "--secret",
            secret,
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    Served { child, addr }
}

/// beta, connected to alpha, and its remote ref to alpha's "echo".
async fn connect_to_echo(alpha: SocketAddr) -> (Node, ActorRef<Echo>) {
    let beta = beta("s3cret").await;
    bounded("connect", beta.connect("alpha", alpha))
        .await
        .expect("connect");
    let echo = bounded("lookup", beta.lookup::<Echo>("alpha", "echo", LIMIT))
        .await
        .expect("lookup");
    (beta, echo)
}

async fn beta(secret: &str) -> Node {
    Node::builder("beta")
        .cluster("test")
        .secret(secret)
        .start()
        .await
        .expect("beta starts")
}

#[test]
fn tell_ask_refs_fifo_and_monitors_across_two_processes() {
    let alpha = serve("s3cret");
    run_local(|| async move {
        let (beta, echo) = connect_to_echo(alpha.addr).await;
        assert_eq!(echo.id().node.name.as_ref(), "alpha");

        // ask and tell
        assert_eq!(bounded("ask", echo.ask(Ping(1))).await, Ok(2));

        // FIFO per pair: 4 senders interleave 100k tells
        const PER_SENDER: u64 = 25_000;
        let mut tasks = Vec::new();
        for sender in 0..4u32 {
            let r = echo.clone();
            tasks.push(tokio::task::spawn_local(async move {
                for seq in 1..=PER_SENDER {
                    r.send(Tally { sender, seq }).await.expect("send");
                    if seq % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for t in tasks {
            bounded("senders", t).await.expect("sender");
        }
        let report = bounded("report", echo.ask(Report).wait_if_full())
            .await
            .expect("report");
        assert_eq!(report.received, 4 * PER_SENDER);
        assert_eq!(report.out_of_order, 0);

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
    let mut alpha = serve("s3cret");
    run_local(|| async move {
        let (_beta, echo) = connect_to_echo(alpha.addr).await;
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = echo.monitor(watcher.recipient());
        assert_eq!(bounded("ping", echo.ask(Ping(0))).await, Ok(1));
        // an ask that will never be answered: the process is killed meanwhile
        let pending = echo
            .ask(arbour_node::probe::Delay(60_000))
            .timeout(Duration::from_secs(60));
        alpha.child.kill().expect("kill alpha");
        let r = bounded("pending ask", pending).await;
        assert!(matches!(r, Err(AskError::NodeDown(_))), "{r:?}");
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
    });
}

#[test]
fn a_node_with_the_wrong_secret_is_refused() {
    let alpha = serve("s3cret");
    run_local(|| async move {
        let mallory = beta("guess").await;
        let r = bounded("connect", mallory.connect("alpha", alpha.addr)).await;
        assert!(r.is_err(), "{r:?}");
        assert!(mallory.connected_peers().is_empty());
    });
}
