//! Remote benchmark: arbour against raw quinn, two processes on loopback,
//! measured in the same run (this program re-executes itself as the
//! receiving process).
//!
//! - floor: raw quinn, one uni stream, 36-byte length-prefixed frames,
//!   batched writes; frames/s counted by the receiver's frame parser.
//! - arbour remote `tell` of a u64 message; msgs/s counted by the actor.
//! - raw quinn request/response RTT on one long-lived bidi stream, against
//!   arbour remote `ask` RTT (p50, p99 over 20k).
//! - RSS growth of both processes across 10M remote tells.
//! - a burst of 1M plain `tell`s sent without yielding: the share
//!   delivered (must be 1.0) and the sender's RSS growth (bounded by the
//!   outbound cap).
//!
//! Both nodes run with the default number of workers (one per core), as a
//! node binary does (`NodeBuilder::run`), and by default with the network
//! on a thread of its own (`NodeBuilder::network_thread`): every remote
//! message then crosses from the network's thread to the actor's. The main
//! receiving actor lives on the first worker (where `node.spawn` in a
//! node's main puts it); a second one on the last worker
//! (`remote.tell.cross_worker_*`). `ARBOUR_BENCH_NETWORK_THREAD=0` runs
//! both nodes with the network on the first worker instead, where the
//! first actor then shares its thread (`remote.network_thread` says which).
//!
//! Prints `<figure> <value> <unit>` lines (DESIGN.md §10).
//! `cargo bench -p arbour --bench remote`

mod support;
use actix::prelude::*;
use arbour::transport::{ClusterCa, Endpoint, Peer};
use arbour::wire::Hello;
use arbour::{ActorRef, Node, TellError, WorkerPlacement};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{median, percentile, rss_bytes};

const FRAME: usize = 36;
const BATCH_FRAMES: usize = 1024;
const ROUND_MSGS: u64 = 2_048_000;
const ROUNDS: usize = 5;
const RTTS: usize = 20_000;
const RSS_MSGS: u64 = 10_000_000;

struct Sink {
    count: u64,
    sum: u64,
}
impl Actor for Sink {
    type Context = Context<Self>;
}

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "()")]
struct Tick(u64);
arbour::remote_message!(Tick => "bench.tick.v1");

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
struct Count;
arbour::remote_message!(Count => "bench.count.v1");

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
struct Echo(u64);
arbour::remote_message!(Echo => "bench.echo.v1");

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
struct Rss;
arbour::remote_message!(Rss => "bench.rss.v1");

arbour::remote_actor!(Sink {
    Tick,
    Count,
    Echo,
    Rss
});

impl Handler<Tick> for Sink {
    type Result = ();
    fn handle(&mut self, Tick(n): Tick, _: &mut Context<Self>) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(n);
    }
}
impl Handler<Count> for Sink {
    type Result = u64;
    fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u64 {
        self.count
    }
}
impl Handler<Echo> for Sink {
    type Result = u64;
    fn handle(&mut self, Echo(n): Echo, _: &mut Context<Self>) -> u64 {
        n
    }
}
impl Handler<Rss> for Sink {
    type Result = u64;
    fn handle(&mut self, _: Rss, _: &mut Context<Self>) -> u64 {
        rss_bytes()
    }
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn raw_endpoint(node: &str) -> Endpoint {
    let ca = ClusterCa::from_secret("bench", "bench").expect("ca");
    let id = ca.issue(node, [7; 32]).expect("identity");
    // quinn's own stream limits: the floor opens a stream per round and a
    // second bidirectional one for round trips
    Endpoint::bind_raw(
        localhost(),
        &ca.trust().expect("trust"),
        &id,
        Hello::new("bench", node, 1),
    )
    .expect("bind")
}

/// Whether the nodes run their network on a thread of its own.
fn network_thread() -> bool {
    std::env::var("ARBOUR_BENCH_NETWORK_THREAD").map_or(true, |v| v != "0")
}

fn node(name: &str) -> arbour::NodeBuilder {
    Node::builder(name)
        .cluster_name("bench")
        .secret("bench")
        .listen(localhost())
        .network_thread(network_thread())
}

fn main() {
    if std::env::args().any(|a| a == "--serve") {
        node("server").run(serve).expect("server node");
    } else if std::env::args().any(|a| a == "--bench") || std::env::args().len() == 1 {
        drive();
    }
}

/// The receiving process: a raw quinn floor server and an arbour node.
async fn serve(node: Node) {
    // exit when the driver closes our stdin
    std::thread::spawn(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
        std::process::exit(0);
    });
    let floor = raw_endpoint("floor-server");
    let last = node.worker_count() - 1;
    let sink = node
        .spawn_on_worker(WorkerPlacement::Worker(0), || Sink { count: 0, sum: 0 })
        .await
        .expect("spawn");
    node.expose("sink", &sink).expect("expose");
    let far = node
        .spawn_on_worker(WorkerPlacement::Worker(last), || Sink { count: 0, sum: 0 })
        .await
        .expect("spawn");
    node.expose("sink_far", &far).expect("expose");
    println!("floor {}", floor.local_addr().expect("addr"));
    println!("node {}", node.net().local_addr().expect("addr"));
    std::io::stdout().flush().expect("flush");
    while let Some(Ok(peer)) = floor.accept().await {
        tokio::task::spawn_local(floor_server(peer));
    }
}

