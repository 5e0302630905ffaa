//! Local benchmark: arbour against raw actix, measured in the same run.
//!
//! Prints one line per figure, `<figure> <value> <unit>`, ratios as
//! `<figure> <value> ratio` (DESIGN.md §10). Spawn/RSS figures are measured in
//! child processes (this program re-executes itself), so one measurement
//! cannot reuse memory the other freed.
//!
//! `cargo bench -p arbour --bench local`

mod support;
use actix::prelude::*;
use arbour::{ChildSpec, Node, SpawnOptions, SupervisorSpec};
use std::time::{Duration, Instant};
use support::{median, percentile, rss_bytes};

const TELLS: u64 = 1_000_000;
const ASKS: u32 = 200_000;
const SPAWNS: usize = 100_000;
const RESTARTS: usize = 10_000;
const ROUNDS: usize = 11;
const SPAWN_PAIRS: usize = 7;

struct Sink {
    sum: u64,
    count: u64,
}
impl Actor for Sink {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Num(u64);
impl Handler<Num> for Sink {
    type Result = ();
    fn handle(&mut self, Num(n): Num, _: &mut Context<Self>) {
        self.sum = self.sum.wrapping_add(n);
        self.count += 1;
    }
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Count;
impl Handler<Count> for Sink {
    type Result = u64;
    fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u64 {
        self.count
    }
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Ping(u64);
impl Handler<Ping> for Sink {
    type Result = u64;
    fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 {
        n + 1
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Crash;
impl Handler<Crash> for Sink {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("crash for the restart benchmark");
    }
}

fn sink() -> Sink {
    Sink { sum: 0, count: 0 }
}

fn local<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, f)
}

async fn tell_raw() -> f64 {
    let addr = sink().start();
    let t0 = Instant::now();
    for n in 0..TELLS {
        addr.do_send(Num(n));
    }
    let got = addr.send(Count).await.expect("count");
    let dt = t0.elapsed();
    assert_eq!(got, TELLS);
    TELLS as f64 / dt.as_secs_f64()
}

/// `bounded`: a mailbox with room for every message, so actix's capacity
/// check runs on every tell; otherwise unbounded, like actix's `do_send`.
async fn tell_arbour_with(node: &Node, bounded: bool) -> f64 {
    let opts = if bounded {
        SpawnOptions {
            mailbox: 2 * TELLS as usize,
        }
    } else {
        SpawnOptions::UNBOUNDED
    };
    let r = node.spawn_with(opts, sink());
    let t0 = Instant::now();
    for n in 0..TELLS {
        r.tell(Num(n));
    }
    let got = r
        .ask(Count)
        .timeout(Duration::from_secs(60))
        .await
        .expect("count");
    let dt = t0.elapsed();
    assert_eq!(got, TELLS, "no tell was dropped");
    r.stop();
    TELLS as f64 / dt.as_secs_f64()
}

async fn tell_arbour(node: &Node) -> f64 {
    tell_arbour_with(node, false).await
}

async fn ask_raw() -> f64 {
    let addr = sink().start();
    let t0 = Instant::now();
    for n in 0..ASKS as u64 {
        let r = addr.send(Ping(n)).await.expect("ping");
        assert_eq!(r, n + 1);
    }
    t0.elapsed().as_nanos() as f64 / f64::from(ASKS)
}

async fn ask_arbour(node: &Node) -> f64 {
    let r = node.spawn(sink());
    let t0 = Instant::now();
    for n in 0..ASKS as u64 {
        let v = r.ask(Ping(n)).await.expect("ping");
        assert_eq!(v, n + 1);
    }
    t0.elapsed().as_nanos() as f64 / f64::from(ASKS)
}

/// Child process: spawn `SPAWNS` actors one way; print "<ns_per_actor> <rss_bytes_per_actor>".
fn spawn_child(kind: &str) {
    local(async {
        let node = Node::builder("bench").rng_seed(1).build();
        // warm the allocator and runtime a little
        let warm: Vec<_> = (0..1000).map(|_| sink().start()).collect();
        drop(warm);
        tokio::task::yield_now().await;
        let before = rss_bytes();
        let t0 = Instant::now();
        let keep: Box<dyn std::any::Any> = match kind {
            "raw" => Box::new((0..SPAWNS).map(|_| sink().start()).collect::<Vec<_>>()),
            _ => {
                let mut spec = SupervisorSpec::one_for_one();
                for i in 0..SPAWNS {
                    spec = spec.child(ChildSpec::worker(i.to_string(), sink));
                }
                Box::new(spec.start(&node).await.expect("supervisor"))
            }
        };
        // let every actor run its first poll
        tokio::task::yield_now().await;
        let dt = t0.elapsed();
        let after = rss_bytes();
        println!(
            "{} {}",
            dt.as_nanos() as f64 / SPAWNS as f64,
            after.saturating_sub(before) as f64 / SPAWNS as f64
        );
        // skip tearing down 100k actors: the figures are printed
        std::mem::forget(keep);
        std::process::exit(0);
    });
}

fn spawn_in_child(kind: &str) -> (f64, f64) {
    let exe = std::env::current_exe().expect("exe");
    let out = std::process::Command::new(exe)
        .arg("--spawn-child")
        .arg(kind)
        .output()
        .expect("child bench");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(f64::NAN));
    (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
}

async fn restart_latency(node: &Node) -> Vec<Duration> {
    let sup = SupervisorSpec::one_for_one()
        .intensity(u32::MAX)
        .child(ChildSpec::worker("w", sink))
        .start(node)
        .await
        .expect("supervisor");
    let w = sup.child::<Sink>("w").expect("w");
    let mut lat = Vec::with_capacity(RESTARTS);
    for _ in 0..RESTARTS {
        let t0 = Instant::now();
        w.tell(Crash);
        loop {
            match w.ask(Ping(1)).await {
                Ok(2) => break,
                _ => tokio::task::yield_now().await,
            }
        }
        lat.push(t0.elapsed());
    }
    lat.sort();
    lat
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        // one figure of one side, for instruction-count profiling
        // (cachegrind): tells per second for `raw` (actix), `arbour` or
        // `arbour-bounded`; ns per ask for `ask-raw` or `ask-arbour`
        let side = args.get(i + 1).map_or("raw", String::as_str);
        local(async {
            let node = Node::builder("bench").rng_seed(1).build();
            // `--one SIDE N`: the median of N runs in one process
            let runs: usize = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1);
            let mut each = vec![];
            for _ in 0..runs.max(1) {
                each.push(match side {
                    "arbour" => tell_arbour(&node).await,
                    "arbour-bounded" => tell_arbour_with(&node, true).await,
                    "ask-raw" => ask_raw().await,
                    "ask-arbour" => ask_arbour(&node).await,
                    _ => tell_raw().await,
                });
            }
            let r = median(each);
            println!("{r:.0}");
        });
        return;
    }
    if args.iter().any(|a| a == "--tell-only") {
        local(async {
            let node = Node::builder("bench").rng_seed(1).build();
            let mut ratio = vec![];
            for _ in 0..ROUNDS {
                let rt = tell_raw().await;
                let at = tell_arbour(&node).await;
                ratio.push(at / rt);
            }
            println!("local.tell.ratio {:.3} ratio", median(ratio));
        });
        return;
    }
    if args.iter().any(|a| a == "--restart-only") {
        local(async {
            let node = Node::builder("bench").rng_seed(1).build();
            let lat = restart_latency(&node).await;
            println!(
                "local.restart.p50 {:.1} us",
                percentile(&lat, 0.50).as_secs_f64() * 1e6
            );
        });
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--spawn-child") {
        spawn_child(args.get(i + 1).map_or("raw", String::as_str));
        return;
    }
    local(async {
        let node = Node::builder("bench").rng_seed(1).build();
        // Each round measures arbour and actix back to back (alternating which
        // goes first); the ratio reported is the median of the per-round
        // ratios, which cancels the drift of a shared, noisy machine.
        let (mut raw_t, mut arb_t, mut raw_a, mut arb_a) = (vec![], vec![], vec![], vec![]);
        let (mut tell_ratio, mut ask_ratio, mut bounded_ratio) = (vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            let (rt, at, ra, aa) = if round % 2 == 0 {
                let rt = tell_raw().await;
                let at = tell_arbour(&node).await;
                let ra = ask_raw().await;
                (rt, at, ra, ask_arbour(&node).await)
            } else {
                let at = tell_arbour(&node).await;
                let rt = tell_raw().await;
                let aa = ask_arbour(&node).await;
                (rt, at, ask_raw().await, aa)
            };
            tell_ratio.push(at / rt);
            ask_ratio.push(aa / ra);
            // alternated too: measured always after actix, the bounded
            // figure moved by 0.1 with code layout alone (same instruction
            // count per tell under cachegrind)
            let (bounded, raw) = if round % 2 == 0 {
                let raw = tell_raw().await;
                (tell_arbour_with(&node, true).await, raw)
            } else {
                let bounded = tell_arbour_with(&node, true).await;
                (bounded, tell_raw().await)
            };
            bounded_ratio.push(bounded / raw);
            raw_t.push(rt);
            arb_t.push(at);
            raw_a.push(ra);
            arb_a.push(aa);
        }
        let (rt, at, ra, aa) = (median(raw_t), median(arb_t), median(raw_a), median(arb_a));
        println!("local.tell.actix_msgs_per_s {rt:.0} msgs/s");
        println!("local.tell.arbour_msgs_per_s {at:.0} msgs/s");
        println!("local.tell.ratio {:.3} ratio", median(tell_ratio));
        println!(
            "local.tell.bounded_ratio {:.3} ratio",
            median(bounded_ratio)
        );
        println!("local.ask.actix_rtt_ns {ra:.0} ns");
        println!("local.ask.arbour_rtt_ns {aa:.0} ns");
        println!("local.ask.ratio {:.3} ratio", median(ask_ratio));

        let lat = restart_latency(&node).await;
        println!(
            "local.restart.p50 {:.1} us",
            percentile(&lat, 0.50).as_secs_f64() * 1e6
        );
        println!(
            "local.restart.p99 {:.1} us",
            percentile(&lat, 0.99).as_secs_f64() * 1e6
        );
        println!("local.restart.count {} restarts", node.stats().restarts);
    });
    // Adjacent raw/supervised pairs (alternating order); the ratio is the
    // median of the per-pair ratios, as for tell and ask.
    let (mut raw_ns, mut sup_ns, mut raw_rss, mut sup_rss) = (vec![], vec![], vec![], vec![]);
    let mut ratio = vec![];
    for pair in 0..SPAWN_PAIRS {
        let ((t_raw, r_raw), (t_sup, r_sup)) = if pair % 2 == 0 {
            let raw = spawn_in_child("raw");
            (raw, spawn_in_child("supervised"))
        } else {
            let sup = spawn_in_child("supervised");
            (spawn_in_child("raw"), sup)
        };
        ratio.push(t_sup / t_raw);
        raw_ns.push(t_raw);
        raw_rss.push(r_raw);
        sup_ns.push(t_sup);
        sup_rss.push(r_sup);
    }
    let (rn, sn, rr, sr) = (
        median(raw_ns),
        median(sup_ns),
        median(raw_rss),
        median(sup_rss),
    );
    println!("local.spawn.actix_ns_per_actor {rn:.0} ns");
    println!("local.spawn.supervised_ns_per_child {sn:.0} ns");
    println!("local.spawn.time_ratio {:.3} ratio", median(ratio));
    println!("local.spawn.actix_rss_per_actor {rr:.0} bytes");
    println!("local.spawn.rss_per_child {sr:.0} bytes");
}
