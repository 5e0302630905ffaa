//! Cluster membership across OS processes: three `arbour serve` nodes join
//! through one seed; one is SIGKILLed and the others declare it down; it
//! comes back under a new incarnation. Every wait is bounded.

use arbour_tests::{arbour_bin, LIMIT};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

/// An `arbour serve` member, its stdout lines on a channel; killed on drop.
struct Member {
    child: Child,
    lines: Receiver<String>,
    addr: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Member {
    fn start(name: &str, join: Option<&str>) -> Self {
        let mut cmd = Command::new(arbour_bin());
        cmd.args([
            "serve",
            "--name",
            name,
            "--cluster",
            "test",
            "--secret",
            "s3cret",
        ])
        .args(["--idle-timeout-ms", "60000", "--membership"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if let Some(seed) = join {
            cmd.args(["--join", &format!("alpha={seed}")]);
        }
        let mut child = cmd.spawn().expect("spawn arbour serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(LIMIT).expect("a line");
        let addr = first
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("expected the address, got {first:?}"))
            .to_owned();
        Self { child, lines, addr }
    }

    /// Waits (bounded) for a line starting with `prefix`; returns it.
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line {prefix:?} ({e})"),
            }
        }
    }
}

#[test]
fn members_in_three_processes_join_a_killed_one_is_down_and_a_restarted_one_returns() {
    let alpha = Member::start("alpha", None);
    let beta = Member::start("beta", Some(&alpha.addr));
    let mut gamma = Member::start("gamma", Some(&alpha.addr));
    // every node sees the other two up
    for (node, others) in [
        (&alpha, ["beta", "gamma"]),
        (&beta, ["alpha", "gamma"]),
        (&gamma, ["alpha", "beta"]),
    ] {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let line = node.wait_for("member up ");
            let name = line.split(' ').nth(2).expect("name").to_owned();
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        seen.sort();
        assert_eq!(seen, others);
    }
    // SIGKILL gamma: its connections would take a minute to time out; the
    // membership declares it down
    gamma.child.kill().expect("kill");
    let _ = gamma.child.wait();
    for node in [&alpha, &beta] {
        let line = node.wait_for("member down gamma");
        assert!(line.starts_with("member down gamma "), "{line}");
    }
    // it comes back under a new incarnation
    let gamma = Member::start("gamma", Some(&alpha.addr));
    for node in [&alpha, &beta] {
        let line = loop {
            let line = node.wait_for("member ");
            if line.contains(" gamma ") && !line.starts_with("member down") {
                break line;
            }
        };
        assert!(
            line.starts_with("member up gamma") || line.starts_with("member replaced gamma"),
            "{line}"
        );
    }
    drop(gamma);
}