/// Counts frames on every uni stream (announcing each stream's total on the
/// control stream when it is all in) and echoes fixed frames on bidi ones.
async fn floor_server(mut peer: Peer) {
    let conn = peer.connection().clone();
    let (control, _) = peer.control();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let c2 = conn.clone();
    tokio::task::spawn_local(async move {
        while let Ok((mut send, mut recv)) = c2.accept_bi().await {
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; FRAME];
                while recv.read_exact(&mut buf).await.is_ok() {
                    if send.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    tokio::task::spawn_local(async move {
        while let Ok(mut recv) = conn.accept_uni().await {
            let done = done_tx.clone();
            tokio::task::spawn_local(async move {
                // the first frame's body announces how many frames follow
                let (mut frames, mut want, mut carry) = (0u64, None::<u64>, Vec::new());
                while let Ok(Some(chunk)) = recv.read_chunk(1 << 20, true).await {
                    carry.extend_from_slice(&chunk.bytes);
                    let mut i = 0;
                    while i + 4 <= carry.len() {
                        let len = u32::from_be_bytes(carry[i..i + 4].try_into().expect("4"));
                        let end = i + 4 + len as usize;
                        if end > carry.len() {
                            break;
                        }
                        if want.is_none() {
                            want = Some(u64::from_be_bytes(
                                carry[i + 4..i + 12].try_into().expect("8"),
                            ));
                        } else {
                            frames += 1;
                        }
                        i = end;
                    }
                    carry.drain(..i);
                    if Some(frames) == want {
                        let _ = done.send(frames);
                        return;
                    }
                }
            });
        }
    });
    while let Some(n) = done_rx.recv().await {
        if control.write_all(&n.to_be_bytes()).await.is_err() {
            return;
        }
    }
}

fn drive() {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the receiving process");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut addr = |what: &str| -> SocketAddr {
        let line = lines.next().expect("a line").expect("read");
        let rest = line.strip_prefix(what).expect("address line");
        rest.trim().parse().expect("address")
    };
    let floor_addr = addr("floor ");
    let node_addr = addr("node ");
    node("client")
        .run(move |node| measure(node, floor_addr, node_addr))
        .expect("client node");
    drop(child.stdin.take());
    let _ = child.wait();
}

async fn floor_round(peer: &mut Peer, n: u64) -> f64 {
    let conn = peer.connection().clone();
    let mut frame = [0u8; FRAME];
    frame[..4].copy_from_slice(&((FRAME - 4) as u32).to_be_bytes());
    let batch = bytes::Bytes::from(frame.repeat(BATCH_FRAMES));
    let start = Instant::now();
    let mut s = conn.open_uni().await.expect("uni");
    let mut header = frame;
    header[4..12].copy_from_slice(&n.to_be_bytes());
    s.write_all(&header).await.expect("write");
    let mut sent = 0u64;
    while sent < n {
        s.write_chunk(batch.clone()).await.expect("write");
        sent += BATCH_FRAMES as u64;
    }
    assert_eq!(sent, n, "rounds are whole batches");
    let (_, control) = peer.control();
    let mut done = [0u8; 8];
    control.read_exact(&mut done).await.expect("done");
    let secs = start.elapsed().as_secs_f64();
    let _ = s.finish();
    sent as f64 / secs
}

async fn tell_burst(sink: &ActorRef<Sink>, n: u64) {
    for i in 0..n {
        let mut msg = Tick(i);
        loop {
            match sink.try_tell(msg) {
                Ok(()) => break,
                Err(TellError::MailboxFull(m)) => {
                    msg = m;
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("tell failed: {e}"),
            }
        }
        if i % 512 == 511 {
            tokio::task::yield_now().await;
        }
    }
}

/// How many tells `sink` has counted (the ask travels on the tells' lane,
/// behind them).
async fn count(sink: &ActorRef<Sink>) -> u64 {
    sink.ask(Count)
        .timeout(Duration::from_secs(120))
        .wait_if_full()
        .await
        .expect("count")
}

/// Sends `n` tells and waits for the actor to have counted them all.
async fn tell_round(sink: &ActorRef<Sink>, n: u64, expect_total: u64) -> f64 {
    let start = Instant::now();
    tell_burst(sink, n).await;
    assert_eq!(count(sink).await, expect_total, "every tell arrived");
    n as f64 / start.elapsed().as_secs_f64()
}

/// Medians over alternating floor and arbour rounds.
struct Rounds {
    floor_rate: f64,
    tell_rate: f64,
    ratio: f64,
}

/// `rounds` rounds of a raw floor burst, then the same number of arbour
/// tells to `sink` (whose counter stands at `total`, advanced here).
async fn alternate_rounds(
    peer: &mut Peer,
    sink: &ActorRef<Sink>,
    rounds: usize,
    total: &mut u64,
) -> Rounds {
    let (mut floor, mut tell, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let f = floor_round(peer, ROUND_MSGS).await;
        *total += ROUND_MSGS;
        let t = tell_round(sink, ROUND_MSGS, *total).await;
        floor.push(f);
        tell.push(t);
        ratio.push(t / f);
    }
    Rounds {
        floor_rate: median(floor),
        tell_rate: median(tell),
        ratio: median(ratio),
    }
}

async fn measure(node: Node, floor_addr: SocketAddr, node_addr: SocketAddr) {
    let workers = node.worker_count();
    println!("remote.workers {workers} workers");
    // 1: on a thread of its own; 0: on the first worker, with actors
    println!("remote.network_thread {} flag", u8::from(network_thread()));
    let floor = raw_endpoint("floor-client");
    let mut peer = floor
        .connect(floor_addr, "floor-server")
        .await
        .expect("floor connect");
    node.net()
        .connect("server", node_addr)
        .await
        .expect("connect");
    let sink: ActorRef<Sink> = node
        .lookup("server", "sink", Duration::from_secs(10))
        .await
        .expect("lookup");

    // warm up both paths
    floor_round(&mut peer, 204_800).await;
    let mut total = 0;
    total += 204_800;
    tell_round(&sink, 204_800, total).await;

    let main = alternate_rounds(&mut peer, &sink, ROUNDS, &mut total).await;
    println!("remote.floor.frames_per_s {:.0} frames/s", main.floor_rate);
    println!("remote.tell.msgs_per_s {:.0} msgs/s", main.tell_rate);
    println!("remote.tell.floor_ratio {:.3} ratio", main.ratio);

    // the same tells to an actor on another worker than the transport's
    let far: ActorRef<Sink> = node
        .lookup("server", "sink_far", Duration::from_secs(10))
        .await
        .expect("lookup");
    let far = alternate_rounds(&mut peer, &far, 3, &mut 0).await;
    println!(
        "remote.tell.cross_worker_msgs_per_s {:.0} msgs/s",
        far.tell_rate
    );
    println!(
        "remote.tell.cross_worker_floor_ratio {:.3} ratio",
        far.ratio
    );

    // round trips
    let (mut send, mut recv) = peer.connection().open_bi().await.expect("bidi");
    let mut buf = [0u8; FRAME];
    // raw and arbour round trips alternate, one each per step, so both see
    // the same machine (this shared host drifts over a run)
    let mut raw = Vec::with_capacity(RTTS);
    let mut asks = Vec::with_capacity(RTTS);
    for i in 0..RTTS + 1000 {
        let t = Instant::now();
        send.write_all(&buf).await.expect("write");
        recv.read_exact(&mut buf).await.expect("read");
        let raw_ns = t.elapsed().as_nanos() as u64;
        let t = Instant::now();
        let r = sink.ask(Echo(i as u64)).await.expect("ask");
        let ask_ns = t.elapsed().as_nanos() as u64;
        assert_eq!(r, i as u64);
        if i >= 1000 {
            raw.push(raw_ns);
            asks.push(ask_ns);
        }
    }
    raw.sort_unstable();
    asks.sort_unstable();
    let raw_p50 = percentile(&raw, 0.5);
    let ask_p50 = percentile(&asks, 0.5);
    println!("remote.floor.rtt_p50_us {:.1} us", raw_p50 as f64 / 1000.0);
    println!(
        "remote.floor.rtt_p99_us {:.1} us",
        percentile(&raw, 0.99) as f64 / 1000.0
    );
    println!("remote.ask.rtt_p50_us {:.1} us", ask_p50 as f64 / 1000.0);
    println!(
        "remote.ask.rtt_p99_us {:.1} us",
        percentile(&asks, 0.99) as f64 / 1000.0
    );
    println!(
        "remote.ask.rtt_ratio {:.3} ratio",
        ask_p50 as f64 / raw_p50 as f64
    );

    // memory across 10M tells, after 2M in the same pattern have filled
    // every buffer to its working size
    for _ in 0..2 {
        total += 1_000_000;
        tell_round(&sink, 1_000_000, total).await;
    }
    let (local_before, remote_before) = (
        rss_bytes(),
        sink.ask(Rss).wait_if_full().await.expect("rss"),
    );
    // both sides' RSS after each million, so a plateau (buffers reaching
    // a working size once) is told apart from a leak (steady growth)
    let mut trace = Vec::new();
    let mut sent = 0;
    while sent < RSS_MSGS {
        total += 1_000_000;
        tell_round(&sink, 1_000_000, total).await;
        sent += 1_000_000;
        let receiver = sink.ask(Rss).wait_if_full().await.expect("rss");
        trace.push((rss_bytes() / 1024, receiver / 1024));
    }
    let (local_after, remote_after) = (
        rss_bytes(),
        sink.ask(Rss).wait_if_full().await.expect("rss"),
    );
    let growth = |a: u64, b: u64| a.saturating_sub(b);
    let sender = growth(local_after, local_before);
    let receiver = growth(remote_after, remote_before);
    println!("remote.rss_growth_sender_bytes {sender} bytes");
    println!("remote.rss_growth_receiver_bytes {receiver} bytes");
    println!("remote.rss_growth_bytes {} bytes", sender.max(receiver));
    let column = |pick: fn(&(u64, u64)) -> u64| -> String {
        let kib: Vec<String> = trace.iter().map(|t| pick(t).to_string()).collect();
        kib.join(",")
    };
    println!(
        "remote.rss_sender_kib_per_million {} (before: {})",
        column(|t| t.0),
        local_before / 1024
    );
    println!(
        "remote.rss_receiver_kib_per_million {} (before: {})",
        column(|t| t.1),
        remote_before / 1024
    );

    // a burst of plain tells, as one actor's handler would send them: no
    // yield between them, no try_tell loop; all are queued, none dropped
    const BURST: u64 = 1_000_000;
    let before = rss_bytes();
    let start = Instant::now();
    for i in 0..BURST {
        sink.tell(Tick(i));
    }
    let queued_rss = rss_bytes().saturating_sub(before);
    let delivered = count(&sink).await - total;
    println!(
        "remote.tell.burst_delivered {:.6} ratio",
        delivered as f64 / BURST as f64
    );
    println!(
        "remote.tell.burst_msgs_per_s {:.0} msgs/s",
        BURST as f64 / start.elapsed().as_secs_f64()
    );
    println!("remote.tell.burst_sender_rss_growth_bytes {queued_rss} bytes");
    println!(
        "remote.stats late_replies={} undeliverable={} dead_letters={} full_drops={} outbound_drops={}",
        node.net().stats().late_replies,
        node.net().stats().undeliverable,
        node.stats().dead_letters,
        node.stats().mailbox_full_drops,
        node.stats().outbound_drops
    );
}
