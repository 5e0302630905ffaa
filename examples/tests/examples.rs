//! Every example runs to completion and checks its own output (each exits
//! non-zero if a result is wrong; here their key lines are checked too).

use std::process::Command;
use std::time::Duration;

/// Runs example `name` (built by `cargo test` next to this test), bounded.
fn run(name: &str) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
        .join(name);
    let child = Command::new(&dir)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("example {name} did not finish within 60 s");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "example {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn supervision_tree() {
    let out = run("supervision_tree");
    assert!(out.contains("reader exited: panic"), "{out}");
    assert!(out.contains("writer (generation 2) says hello"), "{out}");
    assert!(out.contains("cache (generation 1) says hello"), "{out}");
}

#[test]
fn fib_pool() {
    let out = run("fib_pool");
    assert!(out.contains("pool of 4: beta, beta, gamma, gamma"), "{out}");
    assert!(out.contains("fib(89) = 1779979416004714189"), "{out}");
    assert!(out.contains("200 results, 0 wrong"), "{out}");
}

#[test]
fn named_object() {
    let out = run("named_object");
    assert!(
        out.contains("Hello, Irmen. Here is your fortune message (number 1)"),
        "{out}"
    );
    assert!(out.contains("found example.greeting at <server#"), "{out}");
}

#[test]
fn ping_pong() {
    let out = run("ping_pong");
    assert!(out.contains("1001 hits across two nodes"), "{out}");
}

#[test]
fn currency() {
    let out = run("currency");
    assert!(out.contains("fetched 20 rates with 10 actors"), "{out}");
    assert!(out.contains("; 0 wrong"), "{out}");
}
