//! `arbour demo`: a local 3-node cluster from an embedded cluster file.
//!
//! alpha supervises a deployment `fib` of four `fib_worker`s placed on the
//! nodes with role `worker` (beta and gamma). A client member in this
//! process runs a Fibonacci job through the pool (the reference book's
//! `concurrent.futures` `map`, done with actors on several nodes). A third
//! of the way through, gamma's process is SIGKILLed. The cluster declares
//! gamma down, alpha's supervisor restarts gamma's workers on beta, and the
//! client retries the tasks that were on gamma. Every result is checked.

use crate::fib::{Fib, FibWorker};
use crate::up::{Local, Report};
use anyhow::Context as _;
use arbour::{cluster::MemberEvent, AskError, Node};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The demo's cluster file; `{PORT_ALPHA}` and the others become free
/// local ports at run time.
pub const DEFAULT_FILE: &str = r#"# The cluster `arbour demo` runs (ports are picked at run time).
[cluster]
name = "demo"
secret = "demo-secret"

[[node]]
name = "alpha"
listen = "127.0.0.1:{PORT_ALPHA}"
roles = ["frontend"]
workers = 1

[[node]]
name = "beta"
listen = "127.0.0.1:{PORT_BETA}"
roles = ["worker"]
workers = 1

[[node]]
name = "gamma"
listen = "127.0.0.1:{PORT_GAMMA}"
roles = ["worker"]
workers = 1

[[deploy]]
name = "fib"
kind = "fib_worker"
on = { role = "worker" }
instances = 4
restart = "permanent"
supervise_on = "alpha"
supervisor = { strategy = "one_for_one", intensity = 10, period = "10s" }
"#;

/// The node whose process the demo kills.
const VICTIM: &str = "gamma";
/// How long any phase may take before the demo gives up.
const PHASE: Duration = Duration::from_secs(20);
/// Tasks in flight at once.
const IN_FLIGHT: usize = 16;

/// What the demo saw.
#[derive(Clone, Debug, Default)]
pub struct DemoReport {
    /// Tasks answered correctly.
    pub tasks_ok: u64,
    /// Wrong answers (must be 0).
    pub results_wrong: u64,
    /// Tasks that failed even after retries (must be 0).
    pub tasks_failed: u64,
    /// Task attempts retried on another worker (their worker's node died).
    pub tasks_retried: u64,
    /// Pool instances restarted on the surviving worker node.
    pub restarts_on_survivor: u64,
    /// Start → every node sees the two others.
    pub form_ms: u128,
    /// Kill → the client sees the victim down.
    pub detect_ms: u128,
    /// Kill → the pool has all its instances again.
    pub pool_restored_ms: u128,
    /// The whole demo.
    pub wall_s: f64,
    /// Where the pool's workers ran before the kill, and after.
    pub before: String,
    /// See `before`.
    pub after: String,
    /// Where the full logs are.
    pub log: String,
}

impl DemoReport {
    /// Whether every task was answered correctly and the pool moved.
    pub fn passed(&self) -> bool {
        self.results_wrong == 0
            && self.tasks_failed == 0
            && self.tasks_ok > 0
            && self.restarts_on_survivor > 0
    }

    /// Prints the summary, for a person.
    pub fn summary(&self) {
        let checked = self.tasks_ok + self.results_wrong;
        println!();
        println!("  tasks run                {}", checked + self.tasks_failed);
        println!(
            "  results checked          {checked} ({} wrong, {} failed)",
            self.results_wrong, self.tasks_failed
        );
        println!("  tasks retried elsewhere  {}", self.tasks_retried);
        println!("  workers before the kill  {}", self.before);
        println!("  workers after            {}", self.after);
        println!("  restarts on the survivor {}", self.restarts_on_survivor);
        println!(
            "  {VICTIM} declared down     after {} ms; pool whole again after {} ms",
            self.detect_ms, self.pool_restored_ms
        );
        println!("  wall time                {:.2} s", self.wall_s);
        println!("  full logs                {}", self.log);
    }

    /// Prints the `demo.<figure> <value> <unit>` lines (for tests and
    /// benchmarks).
    pub fn print(&self) {
        println!("demo.tasks_ok {} tasks", self.tasks_ok);
        println!("demo.results_wrong {} tasks", self.results_wrong);
        println!("demo.tasks_failed {} tasks", self.tasks_failed);
        println!("demo.tasks_retried {} attempts", self.tasks_retried);
        println!(
            "demo.restarts_on_survivor {} restarts",
            self.restarts_on_survivor
        );
        println!("demo.form_ms {} ms", self.form_ms);
        println!("demo.detect_ms {} ms", self.detect_ms);
        println!("demo.pool_restored_ms {} ms", self.pool_restored_ms);
        println!("demo.wall_s {:.2} s", self.wall_s);
    }
}

/// Three free local ports (bound, noted, released).
fn free_ports() -> anyhow::Result<[u16; 3]> {
    let socks: Vec<std::net::UdpSocket> = (0..3)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let mut ports = [0; 3];
    for (p, s) in ports.iter_mut().zip(&socks) {
        *p = s.local_addr()?.port();
    }
    Ok(ports)
}

