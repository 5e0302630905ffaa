//! What hostile peers cost a node, bounded by its `PeerLimits`:
//!
//! - `hostile.monitors_drop_ms`: a member (on a thread of its own) holding
//!   200,000 monitors on one actor disconnects; how long from its
//!   disconnect until the node has dropped them all (was O(n²): 23.7 s,
//!   the node deaf meanwhile). Target ≤ 50 ms.
//!   `hostile.monitors_drop_after_notice_ms` counts from the node's
//!   noticing the lost connection instead. Alongside,
//!   `hostile.monitors_drop_legit_ask_p99_ms` and `_max_ms`: a second
//!   peer's asks meanwhile.
//! - `hostile.halfopen_rss_per_conn_bytes`: 2,000 connection attempts that
//!   send a ClientHello and then only PINGs (no certificate needed) against
//!   a node in another process; its RSS growth per attempt it holds, at
//!   the cap (`hostile.halfopen_held`; the rest got a stateless Retry).
//!   `hostile.halfopen_rss_growth_bytes` is the node's whole growth.
//! - `hostile.legit_ask_p99_ms`: a real peer connecting and asking during
//!   that flood; p99 of its asks (target ≤ 50), and how long its connect
//!   took (`hostile.legit_connect_ms`).
//!
//! Prints `<figure> <value> <unit>` lines (DESIGN.md §10).
//! `cargo bench -p arbour --bench hostile`

mod support;
use arbour::net::PeerLimits;
use arbour_tests::attack::HalfOpen;
use arbour_tests::DownForwarder;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{builder, percentile, rss_bytes, Echo, Ping};

const MONITORS: u64 = 200_000;
const FLOOD: usize = 2_000;
const LEGIT_ASKS: usize = 2_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--victim") {
        victim();
    } else if args.iter().any(|a| a == "--bench") || args.len() == 1 {
        monitors_drop();
        handshake_flood();
    }
}

fn monitors_drop() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, async {
        let alpha = builder("alpha")
            .limits(PeerLimits {
                peer_monitors: 250_000,
                ..PeerLimits::default()
            })
            .start()
            .await
            .expect("alpha");
        let echo = alpha.spawn(Echo);
        alpha.expose("echo", &echo).expect("expose");
        let addr = alpha.net().local_addr().expect("addr");
        // mallory on a thread of its own: firing its own 200k watchers
        // when it disconnects is its cost, not the node's
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let mallory = std::thread::spawn(move || {
            builder("mallory")
                .workers(1)
                .run(move |node| async move {
                    node.net().connect("alpha", addr).await.expect("connect");
                    let remote = node
                        .lookup::<Echo>("alpha", "echo", Duration::from_secs(10))
                        .await
                        .expect("lookup");
                    let (watcher, _downs) = DownForwarder::start_new();
                    let monitors: Vec<_> = (0..MONITORS)
                        .map(|_| remote.monitor(watcher.clone().recipient()))
                        .collect();
                    // the ask follows the monitors on their lane
                    assert_eq!(remote.ask(Ping(0)).wait_if_full().await, Ok(1));
                    let _ = ready_tx.send(());
                    let _ = go_rx.await;
                    node.shutdown_network();
                    drop(monitors);
                })
                .expect("mallory");
        });
        let gamma = builder("gamma").start().await.expect("gamma");
        gamma.net().connect("alpha", addr).await.expect("connect");
        let legit = gamma
            .lookup::<Echo>("alpha", "echo", Duration::from_secs(10))
            .await
            .expect("lookup");
        ready_rx.await.expect("mallory's monitors are in place");
        assert_eq!(alpha.net().stats().peer_monitors, MONITORS);
        let start = Instant::now();
        let _ = go_tx.send(());
        let (mut noticed, mut dropped) = (None, None);
        let mut latencies = Vec::new();
        let mut i = 0;
        while dropped.is_none() || latencies.len() < 500 {
            let sent = Instant::now();
            assert_eq!(legit.ask(Ping(i)).await, Ok(i + 1));
            latencies.push(sent.elapsed());
            i += 1;
            if noticed.is_none() && alpha.net().peers().len() < 2 {
                noticed = Some(Instant::now());
            }
            if dropped.is_none() && alpha.net().stats().peer_monitors == 0 {
                dropped = Some(Instant::now());
            }
        }
        let (noticed, dropped) = (noticed.expect("noticed"), dropped.expect("dropped"));
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        latencies.sort();
        // from mallory's disconnect (it closes, alpha notices, alpha drops)
        println!("hostile.monitors_drop_ms {:.2} ms", ms(dropped - start));
        // from alpha's noticing the loss: the asks between polls bound the
        // resolution (one ask, about 50 µs; 0 means the same poll)
        println!(
            "hostile.monitors_drop_after_notice_ms {:.3} ms",
            ms(dropped.saturating_duration_since(noticed))
        );
        println!(
            "hostile.monitors_drop_legit_ask_p99_ms {:.3} ms",
            ms(percentile(&latencies, 0.99))
        );
        println!(
            "hostile.monitors_drop_legit_ask_max_ms {:.3} ms",
            ms(latencies[latencies.len() - 1])
        );
        mallory.join().expect("mallory");
    });
}

