//! Node lifecycle benchmark.
//!
//! - `node.lifecycle.*`: 1,000 start/shutdown cycles of a networked node in
//!   this process, each dialing a long-lived peer and asking it once; the
//!   RSS growth from the 100th cycle to the last (a node must leave nothing
//!   behind), and the time per cycle.
//! - `node.shutdown.peer_notice_ms`: a peer node in another process (this
//!   program re-executed) gets SIGTERM; how long until this side's monitor
//!   of its actor fires (p50 and max over 20 runs). A graceful shutdown says
//!   goodbye, so the notice must not wait for the idle timeout (3 s).
//!
//! (What a peer's monitors cost when it disconnects is in the `hostile`
//! bench: `hostile.monitors_drop_ms`.)
//!
//! Prints `<figure> <value> <unit>` lines (DESIGN.md §10).
//! `cargo bench -p arbour --bench node`

mod support;
use actix::prelude::*;
use arbour::{Down, ExitReason};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{builder, percentile, rss_bytes, Echo, Ping};

const CYCLES: usize = 1_000;
const WARM_UP: usize = 100;
const NOTICES: usize = 20;

/// Forwards `Down`s to a channel.
struct Downs(tokio::sync::mpsc::UnboundedSender<Down>);
impl Actor for Downs {
    type Context = Context<Self>;
}
impl Handler<Down> for Downs {
    type Result = ();
    fn handle(&mut self, d: Down, _: &mut Context<Self>) {
        let _ = self.0.send(d);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
    } else if args.iter().any(|a| a == "--bench") || args.len() == 1 {
        lifecycle();
        peer_notice();
    }
}

/// A peer node that exposes an `Echo` until SIGTERM.
fn serve() {
    builder("leaver")
        .run(|node| async move {
            let echo = node.spawn(Echo);
            node.expose("echo", &echo).expect("expose");
            println!("listening {}", node.net().local_addr().expect("addr"));
            std::io::stdout().flush().expect("flush");
            std::future::pending::<()>().await
        })
        .expect("node");
}

fn lifecycle() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, async {
        let anchor = builder("anchor").start().await.expect("anchor");
        let echo = anchor.spawn(Echo);
        anchor.expose("echo", &echo).expect("expose");
        let anchor_addr = anchor.net().local_addr().expect("addr");
        let (mut rss_warm, mut rss_half) = (0, 0);
        let mut trace = Vec::new();
        let start = Instant::now();
        for cycle in 0..CYCLES {
            let node = builder("cycler").start().await.expect("cycler");
            node.net()
                .connect("anchor", anchor_addr)
                .await
                .expect("connect");
            let remote = node
                .lookup::<Echo>("anchor", "echo", Duration::from_secs(10))
                .await
                .expect("lookup");
            assert_eq!(remote.ask(Ping(1)).await, Ok(2));
            node.shutdown().await;
            while !anchor.net().peers().is_empty() {
                tokio::task::yield_now().await;
            }
            if cycle + 1 == WARM_UP {
                rss_warm = rss_bytes();
            }
            if (cycle + 1) % 100 == 0 {
                trace.push((rss_bytes() / 1024).to_string());
            }
            if cycle + 1 == CYCLES / 2 {
                rss_half = rss_bytes();
            }
        }
        let per_cycle = start.elapsed() / CYCLES as u32;
        assert_eq!(
            arbour::platform::live_workers(),
            1,
            "only the anchor's worker runs"
        );
        println!(
            "node.lifecycle.rss_growth_bytes {} bytes",
            rss_bytes().saturating_sub(rss_warm)
        );
        // the last 500 cycles alone: a leak grows here as much as anywhere,
        // the allocator's warm-up no longer does
        println!(
            "node.lifecycle.rss_growth_last_half_bytes {} bytes",
            rss_bytes().saturating_sub(rss_half)
        );
        println!("node.lifecycle.cycle_us {} us", per_cycle.as_micros());
        // after every 100 cycles: a plateau is noise, steady growth a leak
        println!("node.lifecycle.rss_kib_per_100 {}", trace.join(","));
        anchor.shutdown().await;
    });
}

fn peer_notice() {
    let exe = std::env::current_exe().expect("current_exe");
    let mut notices = Vec::with_capacity(NOTICES);
    for _ in 0..NOTICES {
        let mut child = Command::new(&exe)
            .arg("--serve")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the peer");
        let line = BufReader::new(child.stdout.take().expect("stdout"))
            .lines()
            .next()
            .expect("a line")
            .expect("read");
        let addr: SocketAddr = line
            .strip_prefix("listening ")
            .expect("address line")
            .parse()
            .expect("address");
        let pid = child.id().to_string();
        let notice = builder("watcher")
            .workers(1)
            .run(move |node| async move {
                node.net().connect("leaver", addr).await.expect("connect");
                let echo = node
                    .lookup::<Echo>("leaver", "echo", Duration::from_secs(10))
                    .await
                    .expect("lookup");
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let downs = Downs(tx).start();
                let _m = echo.monitor(downs.recipient());
                assert_eq!(echo.ask(Ping(0)).await, Ok(1));
                let sent = Instant::now();
                let killed = Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .expect("kill");
                assert!(killed.success());
                let down = rx.recv().await.expect("Down");
                let took = sent.elapsed();
                assert_eq!(down.reason, ExitReason::Shutdown);
                took
            })
            .expect("watcher")
            .expect("ran");
        let status = child.wait().expect("peer exits");
        assert!(status.success(), "the peer exits cleanly on SIGTERM");
        notices.push(notice.as_secs_f64() * 1000.0);
    }
    notices.sort_by(|a, b| a.total_cmp(b));
    println!(
        "node.shutdown.peer_notice_ms {:.1} ms",
        percentile(&notices, 0.5)
    );
    println!(
        "node.shutdown.peer_notice_max_ms {:.1} ms",
        percentile(&notices, 1.0)
    );
}