/// Writes the demo's file with free ports; returns its path.
fn write_file() -> anyhow::Result<std::path::PathBuf> {
    let [a, b, c] = free_ports()?;
    let text = DEFAULT_FILE
        .replace("{PORT_ALPHA}", &a.to_string())
        .replace("{PORT_BETA}", &b.to_string())
        .replace("{PORT_GAMMA}", &c.to_string());
    let path = std::env::temp_dir().join(format!("arbour-demo-{}.toml", std::process::id()));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn say(line: String) {
    crate::run::say(format!("demo: {line}"));
}

/// Where the demo's full logs go (its own and its nodes'), shared.
#[derive(Clone)]
struct LogFile(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

impl LogFile {
    fn line(&self, node: &str, line: &str) {
        use std::io::Write as _;
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(f, "[{node}] {line}");
    }
}

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogFile;
    fn make_writer(&'a self) -> LogFile {
        self.clone()
    }
}

/// Runs the demo with `exe` as the node binary.
pub fn run(exe: &Path, tasks: u32) -> anyhow::Result<DemoReport> {
    let log_path = std::env::temp_dir().join(format!("arbour-demo-{}.log", std::process::id()));
    let log = LogFile(std::sync::Arc::new(std::sync::Mutex::new(
        std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?,
    )));
    {
        use tracing_subscriber::EnvFilter;
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(log.clone())
            .with_ansi(false)
            .try_init();
    }
    say(format!("full logs: {}", log_path.display()));
    let path = write_file()?;
    let file = arbour_config::ClusterFile::load(&path)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        let started = Instant::now();
        let mut cluster = Local::start(exe, &file)?;
        let result = demo(&mut cluster, &file, tasks, &log, started)
            .await
            .map(|mut r| {
                r.log = log_path.display().to_string();
                r
            });
        cluster.stop(Duration::from_secs(10)).await;
        result
    });
    let _ = std::fs::remove_file(&path);
    out
}

/// Handles the cluster's reports (their lines go to the log) while `f`
/// runs; what `f` returns.
async fn pumping<T>(
    cluster: &mut Local,
    log: &LogFile,
    f: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::pin!(f);
    let deadline = tokio::time::sleep(PHASE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            out = &mut f => return Ok(out),
            r = cluster.next(false) => match r {
                Some(Report::Line { node, line, .. }) => log.line(&node, &line),
                Some(Report::Exited { node, status, .. }) if node != VICTIM => {
                    anyhow::bail!("node {node} exited ({status})")
                }
                Some(_) => {}
                None => anyhow::bail!("the node processes went away"),
            },
            () = &mut deadline => anyhow::bail!("a phase of the demo took over {PHASE:?}"),
        }
    }
}

