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
use arbour_tests::netns::{overlap, AskFuture, Asker, Hosts, Side, Watched, ASK_TIMEOUT};
use arbour_tests::{arbour_bin, LIMIT};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const STABLE_AFTER: Duration = Duration::from_secs(3);

/// Every node's stdout lines (node 1-based), with when each came; all
/// lines read so far are kept.
struct Watch {
    lines: Receiver<(usize, String, Instant)>,
    seen: Vec<(usize, String, Instant)>,
}

impl Watch {
    /// Reads lines until `done` holds of those seen (bounded by `within`).
    fn until(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&[(usize, String, Instant)]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(e) => panic!(
                    "{what}: not within {within:?} ({e}); lines:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Reads whatever has arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    fn log(&self) -> String {
        let t0 = self.seen.first().map(|(_, _, at)| *at);
        self.seen
            .iter()
            .map(|(i, l, at)| {
                format!(
                    "{:>7.3} n{i}: {l}",
                    t0.map_or(0.0, |t| (*at - t).as_secs_f64())
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// When node `i` first printed a line starting with `prefix`, after `from`.
fn first(
    seen: &[(usize, String, Instant)],
    i: usize,
    prefix: &str,
    from: Instant,
) -> Option<Instant> {
    seen.iter()
        .find(|(n, l, at)| *n == i && l.starts_with(prefix) && *at >= from)
        .map(|(_, _, at)| *at)
}

/// Whether node `i` sees every node of `others` up (a line `member up X`
/// or `member replaced X` after `from`).
fn sees_up(seen: &[(usize, String, Instant)], i: usize, others: &[usize], from: Instant) -> bool {
    others.iter().filter(|o| **o != i).all(|o| {
        first(seen, i, &format!("member up n{o} "), from).is_some()
            || first(seen, i, &format!("member replaced n{o} "), from).is_some()
    })
}

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

/// How the hosts are cut.
#[derive(Clone, Copy)]
enum Cut {
    /// Each group cut off from the rest and from each other (the hosts in
    /// none stay together).
    Groups(&'static [&'static [usize]]),
    /// What this host sends to the others is dropped; what they send to
    /// it arrives.
    OneWay(usize),
}

const PORT: u16 = 7100;

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
    let Some(hosts) = Hosts::make(5) else {
        eprintln!(
            "skipped: cannot make network namespaces here (needs root and `ip netns`); \
             nothing was checked"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("arbour-partition-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    let mut file = format!(
        "[cluster]\nname = \"split\"\nsecret = \"s3cret\"\n\n\
         [cluster.split_brain]\nstrategy = \"keep-majority\"\nstable_after = \"{}s\"\n",
        STABLE_AFTER.as_secs()
    );
    for i in 1..=5 {
        file += &format!(
            "\n[[node]]\nname = \"n{i}\"\nlisten = \"10.231.0.{i}:{PORT}\"\nworkers = 1\n"
        );
    }
    // a pool over every node, supervised on n1 (on the small side of the
    // cuts that have one)
    file += "\n[[deploy]]\nname = \"pool\"\nkind = \"fib_worker\"\ninstances = 5\n\
             supervise_on = \"n1\"\n";
    std::fs::write(&path, file).expect("write");
    let (tx, lines) = channel();
    let mut runs = Vec::new();
    for i in 1..=hosts.names.len() {
        let tx = tx.clone();
        runs.push(hosts.run_node(&arbour_bin(), i, &path, move |line| {
            tx.send((i, line, Instant::now())).is_ok()
        }));
    }
    let mut w = Watch {
        lines,
        seen: Vec::new(),
    };
    let all = [1, 2, 3, 4, 5];
    let small: Vec<usize> = losers.to_vec();
    let big: Vec<usize> = all.into_iter().filter(|i| !small.contains(i)).collect();
    let began = Instant::now();
    w.until("the cluster forms", LIMIT, |seen| {
        all.iter().all(|i| sees_up(seen, *i, &all, began))
            && first(seen, 1, "deploy pool started", began).is_some()
    });

    // a watcher on each side of the cut, asking through the pool's group
    let sides: Vec<Vec<usize>> = match cut {
        Cut::Groups(groups) => {
            let mut v: Vec<Vec<usize>> = groups.iter().map(|g| g.to_vec()).collect();
            let rest: Vec<usize> = all
                .into_iter()
                .filter(|i| !groups.iter().any(|g| g.contains(i)))
                .collect();
            v.push(rest);
            v
        }
        Cut::OneWay(from) => vec![vec![from], all.into_iter().filter(|i| *i != from).collect()],
    };
    let what = Watched {
        cluster: "split".into(),
        secret: "s3cret".into(),
        port: PORT,
        group: "pool".into(),
        name: arbour_node::fence_name("pool"),
    };
    let asker: Asker = ask_fib;
    // a watcher of each side's own nodes counts what runs there; another
    // on each side, connected to every node, asks across the cut
    let watchers: Vec<Side> = sides
        .iter()
        .map(|s| Side::watch(&hosts, s, s, what.clone(), None))
        .collect();
    // (not from a host that cannot send: a client there hears the others
    // and so never finds its connections lost; its asks wait out their
    // timeout, as an ask to a peer that never answers does)
    let mut askers: Vec<Side> = sides
        .iter()
        .filter(|s| !matches!(cut, Cut::OneWay(from) if s.contains(&from)))
        .map(|s| Side::watch(&hosts, s, &all, what.clone(), Some(asker)))
        .collect();
    // every watcher sees its side's instances before the cut
    let deadline = Instant::now() + LIMIT;
    while overlap(
        &watchers.iter().collect::<Vec<_>>(),
        Instant::now() - Duration::from_millis(100),
    )
    .0 < 5
    {
        assert!(
            Instant::now() < deadline,
            "the watchers never saw the pool's 5 instances"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let cut_at = Instant::now();
    match cut {
        Cut::Groups(groups) => hosts.partition(groups),
        Cut::OneWay(from) => {
            for to in all.into_iter().filter(|i| *i != from) {
                hosts.drop_from(from, to);
            }
        }
    }
    w.until("the small side downs itself", LIMIT, |seen| {
        small
            .iter()
            .all(|i| first(seen, *i, &format!("node n{i} downed"), cut_at).is_some())
    });
    let bound = STABLE_AFTER + Duration::from_secs(2);
    for &i in &small {
        let at = first(&w.seen, i, &format!("node n{i} downed"), cut_at).expect("downed");
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
    drop(runs);
    let _ = std::fs::remove_dir_all(&dir);
}
