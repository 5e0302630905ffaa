//! Partitions between real hosts (network namespaces joined by veth links
//! to a bridge; a side's links are moved to a bridge of its own): five
//! `arbour run` processes from one file, cut 2|3 for 30 s, 1|4 and 2|2|1
//! for 15 s, then healed. The split-brain resolver (keep-majority) has
//! every side without a majority down itself within `stable_after` + 2 s
//! (2|2|1: every side, the documented rule when no side has a majority),
//! and no other side; the new lives wait for more than half of the file's
//! nodes before they start their deployments (so none runs on a losing
//! side); after the heal they are members again within 10 s, no operator,
//! and the deployment runs again. Skipped (saying so) where the namespaces
//! cannot be made.

use super::hosts::Hosts;
use arbour_tests::LIMIT;
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
        self.seen
            .iter()
            .map(|(i, l, _)| format!("n{i}: {l}"))
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
    partition(&[&[1, 2]], &[1, 2], Duration::from_secs(30));
}

#[test]
fn a_partition_1_4_downs_the_lone_node() {
    partition(&[&[1]], &[1], Duration::from_secs(15));
}

/// No side holds a majority: every side downs itself, and the cluster
/// forms again from their new lives once the partition heals.
#[test]
fn a_partition_2_2_1_with_no_majority_downs_every_side() {
    partition(
        &[&[1, 2], &[3, 4]],
        &[1, 2, 3, 4, 5],
        Duration::from_secs(15),
    );
}

/// Cuts the five hosts into `groups` (the hosts in none stay together) for
/// `hold`; the nodes `losers` must down themselves, the others not.
fn partition(groups: &[&[usize]], losers: &[usize], hold: Duration) {
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
        file +=
            &format!("\n[[node]]\nname = \"n{i}\"\nlisten = \"10.231.0.{i}:7100\"\nworkers = 1\n");
    }
    // a deployment supervised on the small side: its new lives must not
    // start it again while they are cut off
    file += "\n[[deploy]]\nname = \"pool\"\nkind = \"fib_worker\"\ninstances = 2\n\
             on = { node = \"n1\" }\nsupervise_on = \"n1\"\n";
    std::fs::write(&path, file).expect("write");
    let (tx, lines) = channel();
    let mut runs = Vec::new();
    for i in 1..=hosts.names.len() {
        let tx = tx.clone();
        runs.push(hosts.run_node(i, &path, move |line| {
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

    // cut 2|3
    let cut = Instant::now();
    hosts.partition(groups);
    w.until("the small side downs itself", LIMIT, |seen| {
        small
            .iter()
            .all(|i| first(seen, *i, &format!("node n{i} downed"), cut).is_some())
    });
    let bound = STABLE_AFTER + Duration::from_secs(2);
    for &i in &small {
        let at = first(&w.seen, i, &format!("node n{i} downed"), cut).expect("downed");
        eprintln!("n{i} downed itself {:?} after the cut", at - cut);
        assert!(
            at - cut <= bound + Duration::from_millis(1500),
            "n{i} downed itself {:?} after the cut (stable_after + 2 s + detection: {bound:?} + 1.5 s)",
            at - cut
        );
    }
    // the rest of the partition: the big side never downs itself, and the
    // small side's new lives wait, starting nothing
    std::thread::sleep(hold.saturating_sub(cut.elapsed()));
    w.drain();
    for &i in &big {
        assert!(
            first(&w.seen, i, &format!("node n{i} downed"), cut).is_none(),
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
                cut
            )
            .is_some(),
            "n{i}'s new life does not wait for the cluster:\n{}",
            w.log()
        );
        assert!(
            first(&w.seen, i, &format!("node n{i} admitted"), cut).is_none(),
            "n{i}'s new life was admitted on the small side:\n{}",
            w.log()
        );
    }
    for &i in &small {
        assert!(
            first(&w.seen, i, "deploy pool started", cut).is_none()
                && first(&w.seen, i, "deploy pool taken over", cut).is_none(),
            "the small side started its deployment again:\n{}",
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
    // the pool runs again (on n1, where its placement puts it), supervised
    // by whichever node holds it now
    w.until("the deployment runs again", within, |seen| {
        all.iter().any(|i| {
            first(seen, *i, "deploy pool started", healed)
                .or_else(|| first(seen, *i, "deploy pool taken over", healed))
                .is_some()
        })
    });
    drop(runs);
    let _ = std::fs::remove_dir_all(&dir);
}
