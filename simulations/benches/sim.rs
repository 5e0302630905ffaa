//! Simulator speed (DESIGN.md §10): virtual seconds of a whole cluster per
//! wall second, with light traffic and default failure-detection settings.
//!
//! - `sim.speedup.10nodes`: 10 members, 300 virtual seconds after the
//!   cluster formed, one ask from the first member to every other one per
//!   virtual second.
//! - `sim.speedup.100nodes`: 100 members, 60 virtual seconds, the same.
//! - `sim.form.Nnodes`: how long forming took (every member sees every
//!   other), in virtual and wall seconds: apart, since it is a burst of
//!   N(N-1)/2 TLS handshakes that a long run pays once.
//! - `sim.sweep.seeds_per_min`: partition-heal runs (5 members) per minute.
//! - `cluster.wan.suspicions_per_node_min` (a figure of the cluster issue,
//!   measured here: this machine's kernel has no `netem` to slow real
//!   links): 5 members over links of 100 ± 20 ms one way (200 ms round
//!   trips) losing 3% of datagrams, 5 virtual minutes, an ask from each
//!   member to another every virtual second; also `cluster.wan.downs`
//!   and the asks that failed. Target: under 1, and 0 downs.
//!
//! `cargo bench -p arbour-sim --bench sim`

use arbour_sim::cluster_scenarios::{run, Scenario};
use arbour_sim::{run_paused, SimCluster};
use arbour_testkit::{Echo, Ping};
use std::time::{Duration, Instant};

/// One run: how the cluster formed, and how fast it then ran.
struct Speed {
    /// Virtual seconds per wall second once the cluster formed.
    speedup: f64,
    /// Virtual seconds covered after forming.
    covered: Duration,
    /// Until every member saw every other: virtual and wall time.
    formed_virtual: Duration,
    formed_wall: Duration,
    /// Datagrams delivered per virtual second once formed.
    packets_per_s: f64,
    /// Wall time after forming.
    ran_wall: Duration,
}

