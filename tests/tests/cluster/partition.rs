//! Partitions between real hosts (network namespaces joined by veth links
//! to a bridge; a side's links are moved to a bridge of its own): five
//! `arbour run` processes from one file, a pool of 5 supervised on n1,
//! cut 2|3 for 30 s, 1|4 and 2|2|1 for 15 s, and one-way (n5's packets to
//! the others dropped, theirs to it delivered) for 15 s, then healed. The
//! split-brain resolver (keep-majority) has every side without a majority
//! down itself within `stable_after` + 2 s (2|2|1: every side, the
//! documented rule when no side has a majority), and no other side; the
//! new lives wait for more than half of the file's nodes before they start
//! their deployments (so none runs on a losing side); after the heal they
//! are members again within 10 s, no operator, and the deployment runs
//! again.
//!
//! A watcher on each side (a client in one of its hosts' namespaces) sees
//! throughout: the pool never runs more than 5 instances over all sides
//! at once, the deployment's fence (a name registered on n1) is never held
//! on two sides at once, and after `stable_after` + 2 s a losing side runs
//! none and holds nothing; every ask the watchers make through the pool's
//! group is answered or fails with a precise error, none waits out its
//! timeout. Skipped (saying so) where the namespaces cannot be made.

use arbour::Node;
use arbour_node::fib::{fib, Fib, FibWorker};
use arbour_tests::netns::{
    first, overlap, sees_up, until_seen, AskFuture, Asker, Cut, Side, Split, ALL, ASK_TIMEOUT,
};
use arbour_tests::{arbour_bin, LIMIT};
use std::time::{Duration, Instant};

const STABLE_AFTER: Duration = Duration::from_secs(3);

#[test]
fn a_partition_2_3_downs_the_small_side_which_rejoins_after_the_heal() {
    partition(Cut::Groups(&[&[1, 2]]), &[1, 2], Duration::from_secs(30));
}

#[test]
fn a_partition_1_4_downs_the_lone_node() {
    partition(Cut::Groups(&[&[1]]), &[1], Duration::from_secs(15));
}

#[test]
fn a_partition_2_2_1_with_no_majority_downs_every_side() {
    // no side holds more than half: keep-majority's tie rule (half of the
    // cluster holding its lowest name) needs an even split, so every side
    // downs itself and the cluster forms again after the heal
    partition(
        Cut::Groups(&[&[1, 2], &[3, 4]]),
        &[1, 2, 3, 4, 5],
        Duration::from_secs(15),
    );
}

#[test]
fn a_one_way_partition_downs_the_node_that_cannot_send() {
    partition(Cut::OneWay(5), &[5], Duration::from_secs(15));
}

/// The watchers' ask: a Fibonacci number, checked.
fn ask_fib(node: &Node, group: &str, n: u64) -> Option<AskFuture> {
    let pool = node.global().group::<FibWorker>(group);
    let worker = pool.get(n as usize % pool.len().max(1))?.clone();
    let k = 15 + (n % 10) as u32;
    Some(Box::pin(async move {
        let v = worker.ask(Fib(k)).timeout(ASK_TIMEOUT).await?;
        Ok(v == fib(k))
    }))
}

