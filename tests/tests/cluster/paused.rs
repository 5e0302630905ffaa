//! A member paused long enough for the cluster to declare it down
//! (SIGSTOP, as a long GC pause or an overloaded host would) learns it the
//! moment it resumes: the others' connections were closed saying so. It
//! shuts that life down and, as `on_downed = "rejoin"` (the default) says,
//! starts again in the same process as a new life, which the others take
//! back as the same node restarted. No operator restarts anything. A life
//! declared down never comes back as itself: the others tell it so (they
//! remember lives declared down longer than membership remembers members).
//! SIGTERM, by contrast, is leaving: the others see it left, and it exits.
//! Pauses of 2 s, 10 s and 60 s; gamma holds half of a pool of four, and
//! `arbour status`, asked throughout, never counts the pool above four.

use super::up::{alive, free_port, start_up, wait_for};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits (bounded) until each of `wanted` has matched a line, in any
/// order; returns each one's line and when it came, and every line read.
fn wait_for_each(
    lines: &std::sync::mpsc::Receiver<String>,
    wanted: &[&dyn Fn(&str) -> bool],
) -> (Vec<(String, Instant)>, Vec<String>) {
    let mut seen: Vec<Option<(String, Instant)>> = vec![None; wanted.len()];
    let mut read = Vec::new();
    while seen.iter().any(Option::is_none) {
        let line = wait_for(lines, "");
        for (i, w) in wanted.iter().enumerate() {
            if seen[i].is_none() && w(&line) {
                seen[i] = Some((line.clone(), Instant::now()));
            }
        }
        read.push(line);
    }
    (seen.into_iter().flatten().collect(), read)
}

/// Asks `arbour status` of the cluster in `path` over and over while
/// `on`; returns the instance counts of deployment `pool` it printed.
fn count_pool(path: &std::path::Path, on: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<usize>> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut counts = Vec::new();
        while on.load(Ordering::Acquire) {
            let s = arbour_tests::run_arbour(
                &["status", "--config", path.to_str().expect("path")],
                arbour_tests::LIMIT,
            );
            let count = s
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("deploy pool (fib_worker): "))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok());
            counts.extend(count);
        }
        counts
    })
}

/// Sends `sig` (`-TERM`, `-STOP`, …) to process `pid`.
pub(crate) fn signal(sig: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {sig} {pid}");
}

