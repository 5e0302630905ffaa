//! `arbour up` on a 3-node cluster file: the cluster forms and the
//! deployment spreads as configured; a SIGKILLed node process is restarted
//! and rejoins under a new incarnation; SIGINT to `up` stops every child
//! (checked by PID). Every wait is bounded.

use arbour_tests::{arbour_bin, LIMIT};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

pub(crate) fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

/// Waits (bounded) for a line containing `text`; returns it.
pub(crate) fn wait_for(lines: &Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {text:?} ({e})"),
        }
    }
}

/// `arbour up FILE`, its stdout lines on a channel.
pub(crate) fn start_up(path: &std::path::Path) -> (std::process::Child, Receiver<String>) {
    let mut up = Command::new(arbour_bin())
        .arg("up")
        .arg(path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("arbour up");
    let stdout = up.stdout.take().expect("stdout");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (up, lines)
}

/// A cluster file, in a directory of its own for `test`: alpha, and the
/// workers beta and gamma (free ports), with a pool of four `fib_worker`
/// on the workers supervised on alpha (the first node).
pub(crate) fn fib_cluster_file(test: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("arbour-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    let (a, b, c) = (free_port(), free_port(), free_port());
    std::fs::write(
        &path,
        format!(
            r#"[cluster]
name = "{test}"
secret = "s3cret"

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
name = "fib"
kind = "fib_worker"
on = {{ role = "worker" }}
instances = 4
"#
        ),
    )
    .expect("write the file");
    (dir, path)
}

pub(crate) fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split(' ').nth(2) == Some("Z"))
}

#[test]
fn up_forms_the_cluster_restarts_a_killed_node_and_stops_every_child() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (dir, path) = fib_cluster_file("uptest");
    let (mut up, lines) = start_up(&path);
    let mut pids = std::collections::BTreeMap::new();
    let mut started = Vec::new();
    let mut deployed = None;
    let formed = loop {
        let line = wait_for(&lines, "");
        if line.contains("[alpha] deploy fib started") {
            deployed = Some(line.clone());
        }
        if let Some(rest) = line.strip_prefix("up: node ") {
            if let Some((name, pid)) = rest.split_once(" started, pid ") {
                pids.insert(name.to_owned(), pid.parse::<u32>().expect("pid"));
                started.push(name.to_owned());
            }
        }
        if line.contains("formed: 3 members") {
            break line;
        }
    };
    eprintln!("{formed}");
    started.sort();
    assert_eq!(started, ["alpha", "beta", "gamma"]);
    // the deployment, spread over the two workers as configured
    let deployed = deployed.unwrap_or_else(|| wait_for(&lines, "[alpha] deploy fib started"));
    assert!(deployed.contains("(beta=2 gamma=2)"), "{deployed}");
    // status, from outside: three members up, the deployment as spread
    let status =
        arbour_tests::run_arbour(&["status", "--config", path.to_str().expect("path")], LIMIT);
    assert!(
        status.status.success(),
        "{}{}",
        status.stdout,
        status.stderr
    );
    eprintln!("{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("cluster uptest: 3 of 3 nodes answer"),
        "{}",
        status.stdout
    );
    for n in ["alpha", "beta", "gamma"] {
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.starts_with(n) && l.contains(" up ")),
            "{n} up in:\n{}",
            status.stdout
        );
    }
    assert!(
        status.stdout.contains(
            "deploy fib (fib_worker): 4 of 4 instances (beta=2 gamma=2), supervised on alpha"
        ),
        "{}",
        status.stdout
    );
    // SIGKILL gamma's process: up restarts it, and it rejoins as a new life
    let gamma = pids["gamma"];
    let killed = Command::new("kill")
        .args(["-KILL", &gamma.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    wait_for(&lines, "up: node gamma exited");
    let restarted = wait_for(&lines, "up: node gamma started, pid ");
    let new_gamma: u32 = restarted
        .rsplit(' ')
        .next()
        .expect("pid")
        .parse()
        .expect("pid");
    assert_ne!(new_gamma, gamma);
    pids.insert("gamma".into(), new_gamma);
    let rejoined = wait_for(&lines, "[alpha] member replaced gamma");
    eprintln!("{rejoined}");
    // SIGINT to up: every child stops, and up exits
    let int = Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .expect("kill");
    assert!(int.success());
    wait_for(&lines, "up: every node stopped");
    let (done_tx, done) = channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(up.wait());
    });
    let status = done.recv_timeout(LIMIT).expect("up exits").expect("wait");
    assert!(status.success(), "up exited with {status}");
    for (name, pid) in &pids {
        assert!(!alive(*pid), "node {name} (pid {pid}) outlived up");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `arbour certs` writes the directory a `[cluster.tls]` file names; the
/// file checks, and `arbour up` forms the cluster on those certificates.
#[test]
fn certificate_files_from_arbour_certs_run_a_cluster() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let dir = std::env::temp_dir().join(format!("arbour-up-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let certs = arbour_tests::run_arbour(
        &[
            "certs",
            "--cluster",
            "tlstest",
            "--out",
            dir.join("certs").to_str().expect("path"),
            "alpha",
            "beta",
        ],
        LIMIT,
    );
    assert!(certs.status.success(), "{}{}", certs.stdout, certs.stderr);
    let path = dir.join("cluster.toml");
    let (a, b) = (free_port(), free_port());
    std::fs::write(
        &path,
        format!(
            "[cluster]\nname = \"tlstest\"\n[cluster.tls]\nca = \"certs/ca.crt\"\ncert_dir = \"certs\"\n\n[[node]]\nname = \"alpha\"\nlisten = \"127.0.0.1:{a}\"\nworkers = 1\n\n[[node]]\nname = \"beta\"\nlisten = \"127.0.0.1:{b}\"\nworkers = 1\n"
        ),
    )
    .expect("write");
    let check = arbour_tests::run_arbour(&["check", path.to_str().expect("path")], LIMIT);
    assert!(check.status.success(), "{}{}", check.stdout, check.stderr);
    let (mut up, lines) = start_up(&path);
    wait_for(&lines, "up: cluster tlstest formed: 2 members");
    let _ = Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status();
    wait_for(&lines, "up: every node stopped");
    let (done_tx, done) = channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(up.wait());
    });
    assert!(done
        .recv_timeout(LIMIT)
        .expect("up exits")
        .expect("wait")
        .success());
    let _ = std::fs::remove_dir_all(&dir);
}