/// Cuts the five hosts as `cut` says for `hold`; the nodes `losers` must
/// down themselves, the others not.
fn partition(cut: Cut, losers: &[usize], hold: Duration) {
    let _one = arbour_tests::one_cluster_at_a_time();
    let Some(mut split) = Split::start(&arbour_bin(), Some(STABLE_AFTER)) else {
        eprintln!(
            "skipped: cannot make network namespaces here (needs root and `ip netns`); \
             nothing was checked"
        );
        return;
    };
    let all = ALL;
    let small: Vec<usize> = losers.to_vec();
    let big: Vec<usize> = all.into_iter().filter(|i| !small.contains(i)).collect();
    let sides = Split::sides(cut);
    let hosts = &split.hosts;
    let what = Split::watched();
    let asker: Asker = ask_fib;
    // a watcher of each side's own nodes counts what runs there; another
    // on each side, connected to every node, asks across the cut
    let watchers: Vec<Side> = sides
        .iter()
        .map(|s| Side::watch(hosts, s, s, what.clone(), None))
        .collect();
    // (not from a host that cannot send: a client there hears the others
    // and so never finds its connections lost; its asks wait out their
    // timeout, as an ask to a peer that never answers does)
    let mut askers: Vec<Side> = sides
        .iter()
        .filter(|s| !matches!(cut, Cut::OneWay(from) if s.contains(&from)))
        .map(|s| Side::watch(hosts, s, &all, what.clone(), Some(asker)))
        .collect();
    // every watcher sees its side's instances before the cut
    until_seen(&watchers.iter().collect::<Vec<_>>(), 5, LIMIT);

    let cut_at = Instant::now();
    split.cut(cut);
    let w = &mut split.lines;
    let downed = w.until_each(&small, "downed", cut_at, LIMIT);
    let bound = STABLE_AFTER + Duration::from_secs(2);
    for (&i, at) in small.iter().zip(downed) {
        eprintln!("n{i} downed itself {:?} after the cut", at - cut_at);
        assert!(
            at - cut_at <= bound + Duration::from_millis(1500),
            "n{i} downed itself {:?} after the cut (stable_after + 2 s + detection: {bound:?} + 1.5 s)",
            at - cut_at
        );
    }
    // the rest of the partition: the big side never downs itself, and the
    // small side's new lives wait, starting nothing
    std::thread::sleep(hold.saturating_sub(cut_at.elapsed()));
    w.drain();
    for &i in &big {
        assert!(
            first(&w.seen, i, &format!("node n{i} downed"), cut_at).is_none(),
            "n{i}, on the big side, downed itself:\n{}",
            w.log()
        );
    }
    for &i in &small {
        assert!(
            first(
                &w.seen,
                i,
                &format!("node n{i} waiting for 3 of the file's nodes"),
                cut_at
            )
            .is_some(),
            "n{i}'s new life does not wait for the cluster:\n{}",
            w.log()
        );
        assert!(
            first(&w.seen, i, &format!("node n{i} admitted"), cut_at).is_none(),
            "n{i}'s new life was admitted on the small side:\n{}",
            w.log()
        );
        assert!(
            first(&w.seen, i, "deploy pool started", cut_at).is_none()
                && first(&w.seen, i, "deploy pool taken over", cut_at).is_none(),
            "the small side started its deployment again:\n{}",
            w.log()
        );
    }
    // what the watchers saw: never more than 5 instances, never the fence
    // on two sides; after the bound, nothing on a losing side
    let watching: Vec<&Side> = watchers.iter().collect();
    let (most, holders, when) = overlap(&watching, cut_at);
    eprintln!("during the partition: at most {most} instances at once, the fence on at most {holders} side(s) at once");
    assert!(
        most <= 5,
        "{most} instances ran at once over the sides (5 configured), {:?} after the cut, {:?} since the first line:\n{}",
        when - cut_at,
        when - w.seen[0].2,
        w.log()
    );
    assert!(
        holders <= 1,
        "the deployment's fence was held on {holders} sides at once:\n{}",
        w.log()
    );
    for side in &watchers {
        if !side.nodes.iter().all(|i| small.contains(i)) {
            continue;
        }
        let late: Vec<_> = side
            .samples()
            .into_iter()
            .filter(|x| x.at >= cut_at + bound && (x.instances > 0 || x.holds_name))
            .collect();
        assert!(
            late.is_empty(),
            "the losing side {:?} still ran instances or held the fence {:?} after the cut: {:?}",
            side.nodes,
            late[0].at - cut_at,
            late[0]
        );
    }
    if let Some(winner) = watchers
        .iter()
        .find(|s| s.nodes.iter().all(|i| big.contains(i)) && !big.is_empty())
    {
        let last = winner.samples().last().cloned().expect("samples");
        assert!(
            last.instances == 5 && last.holds_name,
            "the side that goes on ({:?}) ends the partition with {} instances, fence held: {}:\n{}",
            winner.nodes,
            last.instances,
            last.holds_name,
            w.log()
        );
    }

    // heal: the downed nodes' new lives are members again, and admitted
    let healed = Instant::now();
    hosts.heal();
    let within = Duration::from_secs(10);
    w.until(
        "the two sides see each other's lives",
        within,
        // (the small side's new lives saw each other during the partition)
        |seen| {
            big.iter().all(|i| sees_up(seen, *i, &small, healed))
                && small.iter().all(|i| sees_up(seen, *i, &big, healed))
                && small
                    .iter()
                    .all(|i| first(seen, *i, &format!("node n{i} admitted"), healed).is_some())
        },
    );
    let back = small
        .iter()
        .filter_map(|i| first(&w.seen, *i, &format!("node n{i} admitted"), healed))
        .max()
        .expect("admitted");
    eprintln!(
        "the downed side's new lives are admitted {:?} after the heal",
        back - healed
    );
    if big.is_empty() {
        // every side downed itself: the cluster forms anew and starts it
        w.until("the deployment runs again", within, |seen| {
            all.iter()
                .any(|i| first(seen, *i, "deploy pool started", healed).is_some())
        });
    }
    for side in &mut askers {
        side.stop();
        let asks = side.asks();
        eprintln!("asks from side {:?}: {asks:?}", side.nodes);
        assert_eq!(
            asks.timed_out, 0,
            "asks from side {:?} waited out their timeout: {asks:?}",
            side.nodes
        );
        assert_eq!(asks.wrong, 0, "wrong answers on side {:?}", side.nodes);
        assert!(
            asks.ok > 0,
            "no ask answered on side {:?}: {asks:?}",
            side.nodes
        );
        // a client's connection to a node cut off counts as lost after
        // 3 s of silence: the asks to it fail then, with NodeDown
        assert!(
            asks.slowest_failure <= Duration::from_millis(3500),
            "an ask from side {:?} took {:?} to fail",
            side.nodes,
            asks.slowest_failure
        );
    }
    drop(watchers);
}