/// `nodes` members join through the first; once every member sees every
/// other (formation, measured apart: thousands of TLS handshakes at once),
/// the first asks every other member's echo once a virtual second, for
/// `virtual_secs`.
fn speedup(nodes: usize, virtual_secs: u64) -> Speed {
    run_paused(|| async move {
        let wall = Instant::now();
        let begun = tokio::time::Instant::now();
        let mut cluster = SimCluster::new(1, Duration::from_millis(1));
        let (first, seed) = cluster.start_member("m0", None).await.expect("m0");
        let mut others = Vec::new();
        for i in 1..nodes {
            let (n, _) = cluster
                .start_member(&format!("m{i}"), Some(("m0", seed)))
                .await
                .expect("member");
            let echo = n.spawn(Echo::default());
            n.expose("echo", &echo).expect("expose");
            others.push(n);
        }
        let formed = || {
            first.membership().members().len() == nodes - 1
                && others
                    .iter()
                    .all(|n| n.membership().members().len() == nodes - 1)
        };
        let mut shown = 0;
        while !formed() {
            assert!(
                begun.elapsed() < Duration::from_secs(600),
                "the cluster formed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            let secs = begun.elapsed().as_secs();
            if std::env::var_os("SIM_BENCH_PROGRESS").is_some() && secs >= shown + 5 {
                shown = secs;
                let seen: Vec<usize> = others
                    .iter()
                    .map(|n| n.membership().members().len())
                    .collect();
                let down: usize = others.iter().map(|n| n.membership().down().len()).sum();
                eprintln!(
                    "  {secs} s: members seen min {} max {}, {} full, {down} down entries, {:.1} s wall",
                    seen.iter().min().unwrap_or(&0),
                    seen.iter().max().unwrap_or(&0),
                    seen.iter().filter(|c| **c == nodes - 1).count(),
                    wall.elapsed().as_secs_f64()
                );
            }
        }
        let (formed_virtual, formed_wall) = (begun.elapsed(), wall.elapsed());
        let (wall, started) = (Instant::now(), tokio::time::Instant::now());
        let delivered_before = cluster.net.counts().delivered;
        let mut refs = Vec::new();
        for i in 1..nodes {
            let r = first
                .lookup::<Echo>(&format!("m{i}"), "echo", Duration::from_secs(60))
                .await
                .expect("lookup");
            refs.push(r);
        }
        while started.elapsed() < Duration::from_secs(virtual_secs) {
            for r in &refs {
                let _ = r.ask(Ping(1)).timeout(Duration::from_secs(2)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let covered = started.elapsed();
        let ran_wall = wall.elapsed();
        let speedup = covered.as_secs_f64() / ran_wall.as_secs_f64();
        let packets_per_s =
            (cluster.net.counts().delivered - delivered_before) as f64 / covered.as_secs_f64();
        drop(others);
        Speed {
            speedup,
            covered,
            formed_virtual,
            formed_wall,
            packets_per_s,
            ran_wall,
        }
    })
}

/// Five members over a slow, lossy WAN for five virtual minutes
/// (`arbour_sim::wan`).
fn wan() {
    const MINUTES: u64 = 5;
    let run = arbour_sim::wan::wan(7, MINUTES);
    let per = run.suspicions as f64 / (arbour_sim::wan::WAN_MEMBERS as u64 * MINUTES) as f64;
    println!(
        "cluster.wan.suspicions_per_node_min {per:.2} (5 members, 200 ms round trips, 3% loss, {MINUTES} virtual min; {} suspicions)",
        run.suspicions
    );
    println!("cluster.wan.downs {}", run.downs);
    println!(
        "cluster.wan.asks {} answered, {} failed",
        run.asks_ok, run.asks_failed
    );
}

fn report(nodes: usize, s: &Speed) {
    println!(
        "sim.speedup.{nodes}nodes {:.1} virtual s per wall s ({:.0} virtual s after forming)",
        s.speedup,
        s.covered.as_secs_f64()
    );
    let whole =
        (s.formed_virtual + s.covered).as_secs_f64() / (s.formed_wall + s.ran_wall).as_secs_f64();
    println!(
        "sim.speedup_with_forming.{nodes}nodes {whole:.1} virtual s per wall s (forming included)"
    );
    println!(
        "sim.packets_per_virtual_s.{nodes}nodes {:.0} datagrams (QUIC packets: SWIM, keep-alives, acks, asks)",
        s.packets_per_s
    );
    println!(
        "sim.form.{nodes}nodes {:.1} virtual s, {:.1} wall s (every member sees every other)",
        s.formed_virtual.as_secs_f64(),
        s.formed_wall.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `-- 100nodes` (or `10nodes`, `sweep`, `wan`) runs that part alone
    let parts = ["10nodes", "100nodes", "sweep", "wan"];
    let only: Vec<&str> = parts
        .into_iter()
        .filter(|p| args.iter().any(|a| a == p))
        .collect();
    let wanted = |p: &str| only.is_empty() || only.contains(&p);
    if wanted("10nodes") {
        report(10, &speedup(10, 300));
    }
    if wanted("100nodes") {
        let n = std::env::var("SIM_BENCH_NODES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        report(n, &speedup(n, 60));
    }
    if wanted("wan") {
        wan();
    }
    if !wanted("sweep") {
        return;
    }
    let t = Instant::now();
    let mut failing = 0;
    for seed in 1..=10 {
        if !run(Scenario::PartitionHeal, seed).violations.is_empty() {
            failing += 1;
        }
    }
    let per_min = 10.0 / (t.elapsed().as_secs_f64() / 60.0);
    println!("sim.sweep.seeds_per_min {per_min:.0} seeds/min (partition-heal, 5 members; {failing} of 10 seeds fail today)");
}
