//! How late the last survivor reaches the verdict on a crashed member:
//! SWIM machines (arbour's `MembershipMachine` over foca, default
//! settings) on an in-memory network under virtual time, with packet loss
//! as arbour's membership sees it: its packets travel on QUIC streams, so a
//! lost datagram arrives late (resent after a probe timeout), never not at
//! all, and holds up what follows it between the same two members.
//! The cluster forms on a clean network; then, with the loss, members crash
//! one at a time; for each crash, every survivor's time from the crash to
//! its own `Down` of that member is a sample.
//!
//! - `verdict.samples`: survivor samples over every seed.
//! - `verdict.p50_ms`, `verdict.p99_ms`, `verdict.max_ms`: crash → a
//!   survivor's `Down`, in virtual milliseconds.
//! - `verdict.late`: samples over 5 s (a survivor that missed every copy of
//!   the news and waited for its own probe of the dead member).
//! - `verdict.false_downs`: members that never crashed declared down (the
//!   price of a verdict reached sooner).
//!
//! `cargo bench -p arbour --bench verdict` (`-- MEMBERS CRASHES SEEDS LOSS%`
//! to change the defaults: 100 members, 45 crashes, 3 seeds, 10 % loss:
//! over 10,000 survivor samples, about 5 minutes).

use arbour::cluster::{MemberEvent, MemberId, MembershipConfig};
use arbour::membership::MembershipMachine;
use foca::Timer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

/// foca's timers are not `Ord`: the queue holds a key to them.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Packet(Vec<u8>),
    Timer(u64),
}

/// Members on an in-memory network: a packet arrives after 1 ms unless
/// lost; timers fire in due order.
struct Net {
    nodes: Vec<MembershipMachine>,
    crashed: Vec<bool>,
    now: Duration,
    queue: BinaryHeap<Reverse<(Duration, u64, usize, Work)>>,
    timers: BTreeMap<u64, Timer<MemberId>>,
    seq: u64,
    loss: f64,
    /// When the last packet from one member to another arrives (a stream
    /// delivers in order).
    last: BTreeMap<(usize, usize), Duration>,
    rng: ChaCha8Rng,
    /// (when, who, event)
    events: Vec<(Duration, usize, MemberEvent)>,
}

impl Net {
    fn new(n: usize, loss: f64, seed: u64) -> Self {
        let nodes = (0..n)
            .map(|i| {
                let id = MemberId {
                    name: format!("m{i:03}"),
                    incarnation: 1,
                    addr: format!("10.0.{}.{}:7000", i / 250, i % 250 + 1)
                        .parse()
                        .expect("addr"),
                    roles: Vec::new(),
                };
                MembershipMachine::new(
                    id,
                    &MembershipConfig::default(),
                    n as u32,
                    ChaCha8Rng::seed_from_u64(seed * 1_000 + i as u64),
                )
            })
            .collect();
        Self {
            nodes,
            crashed: vec![false; n],
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            timers: BTreeMap::new(),
            seq: 0,
            loss,
            last: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            events: Vec::new(),
        }
    }

    fn index(name: &str) -> usize {
        name[1..].parse().expect("index")
    }

    fn flush(&mut self, i: usize) {
        let (mut sends, mut sets) = (Vec::new(), Vec::new());
        let m = &mut self.nodes[i];
        while let Some((to, bytes)) = m.next_send() {
            sends.push((Self::index(&to.name), bytes));
        }
        while let Some(t) = m.next_timer() {
            sets.push(t);
        }
        while let Some(e) = m.next_event() {
            self.events.push((self.now, i, e));
        }
        for (to, bytes) in sends {
            // membership packets travel on a QUIC stream: a lost datagram is
            // sent again after the probe timeout (30 ms here, doubling), and
            // what follows on the stream waits for it
            let mut at = self.now + Duration::from_millis(1);
            let mut pto = Duration::from_millis(30);
            while self.rng.gen::<f64>() < self.loss {
                at += pto;
                pto *= 2;
            }
            let last = self.last.entry((i, to)).or_default();
            at = at.max(*last);
            *last = at;
            self.seq += 1;
            self.queue
                .push(Reverse((at, self.seq, to, Work::Packet(bytes))));
        }
        for (after, timer) in sets {
            self.seq += 1;
            self.timers.insert(self.seq, timer);
            self.queue.push(Reverse((
                self.now + after,
                self.seq,
                i,
                Work::Timer(self.seq),
            )));
        }
    }

