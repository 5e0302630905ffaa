//! Partitions between real hosts (the cluster issue's
//! `cluster.partition.*`): five `arbour run` processes, each in a network
//! namespace of its own, from one file with the resolver's defaults
//! (keep-majority, `stable_after` 5 s for five nodes) and a pool of 5
//! supervised on n1. The hosts are cut 2|3, 1|4 and one way (n5's packets
//! to the others dropped), twice each in turn; each cut is held until the
//! losing side has downed itself and 3 s more, then healed, and the next
//! waits until the downed nodes are members again. A watcher on each side
//! (a client inside one of its hosts) samples every 20 ms the pool's
//! instances running on the side's nodes and whether one of them holds the
//! deployment's fence.
//!
//! - `cluster.partition.resolve_ms` (p50 over the cuts) and
//!   `cluster.partition.resolve_ms.max`: the cut → the last node of the
//!   losing side says it downed itself. The floor is what the resolver is
//!   configured to wait, `cluster.partition.stable_after_ms`;
//!   `cluster.partition.resolve_ratio` is the p50 over it.
//! - `cluster.partition.max_instances_over`: instances above the
//!   configured 5, over all sides at once, at any sample from the cut
//!   until the cluster is whole again (the downed nodes admitted as new
//!   lives) (target 0). `cluster.partition.rebalance_instances_over`: the
//!   same over the 5 s after, while the returning nodes get their share
//!   back (a move starts the replacement before it stops the original, so
//!   1 is by design).
//! - `cluster.partition.fence_sides_max`: the most sides holding the
//!   deployment's fence at once (target 1).
//!
//! Needs root and `ip netns` (it says so and prints nothing else where
//! they are missing). `cargo bench -p arbour-node --bench partition`

use arbour_tests::netns::{overlap_between, until_seen, Cut, Side, Split};
use std::time::{Duration, Instant};

/// The resolver's default for five nodes.
const STABLE_AFTER: Duration = Duration::from_secs(5);
const WAIT: Duration = Duration::from_secs(60);

/// The cuts, in turn, with the nodes that must down themselves.
const CUTS: [(Cut, &[usize]); 6] = [
    (Cut::Groups(&[&[1, 2]]), &[1, 2]),
    (Cut::Groups(&[&[1]]), &[1]),
    (Cut::OneWay(5), &[5]),
    (Cut::Groups(&[&[4, 5]]), &[4, 5]),
    (Cut::Groups(&[&[3]]), &[3]),
    (Cut::OneWay(2), &[2]),
];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(mut split) = Split::start(&arbour_tests::arbour_bin(), None) else {
        println!("cluster.partition: skipped (needs root and `ip netns` to make hosts)");
        return;
    };
    let (mut resolve, mut over, mut moving_over, mut fence_sides) =
        (Vec::new(), 0usize, 0usize, 0usize);
    for (cut, losers) in CUTS {
        let sides = Split::sides(cut);
        let watchers: Vec<Side> = sides
            .iter()
            .map(|s| Side::watch(&split.hosts, s, s, Split::watched(), None))
            .collect();
        let watching: Vec<&Side> = watchers.iter().collect();
        // every side's watcher sees the pool before the cut
        until_seen(&watching, 5, WAIT);
        let cut_at = Instant::now();
        split.cut(cut);
        let downed = split.lines.until_each(losers, "downed", cut_at, WAIT);
        let downed = downed.into_iter().max().expect("downed");
        resolve.push((downed - cut_at).as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_secs(3));
        let healed = Instant::now();
        split.hosts.heal();
        split.lines.until_each(losers, "admitted", healed, WAIT);
        let whole = Instant::now();
        std::thread::sleep(Duration::from_secs(5));
        let (most, holders, _) = overlap_between(&watching, cut_at, Some(whole));
        // after: the returning nodes get their share back, each move
        // starting the replacement before it stops the original
        let (most_after, holders_after, _) = overlap_between(&watching, whole, None);
        eprintln!(
            "{cut:?}: downed {:.0} ms after the cut; until the cluster was whole again, at most {most} instances at once, \
             the fence on {holders} side(s) at once; in the 5 s after, at most {most_after} instances (rebalancing), fence on {holders_after}",
            resolve[resolve.len() - 1]
        );
        over = over.max(most.saturating_sub(5));
        moving_over = moving_over.max(most_after.saturating_sub(5));
        fence_sides = fence_sides.max(holders).max(holders_after);
    }
    resolve.sort_by(f64::total_cmp);
    let p50 = resolve[resolve.len() / 2];
    let floor = STABLE_AFTER.as_secs_f64() * 1e3;
    println!(
        "cluster.partition.resolve_ms {p50:.0} ms (p50 of {} cuts: 2|3, 1|4, one-way, twice each)",
        resolve.len()
    );
    println!(
        "cluster.partition.resolve_ms.max {:.0} ms",
        resolve[resolve.len() - 1]
    );
    println!("cluster.partition.stable_after_ms {floor:.0} ms (the resolver's wait: the floor)");
    println!("cluster.partition.resolve_ratio {:.2}", p50 / floor);
    println!(
        "cluster.partition.max_instances_over {over} (5 configured, from the cut until the cluster is whole again; target 0)"
    );
    println!(
        "cluster.partition.rebalance_instances_over {moving_over} (in the 5 s after: a rebalancing move runs its replacement before it stops the original)"
    );
    println!("cluster.partition.fence_sides_max {fence_sides} (target 1)");
}
