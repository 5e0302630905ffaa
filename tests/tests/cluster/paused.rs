//! A member paused long enough for the cluster to declare it down
//! (SIGSTOP, as a long GC pause or an overloaded host would) learns it the
//! moment it resumes: the others' connections were closed saying so. It
//! shuts that life down and, as `on_downed = "rejoin"` (the default) says,
//! starts again in the same process as a new life, which the others take
//! back as the same node restarted. No operator restarts anything.

use super::up::{alive, free_port, start_up, wait_for};
use std::process::Command;
use std::time::{Duration, Instant};

fn signal(sig: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {sig} {pid}");
}

#[test]
fn a_member_paused_until_declared_down_rejoins_as_a_new_life_on_its_own() {
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

[[node]]
name = "alpha"
listen = "127.0.0.1:{a}"
workers = 1

[[node]]
name = "beta"
listen = "127.0.0.1:{b}"
workers = 1

[[node]]
name = "gamma"
listen = "127.0.0.1:{c}"
workers = 1
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
    for pause in [Duration::from_secs(2), Duration::from_secs(10)] {
        signal("-STOP", gamma);
        let stopped = Instant::now();
        // the others declare it down while it cannot answer
        wait_for(&lines, "[alpha] member down gamma");
        wait_for(&lines, "[beta] member down gamma");
        let declared = stopped.elapsed();
        // the rest of the pause is the fault itself, not a wait for an event
        std::thread::sleep(pause.saturating_sub(declared));
        signal("-CONT", gamma);
        let resumed = Instant::now();
        wait_for(&lines, "[gamma] node gamma downed: rejoining as a new life");
        let told = resumed.elapsed();
        let mut back = Vec::new();
        for n in ["alpha", "beta"] {
            let line = wait_for(&lines, &format!("[{n}] member replaced gamma"));
            back.push((n, resumed.elapsed(), line));
        }
        eprintln!(
            "paused {pause:?}: declared down after {declared:?}; after SIGCONT, told in {told:?}, a member again at {:?} ({:?})",
            back.iter().map(|(n, t, _)| (*n, *t)).collect::<Vec<_>>(),
            back.iter().map(|(_, _, l)| l.as_str()).collect::<Vec<_>>(),
        );
        assert!(alive(gamma), "gamma rejoined in its own process");
    }
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
