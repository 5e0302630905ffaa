//! Several hosts: the same cluster file with three distinct addresses runs
//! three `arbour run` processes, each in a network namespace of its own
//! (joined by veth links to a bridge), and the cluster forms. The test
//! makes the namespaces itself, as root; where they cannot be made it says
//! so and passes without running (it checks nothing it could not set up).

use arbour_tests::netns::Hosts;
use arbour_tests::{arbour_bin, LIMIT};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

fn wait_all(lines: &Receiver<(usize, String)>, want: usize, text: impl Fn(usize, &str) -> bool) {
    let deadline = Instant::now() + LIMIT;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((i, line)) => {
                if text(i, &line) {
                    seen.insert((i, line));
                }
            }
            Err(e) => panic!("only {seen:?} within the bound ({e})"),
        }
    }
}

#[test]
fn three_hosts_in_network_namespaces_form_one_cluster_from_one_file() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let Some(hosts) = Hosts::make(3) else {
        eprintln!(
            "skipped: cannot make network namespaces here (needs root and `ip netns`); \
             nothing was checked"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("arbour-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        r#"[cluster]
name = "hosts"
secret = "s3cret"

[[node]]
name = "n1"
listen = "10.231.0.1:7100"
workers = 1

[[node]]
name = "n2"
listen = "10.231.0.2:7100"
workers = 1

[[node]]
name = "n3"
listen = "10.231.0.3:7100"
workers = 1
"#,
    )
    .expect("write");
    let (tx, lines) = channel();
    let mut runs = Vec::new();
    for i in 0..hosts.names.len() {
        let tx = tx.clone();
        runs.push(hosts.run_node(&arbour_bin(), i + 1, &path, move |line| {
            tx.send((i, line)).is_ok()
        }));
    }
    // each node listens on its own host's address, and sees the two others up
    wait_all(&lines, 3 * 2, |i, line| {
        line.starts_with("member up n") && !line.contains(&format!("n{} ", i + 1))
    });
    drop(runs);
    let _ = std::fs::remove_dir_all(&dir);
}
