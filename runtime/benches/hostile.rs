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
//! - `hostile.cluster.*`: a 3-node cluster (alpha in a process of its own,
//!   beta and gamma on threads of this one) attacked at alpha by Mallory,
//!   who holds a certificate minted from the cluster secret, never joined,
//!   and speaks the wire format by hand (`arbour_tests::mallory`): forged
//!   SWIM (speaking as beta; "beta is down"; "alpha is down" at the top
//!   SWIM incarnation; gamma at a life at the end of time), 200 made-up
//!   members, a registry part of 100,000 names (taken), updates at stamps
//!   0 and u64::MAX and a part past the cap, 1,000 resync asks, 20,000 remote spawns, 10,000 asks of a
//!   handler that never ends with 1 ms timeouts, an `Exit` of alpha's
//!   echo, a 16 MiB frame before the hello, and 200 certificate-less
//!   attempts from 127.0.0.2 that answer the Retry and go silent.
//!   `hostile.cluster.evictions`: real members declared down, left or
//!   replaced anywhere (target 0); `hostile.cluster.legit_ask_p99_ms`:
//!   beta's asks of alpha's echo throughout (target ≤ 50), and its ratio
//!   to the p99 of beta's asks in the 3 s before the attacks, same run;
//!   `hostile.cluster.rss_peak_mb`: alpha's peak RSS (and `_base_mb`
//!   before); `hostile.cluster.dials_after_forget`: alpha's dials in the
//!   12 s after every made-up member was declared down and forgotten
//!   (target 0).
//!
//! Prints `<figure> <value> <unit>` lines (DESIGN.md §10).
//! `cargo bench -p arbour --bench hostile` (`-- cluster`: that part only)

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
    } else if args.iter().any(|a| a == "--cluster-victim") {
        cluster::victim();
    } else if args.iter().any(|a| a == "cluster") {
        // `cargo bench -p arbour --bench hostile -- cluster`: that part only
        cluster::attacks();
    } else if args.iter().any(|a| a == "--bench") || args.len() == 1 {
        monitors_drop();
        handshake_flood();
        cluster::attacks();
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

/// The cluster layer under attack (`hostile.cluster.*`).
mod cluster {
    use super::{builder, percentile, rss_bytes, Echo, Ping};
    use arbour::cluster::{MemberEvent, MembershipConfig};
    use arbour::registry::{Change, Published, Registration, Update, MAX_OWN_ENTRIES};
    use arbour::wire::Control;
    use arbour_tests::attack::{partial_frame, HalfOpen};
    use arbour_tests::mallory::{gossip, member, Mallory, SwimState};
    use std::io::{BufRead, BufReader, Write};
    use std::net::SocketAddr;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const FAKES: usize = 200;
    const SPAWNS: u64 = 20_000;
    const FOREVER_ASKS: u64 = 10_000;

    fn config() -> MembershipConfig {
        MembershipConfig {
            // made-up members are forgotten 10 s after their verdict
            remove_down_after: Duration::from_secs(10),
            ..MembershipConfig::default()
        }
    }

    fn real(m: &arbour::cluster::MemberId) -> bool {
        m.name != "mallory" && !m.name.starts_with("fake")
    }

    /// An event about a real member that takes it out of the cluster.
    fn eviction(e: &MemberEvent) -> bool {
        matches!(
            e,
            MemberEvent::Down(_) | MemberEvent::Left(_) | MemberEvent::Replaced { .. }
        ) && real(e.member())
    }

    /// alpha, in a process of its own: prints `listening ADDR LIFE ECHO`,
    /// then every 100 ms `cstats RSS DIALS EVICTIONS FAKES`.
    pub(super) fn victim() {
        builder("alpha")
            .membership(config())
            .run(|node| async move {
                let echo = node.spawn(Echo);
                node.expose("echo", &echo).expect("expose");
                node.kind::<Echo>("echo").expect("kind");
                node.global().register("svc", &echo).expect("svc");
                println!(
                    "listening {} {} {}",
                    node.net().local_addr().expect("addr"),
                    node.node_id().incarnation,
                    echo.id().local
                );
                std::io::stdout().flush().expect("flush");
                let mut events = node.membership().events().expect("membership");
                let mut evictions = 0u64;
                loop {
                    while let Ok(e) = events.try_recv() {
                        evictions += u64::from(eviction(&e));
                    }
                    let m = node.membership();
                    let fakes = m
                        .members()
                        .iter()
                        .chain(m.down().iter())
                        .filter(|x| x.name.starts_with("fake"))
                        .count();
                    println!(
                        "cstats {} {} {} {}",
                        rss_bytes(),
                        node.net().stats().dials,
                        evictions,
                        fakes
                    );
                    std::io::stdout().flush().expect("flush");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .expect("node");
    }

    /// The victim's latest figures, read from its output by a thread.
    #[derive(Clone, Copy, Debug, Default)]
    struct Seen {
        rss: u64,
        rss_peak: u64,
        dials: u64,
        evictions: u64,
        fakes: u64,
        lines: u64,
    }

    /// A member on a thread of its own: asks alpha's echo every 5 ms (if
    /// `asks`), counts evictions it sees, until `stop`.
    fn member_thread(
        name: &'static str,
        alpha: SocketAddr,
        asks: Option<Arc<Mutex<Vec<Duration>>>>,
        evictions: Arc<AtomicU64>,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            builder(name)
                .membership(config())
                .seed_node("alpha", alpha)
                .workers(1)
                .run(move |node| async move {
                    let mut events = node.membership().events().expect("membership");
                    let remote = node
                        .lookup::<Echo>("alpha", "echo", Duration::from_secs(10))
                        .await
                        .expect("lookup");
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        while let Ok(e) = events.try_recv() {
                            if eviction(&e) {
                                evictions.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if let Some(asks) = &asks {
                            i += 1;
                            let sent = Instant::now();
                            let r = remote.ask(Ping(i)).await;
                            assert_eq!(r, Ok(i + 1), "a legitimate ask");
                            asks.lock().expect("asks").push(sent.elapsed());
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
                .expect("member");
        })
    }

    pub(super) fn attacks() {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(&exe)
            .arg("--cluster-victim")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the victim");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("read");
        let mut it = first
            .strip_prefix("listening ")
            .expect("listening")
            .split(' ');
        let addr: SocketAddr = it.next().expect("addr").parse().expect("addr");
        let life: u64 = it.next().expect("life").parse().expect("life");
        let echo: u64 = it.next().expect("echo").parse().expect("echo");
        let seen = Arc::new(Mutex::new(Seen::default()));
        {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    let v: Vec<u64> = line
                        .strip_prefix("cstats ")
                        .map(|r| r.split(' ').filter_map(|x| x.parse().ok()).collect())
                        .unwrap_or_default();
                    if let [rss, dials, evictions, fakes] = v[..] {
                        let mut s = seen.lock().expect("seen");
                        s.rss_peak = s.rss_peak.max(rss);
                        *s = Seen {
                            rss,
                            dials,
                            evictions,
                            fakes,
                            lines: s.lines + 1,
                            ..*s
                        };
                    }
                }
            });
        }
        let read = || *seen.lock().expect("seen");
        let wait = |what: &str, limit: Duration, ok: &dyn Fn(Seen) -> bool| {
            let start = Instant::now();
            while !ok(read()) {
                assert!(
                    start.elapsed() < limit,
                    "{what}: not within {limit:?}: {:?}",
                    read()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let evictions = Arc::new(AtomicU64::new(0));
        let asks = Arc::new(Mutex::new(Vec::new()));
        let beta = member_thread(
            "beta",
            addr,
            Some(asks.clone()),
            evictions.clone(),
            stop.clone(),
        );
        let gamma = member_thread("gamma", addr, None, evictions.clone(), stop.clone());
        // the cluster formed and settled: alpha's baseline
        std::thread::sleep(Duration::from_secs(3));
        let base = read();
        // the floor: beta's asks of the settled cluster, before any attack
        let mut floor = std::mem::take(&mut *asks.lock().expect("asks"));
        floor.sort();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let fakes_down_at = rt.block_on(mallory(addr, life, echo));
        // every made-up member declared down and forgotten at alpha
        wait(
            "made-up members forgotten",
            Duration::from_secs(180),
            &|s| s.fakes == 0,
        );
        let forgotten = read();
        std::thread::sleep(Duration::from_secs(12));
        let after = read();
        stop.store(true, Ordering::Relaxed);
        let _ = beta.join();
        let _ = gamma.join();
        let _ = child.kill();
        let _ = child.wait();
        let mut latencies = std::mem::take(&mut *asks.lock().expect("asks"));
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        println!(
            "hostile.cluster.evictions {} members",
            after.evictions + evictions.load(Ordering::Relaxed)
        );
        println!("hostile.cluster.legit_asks {} asks", latencies.len());
        println!(
            "hostile.cluster.legit_ask_p99_ms {:.3} ms",
            ms(percentile(&latencies, 0.99))
        );
        println!(
            "hostile.cluster.legit_ask_max_ms {:.3} ms",
            ms(latencies.last().copied().unwrap_or_default())
        );
        let floor_p99 = percentile(&floor, 0.99);
        println!(
            "hostile.cluster.legit_ask_floor_p99_ms {:.3} ms (before the attacks, {} asks)",
            ms(floor_p99),
            floor.len()
        );
        println!(
            "hostile.cluster.legit_ask_p99_ratio {:.2}",
            ms(percentile(&latencies, 0.99)) / ms(floor_p99).max(1e-6)
        );
        println!("hostile.cluster.rss_base_mb {:.1} MB", mb(base.rss));
        println!("hostile.cluster.rss_peak_mb {:.1} MB", mb(after.rss_peak));
        println!("hostile.cluster.rss_end_mb {:.1} MB", mb(after.rss));
        println!(
            "hostile.cluster.rss_peak_ratio {:.2}",
            after.rss_peak as f64 / base.rss.max(1) as f64
        );
        println!(
            "hostile.cluster.fakes_forgotten_s {:.1} s",
            fakes_down_at.elapsed().as_secs_f64()
        );
        println!(
            "hostile.cluster.dials_before_forget {} dials",
            forgotten.dials.saturating_sub(base.dials)
        );
        println!(
            "hostile.cluster.dials_after_forget {} dials",
            after.dials.saturating_sub(forgotten.dials)
        );
    }

    /// Every attack in turn, against alpha at `addr` (life `life`, its
    /// echo `echo`); returns when the last was sent.
    async fn mallory(addr: SocketAddr, life: u64, echo: u64) -> Instant {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let bind: SocketAddr = "127.0.0.1:0".parse().expect("bind");
                let target = ("alpha", life, addr);
                let mut m = Mallory::connect_in(("bench", "bench"), "mallory", 7, bind, target)
                    .await
                    .expect("mallory connects");
                let nowhere: SocketAddr = "127.0.0.1:9".parse().expect("addr");
                let me = member("mallory", 7, nowhere);
                let alpha = member("alpha", life, addr);
                // SWIM: speaking as beta; bare downs; a life at the end of time
                let beta = member("beta", 1, nowhere);
                m.swim(gossip(&beta, &alpha, &[])).await.expect("swim");
                let far = member("gamma", u64::MAX, nowhere);
                let bare = [
                    (alpha.clone(), u16::MAX, SwimState::Down),
                    (far, 0, SwimState::Alive),
                ];
                m.swim(gossip(&me, &alpha, &bare)).await.expect("swim");
                // made-up members, 10 a packet
                for batch in 0..FAKES / 10 {
                    let fakes: Vec<_> = (0..10)
                        .map(|i| {
                            let n = batch * 10 + i;
                            let at = format!("127.0.0.1:{}", 21_000 + n).parse().expect("addr");
                            (member(&format!("fake{n}"), 5, at), 0, SwimState::Alive)
                        })
                        .collect();
                    m.swim(gossip(&me, &alpha, &fakes)).await.expect("swim");
                }
                let sent_fakes = Instant::now();
                // the registry
                let up = |u: &Update| Control::Registry {
                    update: arbour::wire::encode(u).expect("encode"),
                };
                // her first whole part, at the cap (taken: applied off the
                // network's thread), then stamps 0 and u64::MAX, then a
                // part past the cap nobody asked for
                let part = |n: u64| {
                    let mut p = Published::default();
                    for i in 0..n {
                        p.names.insert(
                            format!("n{i}"),
                            Registration {
                                local: i,
                                stamp: 1 + i,
                            },
                        );
                    }
                    p
                };
                let at_cap = MAX_OWN_ENTRIES as u64;
                m.control(
                    &up(&Update::Full {
                        seq: 0,
                        state: part(at_cap),
                    }),
                    None,
                )
                .await
                .expect("registry");
                for (seq, stamp) in [(1, 0), (2, u64::MAX)] {
                    let hijack = Update::Delta {
                        seq,
                        change: Change::Register {
                            name: "svc".into(),
                            at: Registration { local: 1, stamp },
                        },
                    };
                    m.control(&up(&hijack), None).await.expect("registry");
                }
                m.control(
                    &up(&Update::Full {
                        seq: 3,
                        state: part(at_cap + 1),
                    }),
                    None,
                )
                .await
                .expect("registry");
                for _ in 0..1_000 {
                    m.control(&Control::RegistryResync, None)
                        .await
                        .expect("resync");
                }
                // spawns
                let args = arbour::wire::encode(&()).expect("args");
                for i in 0..SPAWNS {
                    let spawn = Control::Spawn {
                        kind: "echo".into(),
                        args: args.clone(),
                        group: None,
                    };
                    m.control(&spawn, Some(i + 1)).await.expect("spawn");
                }
                // asks of a handler that never ends, each saying 1 ms
                let forever =
                    arbour::wire::encode(&super::support::Delay(u64::MAX)).expect("delay");
                for i in 0..FOREVER_ASKS {
                    m.envelope(
                        echo,
                        "bench.delay.v1",
                        &forever,
                        Some(1_000_000 + i),
                        Some(1),
                    )
                    .await
                    .expect("ask");
                }
                // an exit of alpha's echo
                m.control(
                    &Control::Exit {
                        actor: echo,
                        kill: true,
                    },
                    None,
                )
                .await
                .expect("exit");
                // a 16 MiB frame before the hello
                let ca = arbour::transport::ClusterCa::from_secret("bench", "bench").expect("ca");
                let id = ca.issue("mallory", [9; 32]).expect("id");
                let ep = arbour::transport::Endpoint::bind(
                    bind,
                    &ca.trust().expect("trust"),
                    &id,
                    arbour::wire::Hello::new("bench", "mallory", 8),
                )
                .expect("bind");
                let conn = ep
                    .quic()
                    .connect(addr, "alpha")
                    .expect("connect")
                    .await
                    .expect("TLS");
                let (mut send, mut recv) = conn.open_bi().await.expect("stream");
                send.write_all(&partial_frame(16 * 1024 * 1024, 64 * 1024))
                    .await
                    .expect("write");
                let _ = tokio::time::timeout(Duration::from_secs(5), recv.read_to_end(4096)).await;
                // certificate-less attempts that answer the Retry, then go silent
                let mut flood =
                    HalfOpen::start_from("127.0.0.2:0".parse().expect("addr"), addr, 200);
                flood.answer_retries(Duration::from_millis(500)).await;
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    flood.ping();
                }
                drop(m);
                sent_fakes
            })
            .await
    }
}
