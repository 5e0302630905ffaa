//! Leaving is a handover of what a node runs for others: `arbour run` of
//! three nodes, a pool of four on the two workers supervised on alpha;
//! SIGTERM gamma. Gamma drains: alpha's remote children start their
//! replacements on beta and only then stop the originals on gamma, so the
//! supervisor sees no exit (0 restarts); gamma then leaves (seen `left`,
//! never `down`) and exits 0; the pool is four on beta.

use super::paused::signal;
use super::singleton::{cluster_status, start_all};
use super::up::{fib_cluster_file, wait_for};
use arbour_tests::LIMIT;
use std::sync::mpsc::channel;
use std::time::Instant;

#[test]
fn a_worker_node_that_leaves_has_its_instances_started_elsewhere_before_they_stop() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (dir, path) = fib_cluster_file("drain");
    let (tx, lines) = channel();
    let mut nodes = start_all(&path, &tx, &lines);
    let gamma = &mut nodes.0[2];
    signal("-TERM", gamma.id());
    let began = Instant::now();
    let mut seen = Vec::new();
    let exited = loop {
        if let Some(code) = gamma.try_wait().expect("gamma") {
            break code;
        }
        assert!(
            began.elapsed() < LIMIT,
            "gamma still runs {LIMIT:?} after SIGTERM"
        );
        // what the others saw meanwhile
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(20)) {
            seen.push(line);
        }
    };
    let drained = began.elapsed();
    assert!(exited.success(), "gamma exited with {exited:?}");
    if !seen.iter().any(|l| l.contains("] member left gamma")) {
        seen.push(wait_for(&lines, "] member left gamma"));
    }
    while let Ok(line) = lines.try_recv() {
        seen.push(line);
    }
    assert!(
        !seen.iter().any(|l| l.contains("member down gamma")),
        "gamma left, it was not downed: {seen:?}"
    );
    let after = cluster_status(&path, "after gamma left");
    eprintln!("SIGTERM -> gamma gone: {drained:?}\n{after}");
    assert!(
        after.contains("deploy fib (fib_worker): 4 of 4 instances (beta=4), supervised on alpha"),
        "{after}"
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("gamma ") && l.contains(" left ")),
        "status calls gamma left: {after}"
    );
    let alpha = after
        .lines()
        .find(|l| l.starts_with("alpha "))
        .expect("alpha's row");
    assert!(
        alpha.trim_end().ends_with(" 0"),
        "the instances moved: alpha's supervisor restarted none: {alpha}"
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
