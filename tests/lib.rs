//! The one home of arbour's test helpers: find the `arbour` binary and run
//! it with a bounded wait; run a node's async test on a `LocalSet`; bound
//! every wait ([`bounded`], [`bounded_for`]); watch monitors fire
//! ([`DownForwarder`]).

pub mod attack;
pub mod mallory;
pub mod netns;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `arbour` binary built alongside these tests (`cargo test --workspace`
/// builds it, because `arbour-node` has integration tests).
pub fn arbour_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let bin = dir.join(format!("arbour{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p arbour-node` or `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// What a finished (or killed) `arbour` process left.
#[derive(Debug)]
pub struct Run {
    /// Exit status (killed processes have a failing one).
    pub status: std::process::ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs `arbour args…`, killing it if it is not done within `limit`. Output
/// goes to files, not pipes, so a chatty process never blocks on a full pipe.
pub fn run_arbour(args: &[&str], limit: Duration) -> Run {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("arbour-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let file =
        |p: &PathBuf| std::fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut child = Command::new(arbour_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn arbour: {e}"));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break child.wait().unwrap_or_else(|e| panic!("wait arbour: {e}"));
            }
        }
    };
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let run = Run {
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// The value of a `<figure> <value> <unit>` line.
pub fn figure(stdout: &str, name: &str) -> Option<u64> {
    stdout.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(name))
            .then(|| it.next().and_then(|v| v.parse().ok()))
            .flatten()
    })
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`, with real time
/// (QUIC over OS sockets).
pub fn run_local<Fut: std::future::Future>(f: impl FnOnce() -> Fut) -> Fut::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    tokio::task::LocalSet::new().block_on(&rt, f())
}

mod waits;
pub use waits::{bounded, bounded_for, eventually, eventually_for, LIMIT, VIRTUAL_LIMIT};

use actix::prelude::*;

/// Forwards every [`Down`](arbour::Down) it receives to a channel: how a test
/// (or a script) waits for a monitor to fire.
#[derive(Debug)]
pub struct DownForwarder(pub tokio::sync::mpsc::UnboundedSender<arbour::Down>);

impl Actor for DownForwarder {
    type Context = Context<Self>;
}

impl Handler<arbour::Down> for DownForwarder {
    type Result = ();
    fn handle(&mut self, d: arbour::Down, _: &mut Context<Self>) {
        let _ = self.0.send(d);
    }
}

impl DownForwarder {
    /// A started forwarder and the receiving end of its channel.
    pub fn start_new() -> (
        Addr<DownForwarder>,
        tokio::sync::mpsc::UnboundedReceiver<arbour::Down>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (DownForwarder(tx).start(), rx)
    }
}

/// This process's resident set size (Linux; 0 where /proc is missing).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// A builder for node `name` of the tests' cluster ("test", secret
/// "s3cret"); add what a test needs, then `.start().await`.
pub fn test_node(name: &str) -> arbour::NodeBuilder {
    arbour::Node::builder(name)
        .cluster_name("test")
        .secret("s3cret")
}

/// Runs `f` in this thread with a client node: not a member (no
/// membership), named `name`, of cluster `cluster` with secret `secret`,
/// listening on `listen` (loopback port 0 if `None`), on a current-thread
/// runtime; the node shuts down after. A client sees the registry of the
/// nodes it connects to and asks their actors without joining.
pub fn with_client<T, Fut: std::future::Future<Output = T>>(
    name: &str,
    (cluster, secret): (&str, &str),
    listen: Option<std::net::SocketAddr>,
    f: impl FnOnce(arbour::Node) -> Fut,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    tokio::task::LocalSet::new().block_on(&rt, async move {
        let mut b = arbour::Node::builder(name)
            .cluster_name(cluster)
            .secret(secret);
        if let Some(addr) = listen {
            b = b.listen(addr);
        }
        let node = b
            .start()
            .await
            .unwrap_or_else(|e| panic!("client node {name}: {e}"));
        let out = f(node.clone()).await;
        node.shutdown().await;
        out
    })
}

/// Held by a test that starts a whole cluster of node processes, so that
/// the tests of one binary start one such cluster at a time: on a 2-core
/// machine several at once would load it enough for their failure
/// detectors to see each other's load, not the faults under test.
pub fn one_cluster_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}