/// The node under attack, in a process of its own (so its RSS is its
/// own): prints its address, then its handshakes in flight and RSS every
/// 100 ms until killed.
fn victim() {
    builder("alpha")
        .run(|node| async move {
            let echo = node.spawn(Echo);
            node.expose("echo", &echo).expect("expose");
            println!("listening {}", node.net().local_addr().expect("addr"));
            std::io::stdout().flush().expect("flush");
            loop {
                let s = node.net().stats();
                println!(
                    "stats {} {} {} {}",
                    s.handshakes_in_flight,
                    rss_bytes(),
                    s.handshakes_retried,
                    s.handshakes_refused
                );
                std::io::stdout().flush().expect("flush");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .expect("node");
}

/// One `stats` line of the victim: in flight, RSS, retried, refused.
fn stats(line: &str) -> Option<[u64; 4]> {
    let mut it = line.strip_prefix("stats ")?.split(' ').map(str::parse);
    let mut out = [0; 4];
    for v in &mut out {
        *v = it.next()?.ok()?;
    }
    Some(out)
}

fn handshake_flood() {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(&exe)
        .arg("--victim")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the victim");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = move || lines.next().expect("a line").expect("read");
    let addr: SocketAddr = next()
        .strip_prefix("listening ")
        .expect("address line")
        .parse()
        .expect("address");
    // the victim's baseline, once it has settled
    let mut before = [0; 4];
    for _ in 0..5 {
        before = stats(&next()).expect("stats");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut flood = HalfOpen::start(addr, FLOOD);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                flood.ping();
            }
            flood.datagrams
        })
    };
    // at the cap: the most held over a second of the flood
    let mut at_cap = before;
    for _ in 0..10 {
        let s = stats(&next()).expect("stats");
        if s[0] >= at_cap[0] {
            at_cap = s;
        }
    }
    let (connect, latencies) = builder("beta")
        .workers(1)
        .run(move |node| async move {
            let started = Instant::now();
            node.net().connect("alpha", addr).await.expect("connect");
            let remote = node
                .lookup::<Echo>("alpha", "echo", Duration::from_secs(10))
                .await
                .expect("lookup");
            let connect = started.elapsed();
            let mut latencies = Vec::with_capacity(LEGIT_ASKS);
            for i in 0..LEGIT_ASKS as u64 {
                let sent = Instant::now();
                assert_eq!(remote.ask(Ping(i)).await, Ok(i + 1));
                latencies.push(sent.elapsed());
                if i % 100 == 0 {
                    // spread over the flood's pings
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            (connect, latencies)
        })
        .expect("beta")
        .expect("beta's main");
    let end = stats(&next()).expect("stats");
    stop.store(true, Ordering::Relaxed);
    let datagrams = flood.join().expect("flood");
    let _ = child.kill();
    let _ = child.wait();
    let mut latencies = latencies;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let held = at_cap[0].max(1);
    let growth = at_cap[1].saturating_sub(before[1]);
    println!("hostile.halfopen_held {held} connections");
    println!("hostile.halfopen_rss_growth_bytes {growth} bytes");
    println!(
        "hostile.halfopen_rss_per_conn_bytes {} bytes",
        growth / held
    );
    println!(
        "hostile.halfopen_retried {} attempts",
        end[2].saturating_sub(before[2])
    );
    println!(
        "hostile.halfopen_refused {} attempts",
        end[3].saturating_sub(before[3])
    );
    println!("hostile.halfopen_datagrams {datagrams} datagrams");
    println!("hostile.legit_connect_ms {:.2} ms", ms(connect));
    println!(
        "hostile.legit_ask_p99_ms {:.3} ms",
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "hostile.legit_ask_max_ms {:.3} ms",
        ms(latencies[latencies.len() - 1])
    );
}
