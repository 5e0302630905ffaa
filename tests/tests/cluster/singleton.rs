//! A deployment outlives its supervisor's node: `arbour up` on three nodes,
//! a pool of four on the two workers supervised on alpha; alpha SIGKILLed.
//! The oldest member left takes the supervisor over within a second of
//! alpha's being declared down, adopting the four instances that still run
//! (the same actors, none restarted); alpha, restarted by `up`, does not
//! take it back, and the pool stays at exactly four.

use super::paused::signal;
use super::up::{fib_cluster_file, wait_for};
use arbour_tests::{arbour_bin, LIMIT};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

/// `arbour run` of node `name`, its lines on `tx` as `[name] line`.
pub(crate) fn run_node(path: &std::path::Path, name: &str, tx: &Sender<String>) -> Child {
    let mut child = Command::new(arbour_bin())
        .args(["run", "--config"])
        .arg(path)
        .args(["--node", name, "--stdin-eof"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("arbour run");
    let out = child.stdout.take().expect("stdout");
    let (tx, name) = (tx.clone(), name.to_owned());
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(format!("[{name}] {line}")).is_err() {
                return;
            }
        }
    });
    child
}

pub(crate) struct Killed(pub(crate) Vec<Child>);
impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the file's three nodes and waits until alpha has started the pool
/// on the two workers.
/// `arbour status` of the cluster in `path`, which must succeed (`what`
/// names the moment, for the failure's text).
pub(crate) fn cluster_status(path: &std::path::Path, what: &str) -> String {
    let s = arbour_tests::run_arbour(&["status", "--config", path.to_str().expect("path")], LIMIT);
    assert!(s.status.success(), "{what}: {}", s.stderr);
    s.stdout
}

pub(crate) fn start_all(
    path: &std::path::Path,
    tx: &Sender<String>,
    lines: &Receiver<String>,
) -> Killed {
    let nodes = Killed(
        ["alpha", "beta", "gamma"]
            .iter()
            .map(|n| run_node(path, n, tx))
            .collect(),
    );
    let started = wait_for(lines, "deploy fib started");
    assert!(
        started.starts_with("[alpha] ") && started.contains("(beta=2 gamma=2)"),
        "{started}"
    );
    nodes
}

#[test]
fn a_deployment_is_taken_over_when_its_supervisors_node_dies_and_its_instances_adopted() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (dir, path) = fib_cluster_file("singleton");
    let (tx, lines) = channel();
    let mut nodes = start_all(&path, &tx, &lines);
    let status = |what: &str| cluster_status(&path, what);
    let before = status("before");
    eprintln!("{before}");
    // SIGKILL the supervising node (nothing restarts it)
    let killed = Instant::now();
    nodes.0[0].kill().expect("SIGKILL alpha");
    let _ = nodes.0[0].wait();
    let (mut down_at, mut taken) = (None, None);
    let deadline = Instant::now() + LIMIT;
    while taken.is_none() || down_at.is_none() {
        assert!(Instant::now() < deadline, "no takeover within {LIMIT:?}");
        let line = wait_for(&lines, "");
        if line.contains("] member down alpha") && down_at.is_none() {
            down_at = Some(Instant::now());
        }
        if line.contains("deploy fib taken over by") {
            taken = Some((line, Instant::now()));
        }
    }
    let (line, taken_at) = taken.expect("taken over");
    let down_at = down_at.expect("alpha declared down");
    let after_down = taken_at.saturating_duration_since(down_at);
    eprintln!(
        "{line}\nalpha down {:?} after the kill, the deployment taken over {after_down:?} after that",
        down_at - killed
    );
    assert!(
        line.contains("4 instances of fib_worker (beta=2 gamma=2), 4 adopted, 0 surplus stopped"),
        "every instance that ran is adopted: {line}"
    );
    assert!(
        after_down <= Duration::from_secs(1),
        "taken over {after_down:?} after alpha was declared down"
    );
    let taker = if line.starts_with("[beta]") {
        "beta"
    } else {
        "gamma"
    };
    let taken = status("taken over");
    assert!(
        taken.contains(&format!(
            "deploy fib (fib_worker): 4 of 4 instances (beta=2 gamma=2), supervised on {taker}"
        )),
        "{taken}"
    );
    // alpha comes back as a new life and leaves the supervisor where it is
    nodes.0[0] = run_node(&path, "alpha", &tx);
    wait_for(&lines, &format!("[{taker}] member up alpha"));
    let after = status("after");
    eprintln!("{after}");
    assert!(
        after.contains(&format!(
            "deploy fib (fib_worker): 4 of 4 instances (beta=2 gamma=2), supervised on {taker}"
        )),
        "{after}"
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM on the supervising node is a handover: before its supervisor
/// stops it releases the instances (they run on) and gives up the fence;
/// the others see it left (not down), and the next node in line adopts all
/// four at once.
#[test]
fn a_supervising_node_that_leaves_hands_its_deployment_over() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (dir, path) = fib_cluster_file("handover");
    let (tx, lines) = channel();
    let mut nodes = start_all(&path, &tx, &lines);
    signal("-TERM", nodes.0[0].id());
    let (mut left, mut taken, mut downs) = (false, None, Vec::new());
    let deadline = Instant::now() + LIMIT;
    while !left || taken.is_none() {
        assert!(Instant::now() < deadline, "no handover within {LIMIT:?}");
        let line = wait_for(&lines, "");
        left |= line.contains("] member left alpha");
        if line.contains("] member down alpha") {
            downs.push(line.clone());
        }
        if line.contains("deploy fib taken over by") {
            taken = Some(line);
        }
    }
    let taken = taken.expect("taken over");
    eprintln!("{taken}");
    assert!(
        taken.contains("4 instances of fib_worker (beta=2 gamma=2), 4 adopted, 0 surplus stopped"),
        "every instance is handed over: {taken}"
    );
    assert!(downs.is_empty(), "alpha left, it was not downed: {downs:?}");
    let status =
        arbour_tests::run_arbour(&["status", "--config", path.to_str().expect("path")], LIMIT);
    let taker = if taken.starts_with("[beta]") {
        "beta"
    } else {
        "gamma"
    };
    assert!(
        status.stdout.contains(&format!(
            "deploy fib (fib_worker): 4 of 4 instances (beta=2 gamma=2), supervised on {taker}"
        )),
        "{}",
        status.stdout
    );
    let _ = nodes.0[0].wait();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