    /// Runs until `until`, or until `done` holds (checked after each step).
    fn run_until(&mut self, until: Duration, mut done: impl FnMut(&Self) -> bool) {
        while let Some(Reverse((at, _, _, _))) = self.queue.peek() {
            if *at > until || done(self) {
                break;
            }
            let Some(Reverse((at, _, to, work))) = self.queue.pop() else {
                break;
            };
            self.now = at;
            if self.crashed[to] {
                if let Work::Timer(seq) = work {
                    self.timers.remove(&seq);
                }
                continue;
            }
            match work {
                Work::Packet(bytes) => self.nodes[to].on_packet(&bytes),
                Work::Timer(seq) => {
                    if let Some(t) = self.timers.remove(&seq) {
                        self.nodes[to].on_timer(t);
                    }
                }
            }
            self.flush(to);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let arg = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (members, crashes, seeds, loss) = (
        arg(0, 100.0) as usize,
        arg(1, 45.0) as usize,
        arg(2, 3.0) as u64,
        arg(3, 10.0) / 100.0,
    );
    let mut samples: Vec<Duration> = Vec::new();
    let (mut missing, mut false_downs) = (0usize, 0usize);
    for seed in 1..=seeds {
        // the cluster forms on a clean network; the loss starts after
        let mut net = Net::new(members, 0.0, seed);
        let seed_member = net.nodes[0].me().clone();
        for i in 1..members {
            net.nodes[i].join(seed_member.clone());
            net.flush(i);
        }
        // as the node's driver does: a member that knows nobody announces
        // itself to the seed again every 200 ms
        let formed = |n: &Net| n.nodes.iter().all(|m| m.members().len() == members - 1);
        while !formed(&net) && net.now < Duration::from_secs(300) {
            let step = net.now + Duration::from_millis(200);
            net.run_until(step, formed);
            net.now = net.now.max(step);
            for i in 1..members {
                if net.nodes[i].members().is_empty() {
                    net.nodes[i].join(seed_member.clone());
                    net.flush(i);
                }
            }
        }
        let seen: Vec<usize> = net.nodes.iter().map(|m| m.members().len()).collect();
        assert!(
            formed(&net),
            "the cluster formed (seed {seed}): members seen min {:?} max {:?}, down entries {}",
            seen.iter().min(),
            seen.iter().max(),
            net.nodes
                .iter()
                .map(|m| m.remembered_down().len())
                .sum::<usize>()
        );
        eprintln!("seed {seed}: formed in {:?} virtual", net.now);
        net.loss = loss;
        // settle: suspicions from forming refuted
        let settle = net.now + Duration::from_secs(5);
        net.run_until(settle, |_| false);
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 7);
        for _ in 0..crashes {
            let alive: Vec<usize> = (1..members).filter(|i| !net.crashed[*i]).collect();
            let victim = alive[rng.gen_range(0..alive.len())];
            let name = format!("m{victim:03}");
            net.crashed[victim] = true;
            let (at, from) = (net.now, net.events.len());
            // the survivors still in the cluster (m000 never crashes; a
            // member the loss got declared down is out, and hears nothing)
            let in_cluster: Vec<String> =
                net.nodes[0].members().into_iter().map(|m| m.name).collect();
            let survivors: Vec<usize> = (0..members)
                .filter(|i| !net.crashed[*i])
                .filter(|i| *i == 0 || in_cluster.contains(&format!("m{i:03}")))
                .collect();
            let verdicts = |n: &Net| {
                n.events[from..]
                    .iter()
                    .filter(|(_, _, e)| matches!(e, MemberEvent::Down(m) if m.name == name))
                    .count()
            };
            net.run_until(at + Duration::from_secs(30), |n| {
                verdicts(n) >= survivors.len()
            });
            let mut seen = vec![false; members];
            for (t, who, e) in &net.events[from..] {
                let counted = survivors.contains(who) && !seen[*who];
                if matches!(e, MemberEvent::Down(m) if m.name == name) && counted {
                    seen[*who] = true;
                    samples.push(*t - at);
                }
            }
            missing += survivors.iter().filter(|s| !seen[**s]).count();
            // a little quiet between crashes
            let quiet = net.now + Duration::from_secs(2);
            net.run_until(quiet, |_| false);
        }
        let mut falsely: Vec<&str> = net
            .events
            .iter()
            .filter(|(_, who, _)| !net.crashed[*who])
            .filter_map(|(_, _, e)| match e {
                MemberEvent::Down(m) if !net.crashed[Net::index(&m.name)] => Some(m.name.as_str()),
                _ => None,
            })
            .collect();
        falsely.sort_unstable();
        falsely.dedup();
        false_downs += falsely.len();
        eprintln!("seed {seed}: {} samples so far", samples.len());
    }
    samples.sort();
    println!(
        "verdict.false_downs {false_downs} members (that never crashed, declared down by one that had not, over every seed)"
    );
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "verdict.samples {} samples ({members} members, {crashes} crashes x {seeds} seeds, {:.0} % loss; {missing} survivors never reached it within 30 s)",
        samples.len(),
        loss * 100.0
    );
    println!("verdict.p50_ms {:.0} ms", ms(pct(0.5)));
    println!("verdict.p99_ms {:.0} ms", ms(pct(0.99)));
    println!("verdict.max_ms {:.0} ms", ms(pct(1.0)));
    println!(
        "verdict.late {} samples over 5 s",
        samples
            .iter()
            .filter(|d| **d > Duration::from_secs(5))
            .count()
    );
}
