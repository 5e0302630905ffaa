//! `arbour up FILE`: every node of a cluster file as a local child process
//! (`arbour run --config FILE --node NAME`), their output prefixed by node
//! name, a line as the cluster forms and a summary once it has, a node
//! process that dies restarted with backoff, and all of them stopped on
//! Ctrl-C. Each child's standard input is a pipe from this process: when
//! it closes (we stop, or die) the child leaves the cluster and exits, so
//! no orphan outlives `up`.

use anyhow::Context as _;
use arbour_config::ClusterFile;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// What a child process said, or that it ended.
#[derive(Debug)]
pub enum Report {
    /// A line on its stdout (`err` false) or stderr.
    Line {
        /// The node.
        node: String,
        /// Which stream.
        err: bool,
        /// The line.
        line: String,
    },
    /// A process started (again, if `generation` is past the first).
    Started {
        /// The node.
        node: String,
        /// Its process id.
        pid: u32,
    },
    /// The process exited.
    Exited {
        /// The node.
        node: String,
        /// Its generation (one per start).
        generation: u64,
        /// How.
        status: String,
    },
}

/// One node's process.
struct Proc {
    child: Child,
    /// Held open: closing it stops the node gracefully.
    stdin: Option<tokio::process::ChildStdin>,
    generation: u64,
    started: Instant,
    /// The members this node reports up.
    sees: BTreeSet<String>,
}

/// The local cluster: one process per node of the file.
pub struct Local {
    exe: PathBuf,
    file: ClusterFile,
    procs: BTreeMap<String, Proc>,
    reports: mpsc::UnboundedReceiver<Report>,
    tx: mpsc::UnboundedSender<Report>,
    generation: u64,
    /// Restart backoff per node.
    backoff: BTreeMap<String, Duration>,
    /// Nodes waiting out their backoff, and when to start them again.
    due: BTreeMap<String, tokio::time::Instant>,
    /// Node processes restarted after dying.
    pub restarts: u64,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("nodes", &self.procs.keys().collect::<Vec<_>>())
            .finish()
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Local {
    /// Starts every node of `file` as `exe run --config FILE --node NAME`.
    pub fn start(exe: &Path, file: &ClusterFile) -> anyhow::Result<Self> {
        let (tx, reports) = mpsc::unbounded_channel();
        let mut local = Self {
            exe: exe.to_owned(),
            file: file.clone(),
            procs: BTreeMap::new(),
            reports,
            tx,
            generation: 0,
            backoff: BTreeMap::new(),
            due: BTreeMap::new(),
            restarts: 0,
        };
        for n in &file.nodes {
            local.spawn(&n.name)?;
        }
        Ok(local)
    }

    /// The nodes' names.
    pub fn nodes(&self) -> Vec<String> {
        self.file.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The process id of node `name`'s process, if it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs.get(name).and_then(|p| p.child.id())
    }

    fn spawn(&mut self, name: &str) -> anyhow::Result<()> {
        self.generation += 1;
        let generation = self.generation;
        let mut child = Command::new(&self.exe)
            .arg("run")
            .arg("--config")
            .arg(&self.file.path)
            .args(["--node", name, "--stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting node {name} ({})", self.exe.display()))?;
        let stdin = child.stdin.take();
        let _ = self.tx.send(Report::Started {
            node: name.to_owned(),
            pid: child.id().unwrap_or(0),
        });
        for (err, stream) in [
            (
                false,
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin>),
            ),
            (
                true,
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin>),
            ),
        ] {
            let Some(stream) = stream else { continue };
            let (tx, node) = (self.tx.clone(), name.to_owned());
            tokio::task::spawn_local(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(Report::Line {
                        node: node.clone(),
                        err,
                        line,
                    });
                }
            });
        }
        self.procs.insert(
            name.to_owned(),
            Proc {
                child,
                stdin,
                generation,
                started: Instant::now(),
                sees: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// The next report: a line, or a process that ended (restarted after
    /// its backoff, unless `restart` is false).
    pub async fn next(&mut self, restart: bool) -> Option<Report> {
        loop {
            // a process that ended?
            let mut ended = None;
            for (name, p) in &mut self.procs {
                if let Ok(Some(status)) = p.child.try_wait() {
                    ended = Some((name.clone(), p.generation, status.to_string(), p.started));
                    break;
                }
            }
            if let Some((node, generation, status, started)) = ended {
                self.procs.remove(&node);
                if restart {
                    let b = self.backoff.entry(node.clone()).or_insert(FIRST_BACKOFF);
                    // a node that ran a while starts its backoff over
                    if started.elapsed() > Duration::from_secs(30) {
                        *b = FIRST_BACKOFF;
                    }
                    let wait = *b;
                    *b = (*b * 2).min(MAX_BACKOFF);
                    self.due
                        .insert(node.clone(), tokio::time::Instant::now() + wait);
                }
                return Some(Report::Exited {
                    node,
                    generation,
                    status,
                });
            }
            // a restart due?
            let now = tokio::time::Instant::now();
            if let Some(node) = self
                .due
                .iter()
                .find(|(_, at)| **at <= now)
                .map(|(n, _)| n.clone())
            {
                self.due.remove(&node);
                self.restarts += 1;
                self.spawn(&node).ok()?;
                continue;
            }
            // look for ended processes now and then, and for due restarts
            let wake = self
                .due
                .values()
                .copied()
                .chain([now + Duration::from_millis(100)])
                .min()
                .unwrap_or(now);
            let r = tokio::select! {
                r = self.reports.recv() => r?,
                () = tokio::time::sleep_until(wake) => continue,
            };
            if let Report::Line { node, line, .. } = &r {
                self.note(node, line);
            }
            return Some(r);
        }
    }

    /// Follows the `member …` lines: who sees whom.
    fn note(&mut self, node: &str, line: &str) {
        let mut f = line.split(' ');
        if f.next() != Some("member") {
            return;
        }
        let (Some(what), Some(who)) = (f.next(), f.next()) else {
            return;
        };
        if let Some(p) = self.procs.get_mut(node) {
            match what {
                "up" | "replaced" => {
                    p.sees.insert(who.to_owned());
                }
                "down" | "left" => {
                    p.sees.remove(who);
                }
                _ => {}
            }
        }
    }

    /// Nodes running, and how many of them see every other node up.
    pub fn formed(&self) -> (usize, usize) {
        let names = self.nodes();
        let running = self.procs.len();
        let joined = self
            .procs
            .iter()
            .filter(|(me, p)| names.iter().all(|n| n == *me || p.sees.contains(n)))
            .count();
        (running, joined)
    }

    /// Handles reports (each shown to `seen`) until every node sees every
    /// other one up; fails if a node process exits meanwhile.
    pub async fn until_formed(&mut self, mut seen: impl FnMut(&Report)) -> anyhow::Result<()> {
        let total = self.nodes().len();
        while self.formed().1 < total {
            match self.next(false).await {
                Some(r @ Report::Exited { .. }) => anyhow::bail!("{r:?} before the cluster formed"),
                Some(r) => seen(&r),
                None => anyhow::bail!("the node processes went away"),
            }
        }
        Ok(())
    }

    /// SIGKILLs node `name`'s process (the simulator of a crash).
    pub async fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let p = self.procs.get_mut(name).context("no such node process")?;
        p.child.start_kill()?;
        Ok(())
    }

    /// Stops every node gracefully (their stdin closes: each leaves the
    /// cluster), then kills what has not exited within `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        for p in self.procs.values_mut() {
            p.stdin = None;
        }
        let deadline = tokio::time::Instant::now() + grace;
        for p in self.procs.values_mut() {
            if tokio::time::timeout_at(deadline, p.child.wait())
                .await
                .is_err()
            {
                let _ = p.child.start_kill();
                let _ = p.child.wait().await;
            }
        }
        self.procs.clear();
    }
}

