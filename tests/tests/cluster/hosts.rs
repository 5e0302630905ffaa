//! Several hosts: the same cluster file with three distinct addresses runs
//! three `arbour run` processes, each in a network namespace of its own
//! (joined by veth links to a bridge), and the cluster forms. The test
//! makes the namespaces itself, as root; where they cannot be made it says
//! so and passes without running (it checks nothing it could not set up).

use arbour_tests::{arbour_bin, LIMIT};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `n` namespaces (hosts `10.231.0.1` …) on one bridge, removed on drop;
/// a partition moves some of them to a second bridge.
pub(super) struct Hosts {
    tag: String,
    pub(super) names: Vec<String>,
}

impl Hosts {
    pub(super) fn make(n: usize) -> Option<Self> {
        let tag = format!("arb{}", std::process::id() % 100_000);
        let bridge = format!("{tag}br");
        if !ip(&["link", "add", &bridge, "type", "bridge"]) {
            return None;
        }
        let mut hosts = Self {
            tag: tag.clone(),
            names: Vec::new(),
        };
        let ok = ip(&["link", "set", &bridge, "up"])
            && ip(&["link", "add", &format!("{tag}b2"), "type", "bridge"])
            && ip(&["link", "set", &format!("{tag}b2"), "up"])
            && ip(&["link", "add", &format!("{tag}b3"), "type", "bridge"])
            && ip(&["link", "set", &format!("{tag}b3"), "up"]);
        for i in 1..=n {
            let ns = format!("{tag}n{i}");
            let (host_end, ns_end) = (format!("{tag}h{i}"), format!("{tag}v{i}"));
            let addr = format!("10.231.{}.{}/24", 0, i);
            let steps = ip(&["netns", "add", &ns])
                && {
                    hosts.names.push(ns.clone());
                    true
                }
                && ip(&[
                    "link", "add", &host_end, "type", "veth", "peer", "name", &ns_end,
                ])
                && ip(&["link", "set", &ns_end, "netns", &ns])
                && ip(&["link", "set", &host_end, "master", &bridge])
                && ip(&["link", "set", &host_end, "up"])
                && ip(&["-n", &ns, "addr", "add", &addr, "dev", &ns_end])
                && ip(&["-n", &ns, "link", "set", &ns_end, "up"])
                && ip(&["-n", &ns, "link", "set", "lo", "up"]);
            if !(ok && steps) {
                return None;
            }
        }
        Some(hosts)
    }
}

impl Hosts {
    /// Cuts each group of hosts (1-based; at most two groups) off from
    /// the rest and from each other: each group is moved to a bridge of its
    /// own, where its hosts still reach each other.
    pub(super) fn partition(&self, groups: &[&[usize]]) {
        assert!(groups.len() <= 2, "two bridges to cut to");
        for (g, side) in groups.iter().enumerate() {
            for i in *side {
                let end = format!("{}h{i}", self.tag);
                let bridge = format!("{}b{}", self.tag, g + 2);
                assert!(
                    ip(&["link", "set", &end, "master", &bridge]),
                    "partition: moving {end}"
                );
            }
        }
    }

    /// `arbour run --config path --node nI --stdin-eof` on host `i`
    /// (1-based), each stdout line given to `line` until it returns false.
    pub(super) fn run_node(
        &self,
        i: usize,
        path: &std::path::Path,
        mut line: impl FnMut(String) -> bool + Send + 'static,
    ) -> Run {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.names[i - 1]])
            .arg(arbour_bin())
            .args(["run", "--config"])
            .arg(path)
            .args(["--node", &format!("n{i}"), "--stdin-eof"])
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec arbour run");
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if !line(l) {
                    return;
                }
            }
        });
        Run(child)
    }

    /// Puts every host back on the one bridge.
    pub(super) fn heal(&self) {
        for i in 1..=self.names.len() {
            let end = format!("{}h{i}", self.tag);
            assert!(
                ip(&["link", "set", &end, "master", &format!("{}br", self.tag)]),
                "heal: moving {end}"
            );
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.names {
            ip(&["netns", "del", ns]);
        }
        for i in 1..=self.names.len() {
            ip(&["link", "del", &format!("{}h{i}", self.tag)]);
        }
        ip(&["link", "del", &format!("{}br", self.tag)]);
        ip(&["link", "del", &format!("{}b2", self.tag)]);
        ip(&["link", "del", &format!("{}b3", self.tag)]);
    }
}

pub(super) struct Run(pub(super) Child);
impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
        runs.push(hosts.run_node(i + 1, &path, move |line| tx.send((i, line)).is_ok()));
    }
    // each node listens on its own host's address, and sees the two others up
    wait_all(&lines, 3 * 2, |i, line| {
        line.starts_with("member up n") && !line.contains(&format!("n{} ", i + 1))
    });
    drop(runs);
    let _ = std::fs::remove_dir_all(&dir);
}