async fn demo(
    cluster: &mut Local,
    file: &arbour_config::ClusterFile,
    tasks: u32,
    log: &LogFile,
    started: Instant,
) -> anyhow::Result<DemoReport> {
    let mut r = DemoReport::default();
    let total = file.nodes.len();
    say(format!(
        "starting {total} node processes: {}",
        cluster.nodes().join(", ")
    ));
    // 1. the cluster forms
    tokio::time::timeout(
        PHASE,
        cluster.until_formed(|r| {
            if let Report::Line { node, line, .. } = r {
                log.line(node, line);
            }
        }),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the cluster did not form within {PHASE:?}"))??;
    r.form_ms = started.elapsed().as_millis();
    say(format!(
        "cluster formed: {total} members in {} ms",
        r.form_ms
    ));
    // 2. the client joins and finds the pool
    let seed = file.nodes[0].listen;
    let client = Node::builder("client")
        .cluster_name(&file.name)
        .secret(match &file.security {
            arbour_config::Security::Secret(s) => s.clone(),
            arbour_config::Security::Tls { .. } => anyhow::bail!("the demo file uses a secret"),
        })
        .membership(crate::run::membership(file))
        .seed_node(&file.nodes[0].name, seed)
        .start()
        .await?;
    let instances = file.deploy[0].instances;
    let pool = file.deploy[0].name.clone();
    let mut events = client.global().events()?;
    pumping(cluster, log, async {
        while client.global().group_ids(&pool).len() < instances {
            let _ = events.recv().await;
        }
    })
    .await?;
    r.before = spread(&client, &pool);
    say(format!("pool {pool}: {instances} instances ({})", r.before));
    let before_on_survivor = on_node(&client, &pool, "beta");
    // 3. the job, with the victim killed a third of the way through
    let mut members = client.membership().events().context("membership")?;
    let (kill_tx, mut kill_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let job = run_job(&client, &pool, tasks, kill_tx);
    tokio::pin!(job);
    let mut killed_at = None;
    let mut detected = None;
    let outcome = loop {
        tokio::select! {
            out = &mut job => break out,
            Some(()) = kill_rx.recv() => {
                let pid = cluster.pid(VICTIM).unwrap_or(0);
                cluster.kill(VICTIM).await?;
                killed_at = Some(Instant::now());
                say(format!("killed {VICTIM} (pid {pid}) with SIGKILL"));
            }
            Ok(e) = members.recv() => {
                if let (MemberEvent::Down(m), Some(at)) = (&e, killed_at) {
                    if m.name == VICTIM && detected.is_none() {
                        detected = Some(at.elapsed());
                        say(format!("{VICTIM} declared down after {} ms", at.elapsed().as_millis()));
                    }
                }
            }
            rep = cluster.next(false) => match rep {
                Some(Report::Line { node, line, .. }) => log.line(&node, &line),
                Some(Report::Exited { node, status, .. }) if node != VICTIM => {
                    anyhow::bail!("node {node} exited ({status})")
                }
                Some(_) => {}
                None => anyhow::bail!("the node processes went away"),
            },
        }
    };
    let job = outcome?;
    r.tasks_ok = job.ok;
    r.results_wrong = job.wrong;
    r.tasks_failed = job.failed;
    r.tasks_retried = job.retried;
    let killed_at = killed_at.context("the job ended before the kill")?;
    // 4. the pool is whole again, on the survivor
    pumping(cluster, log, async {
        while detected.is_none() {
            if let Ok(MemberEvent::Down(m)) = members.recv().await {
                if m.name == VICTIM {
                    detected = Some(killed_at.elapsed());
                }
            }
        }
        while client.global().group_ids(&pool).len() < instances
            || client
                .global()
                .group_ids(&pool)
                .iter()
                .any(|id| &*id.node.name == VICTIM)
        {
            let _ = events.recv().await;
        }
    })
    .await?;
    r.detect_ms = detected.map_or(0, |d| d.as_millis());
    r.pool_restored_ms = killed_at.elapsed().as_millis();
    r.restarts_on_survivor =
        on_node(&client, &pool, "beta").saturating_sub(before_on_survivor) as u64;
    r.after = spread(&client, &pool);
    say(format!(
        "pool {pool} restored in {} ms: {instances} instances ({})",
        r.pool_restored_ms, r.after
    ));
    client.shutdown().await;
    r.wall_s = started.elapsed().as_secs_f64();
    Ok(r)
}

fn spread(client: &Node, group: &str) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for id in client.global().group_ids(group) {
        *by.entry(id.node.name.to_string()).or_default() += 1;
    }
    by.iter()
        .map(|(n, c)| format!("{n}={c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn on_node(client: &Node, group: &str, node: &str) -> usize {
    client
        .global()
        .group_ids(group)
        .iter()
        .filter(|id| &*id.node.name == node)
        .count()
}

#[derive(Default)]
struct Job {
    ok: u64,
    wrong: u64,
    failed: u64,
    retried: u64,
}

/// `fib(i % 90)` for every `i < tasks`, `IN_FLIGHT` at a time, round-robin
/// over the pool's members as they are now; a task whose worker is gone is
/// retried on another. Asks for the kill a third of the way through.
async fn run_job(
    client: &Node,
    pool: &str,
    tasks: u32,
    kill: tokio::sync::mpsc::UnboundedSender<()>,
) -> anyhow::Result<Job> {
    let mut job = Job::default();
    let mut next = 0u32;
    let mut running = futures_util::stream::FuturesUnordered::new();
    use futures_util::StreamExt as _;
    loop {
        while running.len() < IN_FLIGHT && next < tasks {
            if next == tasks / 3 {
                let _ = kill.send(());
            }
            let (client, pool, n) = (client.clone(), pool.to_owned(), next);
            running.push(async move { one_task(&client, &pool, n).await });
            next += 1;
        }
        match running.next().await {
            Some((outcome, retries)) => {
                job.retried += retries;
                match outcome {
                    Some(true) => job.ok += 1,
                    Some(false) => job.wrong += 1,
                    None => job.failed += 1,
                }
            }
            None => return Ok(job),
        }
    }
}

/// One task: `Some(correct)`, or `None` if it failed 50 times.
async fn one_task(client: &Node, pool: &str, i: u32) -> (Option<bool>, u64) {
    let n = i % 90;
    let mut retries = 0;
    for attempt in 0..50u32 {
        let members = client.global().group::<FibWorker>(pool);
        if members.is_empty() {
            retries += 1;
            let mut ev = match client.global().events() {
                Ok(ev) => ev,
                Err(_) => return (None, retries),
            };
            let _ = tokio::time::timeout(Duration::from_millis(500), ev.recv()).await;
            continue;
        }
        let worker = &members[(i as usize + attempt as usize) % members.len()];
        match worker.ask(Fib(n)).timeout(Duration::from_secs(5)).await {
            Ok(v) => return (Some(v == crate::fib::fib(n)), retries),
            Err(
                AskError::NodeDown(_)
                | AskError::NodeShutdown(_)
                | AskError::ActorGone(_)
                | AskError::Timeout(_),
            ) => retries += 1,
            Err(e) => {
                tracing::warn!("task {i} failed: {e}");
                return (None, retries);
            }
        }
    }
    (None, retries)
}