/// `arbour up FILE`: runs until Ctrl-C (or SIGTERM), then stops every node.
pub fn up(exe: &Path, file: &ClusterFile) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let started = Instant::now();
        let mut cluster = Local::start(exe, file)?;
        let total = cluster.nodes().len();
        println!(
            "up: starting {total} nodes of {}: {}",
            file.path.display(),
            cluster.nodes().join(", ")
        );
        let mut was = (usize::MAX, usize::MAX);
        let mut formed_once = false;
        let stop = arbour::termination();
        tokio::pin!(stop);
        loop {
            let report = tokio::select! {
                r = cluster.next(true) => r,
                signal = &mut stop => {
                    println!("up: {signal}: stopping every node");
                    break;
                }
            };
            match report {
                Some(Report::Line {
                    node,
                    err: false,
                    line,
                }) => println!("[{node}] {line}"),
                Some(Report::Line {
                    node,
                    err: true,
                    line,
                }) => eprintln!("[{node}] {line}"),
                Some(Report::Started { node, pid }) => {
                    println!("up: node {node} started, pid {pid}")
                }
                Some(Report::Exited {
                    node,
                    generation,
                    status,
                }) => {
                    println!("up: node {node} exited ({status}; start {generation}); restarting it with backoff")
                }
                None => break,
            }
            let now = cluster.formed();
            if now != was {
                was = now;
                println!("up: {}/{total} running, {}/{total} joined", now.0, now.1);
                if now.1 == total && !formed_once {
                    formed_once = true;
                    println!(
                        "up: cluster {} formed: {total} members in {} ms",
                        file.name,
                        started.elapsed().as_millis()
                    );
                }
            }
        }
        cluster.stop(Duration::from_secs(10)).await;
        println!("up: every node stopped ({} restarts)", cluster.restarts);
        Ok(())
    })
}
