//! Simulator speed (DESIGN.md §10): virtual seconds of a whole cluster per
//! wall second, with light traffic and default failure-detection settings.
//!
//! - `sim.speedup.10nodes`: 10 members, 300 virtual seconds, one ask from
//!   the first member to every other one per virtual second.
//! - `sim.speedup.100nodes`: 100 members, 60 virtual seconds, the same.
//! - `sim.sweep.seeds_per_min`: partition-heal runs (5 members) per minute.
//!
//! `cargo bench -p arbour-sim --bench sim`

use arbour_node::probe::{Echo, Ping};
use arbour_sim::cluster_scenarios::{run, Scenario};
use arbour_sim::{run_paused, SimCluster};
use std::time::{Duration, Instant};

fn speedup(nodes: usize, virtual_secs: u64) -> (f64, Duration) {
    let wall = Instant::now();
    let covered = run_paused(|| async move {
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
        let started = tokio::time::Instant::now();
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
        drop(others);
        covered
    });
    (
        covered.as_secs_f64() / wall.elapsed().as_secs_f64(),
        covered,
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (s10, v10) = speedup(10, 300);
    println!(
        "sim.speedup.10nodes {s10:.1} virtual s per wall s ({:.0} virtual s)",
        v10.as_secs_f64()
    );
    let (s100, v100) = speedup(100, 60);
    println!(
        "sim.speedup.100nodes {s100:.1} virtual s per wall s ({:.0} virtual s)",
        v100.as_secs_f64()
    );
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
