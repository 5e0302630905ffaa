//! A node that returns gets its share: three `arbour run` nodes, a pool of
//! four on the two workers supervised on alpha. gamma is SIGKILLed (its
//! two instances restart on beta: beta=4), then started again as a new
//! life: alpha moves two instances back to it, one at a time, each started
//! on gamma before it stops on beta. A client watching the pool's group
//! every 10 ms never sees fewer than four; the supervisor counts no
//! restart for the moves; the pool ends at beta=2 gamma=2.

use super::singleton::{cluster_status, run_node, start_all};
use super::up::{fib_cluster_file, wait_for};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

/// A client (not a member) connected to `nodes`, sampling the size of
/// group `fib` every 10 ms (the latest in `latest`) until `stop`; returns
/// the sizes seen.
fn watch_group(
    cluster: &str,
    nodes: Vec<(String, std::net::SocketAddr)>,
    stop: Arc<AtomicBool>,
    latest: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Vec<usize>> {
    let cluster = cluster.to_owned();
    std::thread::spawn(move || {
        arbour_tests::with_client("watcher", (&cluster, "s3cret"), None, |node| async move {
            let mut sizes = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0u32;
            while !stop.load(Ordering::Acquire) {
                if n.is_multiple_of(50) {
                    // (re)connect: gamma's new life too
                    for (name, addr) in &nodes {
                        let _ = tokio::time::timeout(
                            Duration::from_millis(300),
                            node.net().connect(name, *addr),
                        )
                        .await;
                    }
                }
                n += 1;
                tick.tick().await;
                let size = node.global().group_ids("fib").len();
                latest.store(size, Ordering::Release);
                sizes.push(size);
            }
            sizes
        })
    })
}

/// The `listen` address of each node in the file at `path` (alpha, beta,
/// gamma, in the file's order).
fn addresses(path: &std::path::Path) -> Vec<(String, std::net::SocketAddr)> {
    let text = std::fs::read_to_string(path).expect("the file");
    let listens = text
        .lines()
        .filter_map(|l| l.strip_prefix("listen = \""))
        .map(|l| l.trim_end_matches('"').parse().expect("an address"));
    ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| n.to_string())
        .zip(listens)
        .collect()
}

#[test]
fn a_node_that_returns_gets_its_share_of_the_instances_moved_stop_after_start() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (dir, path) = fib_cluster_file("rebalance");
    let (tx, lines) = channel();
    let mut nodes = start_all(&path, &tx, &lines);
    // gamma dies: its instances restart on beta
    nodes.0[2].kill().expect("SIGKILL gamma");
    let _ = nodes.0[2].wait();
    wait_for(&lines, "[alpha] member down gamma");
    let restarts = |status: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with("alpha "))
            .expect("alpha's line");
        line.split_whitespace()
            .nth(3)
            .and_then(|r| r.parse().ok())
            .expect("alpha's restarts")
    };
    // gamma's two instances restarted on beta (and counted as restarts)
    let deadline = std::time::Instant::now() + arbour_tests::LIMIT;
    let before = loop {
        let s = cluster_status(&path, "gamma gone");
        if s.contains("4 of 4 instances (beta=4)") && restarts(&s) == 2 {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never beta=4 after 2 restarts:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let restarts_before = restarts(&before);
    // the watcher sees the pool from before gamma returns until balanced
    let (stop, latest) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let watcher = watch_group("rebalance", addresses(&path), stop.clone(), latest.clone());
    let deadline = std::time::Instant::now() + arbour_tests::LIMIT;
    while latest.load(Ordering::Acquire) < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never saw the pool"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let back = std::time::Instant::now();
    nodes.0[2] = run_node(&path, "gamma", &tx);
    let balanced = wait_for(&lines, "deploy fib rebalanced");
    eprintln!(
        "{balanced}: {:?} after gamma was started again",
        back.elapsed()
    );
    assert!(
        balanced.starts_with("[alpha] ") && balanced.contains("2 moved (beta=2 gamma=2)"),
        "{balanced}"
    );
    let after = cluster_status(&path, "balanced");
    eprintln!("{after}");
    assert!(
        after.contains("4 of 4 instances (beta=2 gamma=2), supervised on alpha"),
        "{after}"
    );
    assert_eq!(
        restarts(&after),
        restarts_before,
        "the moves counted as restarts:\n{before}\n{after}"
    );
    stop.store(true, Ordering::Release);
    let sizes = watcher.join().expect("watcher");
    // from the first sample that saw the whole pool on
    let seen: Vec<usize> = sizes.iter().copied().skip_while(|s| *s < 4).collect();
    assert!(
        seen.len() > 100,
        "the watcher saw the pool too briefly: {sizes:?}"
    );
    let least = seen.iter().min().copied().unwrap_or(0);
    let most = seen.iter().max().copied().unwrap_or(0);
    eprintln!(
        "the watcher saw {} samples: between {least} and {most} instances",
        seen.len()
    );
    assert!(
        least >= 4,
        "the pool ran fewer than 4 instances during the moves: {least}"
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