#[test]
fn a_member_paused_until_declared_down_rejoins_as_a_new_life_and_one_sigtermed_leaves() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let dir = std::env::temp_dir().join(format!("arbour-paused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    let (a, b, c) = (free_port(), free_port(), free_port());
    std::fs::write(
        &path,
        format!(
            r#"[cluster]
name = "pausetest"
secret = "s3cret"

[cluster.membership]
remove_down_after = "5s"

[[node]]
name = "alpha"
listen = "127.0.0.1:{a}"
workers = 1

[[node]]
name = "beta"
listen = "127.0.0.1:{b}"
roles = ["worker"]
workers = 1

[[node]]
name = "gamma"
listen = "127.0.0.1:{c}"
roles = ["worker"]
workers = 1

[[deploy]]
name = "pool"
kind = "fib_worker"
on = {{ role = "worker" }}
instances = 4
"#
        ),
    )
    .expect("write the file");
    let (mut up, lines) = start_up(&path);
    let mut gamma = None;
    loop {
        let line = wait_for(&lines, "");
        if let Some(pid) = line.strip_prefix("up: node gamma started, pid ") {
            gamma = Some(pid.trim().parse::<u32>().expect("pid"));
        }
        if line.contains("formed: 3 members") {
            break;
        }
    }
    let gamma = gamma.expect("gamma's pid");
    // the issue's pauses: 2 s; 10 s; 60 s, which outlasts the members'
    // idle timeout (15 s: the others' closing words may be gone) and
    // `remove_down_after` (5 s here, so 10 s does too: the others'
    // machines forgot the life); the others still remember the life was
    // declared down
    for pause in [2, 10, 60].map(Duration::from_secs) {
        // `arbour status` asked again and again from the pause until
        // gamma is a member again: the pool is never counted more than
        // its 4 instances (gamma's, restarted on beta, are not counted
        // twice when gamma resumes)
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = count_pool(&path, sampling.clone());
        signal("-STOP", gamma);
        let stopped = Instant::now();
        // the others declare it down while it cannot answer
        wait_for_each(
            &lines,
            &[&|l| l.starts_with("[alpha] member down gamma"), &|l| {
                l.starts_with("[beta] member down gamma")
            }],
        );
        let declared = stopped.elapsed();
        // the rest of the pause is the fault itself, not a wait for an event
        std::thread::sleep(pause.saturating_sub(declared));
        signal("-CONT", gamma);
        let resumed = Instant::now();
        // `replaced` if a member still remembered the old life, else `up`
        let back_at = |n: &'static str| {
            move |l: &str| {
                l.starts_with(&format!("[{n}] member replaced gamma"))
                    || l.starts_with(&format!("[{n}] member up gamma"))
            }
        };
        let (alpha_back, beta_back) = (back_at("alpha"), back_at("beta"));
        let (seen, _) = wait_for_each(
            &lines,
            &[
                &|l| l.starts_with("[gamma] node gamma downed: rejoining as a new life"),
                &alpha_back,
                &beta_back,
            ],
        );
        let told = seen[0].1 - resumed;
        let back: Vec<(&str, Duration, String)> = ["alpha", "beta"]
            .iter()
            .zip(&seen[1..])
            .map(|(n, (line, at))| (*n, *at - resumed, line.clone()))
            .collect();
        eprintln!(
            "paused {pause:?}: declared down after {declared:?}; after SIGCONT, told in {told:?}, a member again at {:?} ({:?})",
            back.iter().map(|(n, t, _)| (*n, *t)).collect::<Vec<_>>(),
            back.iter().map(|(_, _, l)| l.as_str()).collect::<Vec<_>>(),
        );
        sampling.store(false, Ordering::Release);
        let counts = sampler.join().expect("sampler");
        eprintln!("paused {pause:?}: the pool counted {counts:?} in the status asked meanwhile");
        assert!(
            counts.iter().all(|n| *n <= 4),
            "paused {pause:?}: the pool counted more than its 4 instances: {counts:?}"
        );
        assert!(alive(gamma), "gamma rejoined in its own process");
        // gamma's new life gets its share back before the next pause
        let balanced = wait_for(&lines, "deploy pool rebalanced");
        assert!(balanced.contains("(beta=2 gamma=2)"), "{balanced}");
        // back within detection (about 1 s) + 3 s of SIGCONT
        for (n, t, _) in &back {
            assert!(
                *t <= Duration::from_secs(4),
                "paused {pause:?}: {n} saw gamma back {t:?} after SIGCONT"
            );
        }
    }
    // SIGTERM is leaving, not being declared down: gamma says goodbye, the
    // others see it left, and it exits (0) instead of rejoining
    signal("-TERM", gamma);
    let (ended, read) = wait_for_each(
        &lines,
        &[
            &|l| l.starts_with("up: node gamma exited"),
            &|l| l.starts_with("[alpha] member left gamma"),
            &|l| l.starts_with("[beta] member left gamma"),
        ],
    );
    assert!(ended[0].0.contains("exit status: 0"), "{}", ended[0].0);
    for line in &read {
        assert!(
            !line.contains("downed") && !line.contains("member down gamma"),
            "a node that left was taken for one declared down: {line}"
        );
    }
    // up starts it again; it joins as a new life
    wait_for_each(
        &lines,
        &[
            &|l| {
                l.starts_with("[alpha] member up gamma")
                    || l.starts_with("[alpha] member replaced gamma")
            },
            &|l| {
                l.starts_with("[beta] member up gamma")
                    || l.starts_with("[beta] member replaced gamma")
            },
        ],
    );
    // from outside: three members up, gamma among them as a new life
    let status = arbour_tests::run_arbour(
        &["status", "--config", path.to_str().expect("path")],
        arbour_tests::LIMIT,
    );
    assert!(
        status.status.success(),
        "{}{}",
        status.stdout,
        status.stderr
    );
    assert!(
        status
            .stdout
            .contains("cluster pausetest: 3 of 3 nodes answer"),
        "{}",
        status.stdout
    );
    signal("-INT", up.id());
    wait_for(&lines, "up: every node stopped");
    let _ = up.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
