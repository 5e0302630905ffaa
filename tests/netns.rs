//! Separate hosts on one machine: network namespaces joined by veth links
//! to a bridge ([`Hosts`]), partitions made by moving some hosts' links
//! to bridges of their own, and a watcher on one side of a partition
//! ([`Side`]): a client node (not a member) inside a host's namespace that
//! sees what that side's nodes hold. Needs root and `ip netns`;
//! [`Hosts::make`] says `None` where they cannot be made.

use arbour::{ActorId, AskError, Node};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `n` namespaces (hosts `10.231.0.1` …) on one bridge, removed on drop;
/// a partition moves some of them to other bridges.
#[derive(Debug)]
pub struct Hosts {
    tag: String,
    /// The namespaces' names, host 1 first.
    pub names: Vec<String>,
}

impl Hosts {
    /// Makes the hosts, or `None` where namespaces cannot be made.
    pub fn make(n: usize) -> Option<Self> {
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
            let addr = format!("10.231.0.{i}/24");
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

    /// Host `i`'s address (1-based).
    pub fn addr(i: usize, port: u16) -> SocketAddr {
        SocketAddr::from(([10, 231, 0, i as u8], port))
    }

    /// Cuts each group of hosts (1-based; at most two groups) off from
    /// the rest and from each other: each group is moved to a bridge of its
    /// own, where its hosts still reach each other.
    pub fn partition(&self, groups: &[&[usize]]) {
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

    /// Cuts host `from`'s sending to host `to` only (a one-way
    /// partition): a blackhole route in `from`'s namespace drops what it
    /// sends to `to`, while what `to` sends still arrives. Undone by
    /// [`Hosts::heal`].
    pub fn drop_from(&self, from: usize, to: usize) {
        let dst = format!("10.231.0.{to}/32");
        assert!(
            ip(&[
                "-n",
                &self.names[from - 1],
                "route",
                "add",
                "blackhole",
                &dst
            ]),
            "blackhole route in {}",
            self.names[from - 1]
        );
    }

    /// `arbour run --config path --node nI --stdin-eof` on host `i`
    /// (1-based), each stdout line given to `line` until it returns false.
    pub fn run_node(
        &self,
        arbour: &std::path::Path,
        i: usize,
        path: &std::path::Path,
        mut line: impl FnMut(String) -> bool + Send + 'static,
    ) -> Run {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.names[i - 1]])
            .arg(arbour)
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

    /// Puts every host back on the one bridge and lifts every one-way cut.
    pub fn heal(&self) {
        for i in 1..=self.names.len() {
            let end = format!("{}h{i}", self.tag);
            assert!(
                ip(&["link", "set", &end, "master", &format!("{}br", self.tag)]),
                "heal: moving {end}"
            );
            ip(&[
                "-n",
                &self.names[i - 1],
                "route",
                "flush",
                "type",
                "blackhole",
            ]);
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

/// A node process, killed on drop.
#[derive(Debug)]
pub struct Run(pub Child);
impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a side's watcher saw at one moment.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When.
    pub at: Instant,
    /// The group's members running on the side's nodes.
    pub instances: usize,
    /// Whether a node of the side holds the name.
    pub holds_name: bool,
}

/// What a side's asks came to.
#[derive(Clone, Debug, Default)]
pub struct Asks {
    /// Answered right.
    pub ok: u64,
    /// Answered wrong.
    pub wrong: u64,
    /// Failed, by error (`AskError`'s variant name).
    pub failed: BTreeMap<String, u64>,
    /// Waited out their timeout (no precise error).
    pub timed_out: u64,
    /// The longest a failed ask took to fail.
    pub slowest_failure: Duration,
}

/// An ask a watcher makes: of the members of `group` its node sees, the
/// `n`th (round-robin), if there is one; the future says whether the
/// answer was right.
pub type Asker = fn(&Node, &str, u64) -> Option<AskFuture>;

/// An ask in flight: whether the answer was right.
pub type AskFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, AskError>>>>;

/// A watcher on one side: a client node in a host's namespace, connected
/// to the side's nodes, sampling every 20 ms how many members of a group
/// run on them and whether one of them holds a name; and, given an
/// [`Asker`], asking the group round-robin every 10 ms.
#[derive(Debug)]
pub struct Side {
    /// The side's nodes (1-based hosts).
    pub nodes: Vec<usize>,
    samples: Arc<Mutex<Vec<Sample>>>,
    asks: Arc<Mutex<Asks>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What a [`Side`] watches.
#[derive(Clone, Debug)]
pub struct Watched {
    /// The cluster's name.
    pub cluster: String,
    /// Its secret.
    pub secret: String,
    /// The nodes' port (every host listens on it).
    pub port: u16,
    /// The group to count.
    pub group: String,
    /// The name to look for.
    pub name: String,
}

impl Side {
    /// Starts a watcher of the side `nodes` in host `nodes[0]`'s
    /// namespace, connecting to `reach` (the side's nodes, for a true
    /// count; every node, for asks across a cut).
    pub fn watch(
        hosts: &Hosts,
        nodes: &[usize],
        reach: &[usize],
        what: Watched,
        asker: Option<Asker>,
    ) -> Self {
        let ns = hosts.names[nodes[0] - 1].clone();
        let (samples, asks, stop) = (Arc::default(), Arc::default(), Arc::default());
        let thread = {
            let (samples, asks, stop, nodes, reach) = (
                Arc::clone(&samples),
                Arc::clone(&asks),
                Arc::clone(&stop),
                nodes.to_vec(),
                reach.to_vec(),
            );
            std::thread::spawn(move || {
                let netns = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("netns");
                nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                watch(nodes, reach, what, asker, samples, asks, stop);
            })
        };
        Self {
            nodes: nodes.to_vec(),
            samples,
            asks,
            stop,
            thread: Some(thread),
        }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The asks so far.
    pub fn asks(&self) -> Asks {
        self.asks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the watcher (its asks in flight end within their timeout).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long a watcher's ask may take: above a client's connection-loss
/// bound (3 s of silence), so an ask to a node cut off fails with
/// `NodeDown` before it could time out.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);

fn watch(
    nodes: Vec<usize>,
    reach: Vec<usize>,
    what: Watched,
    asker: Option<Asker>,
    samples: Arc<Mutex<Vec<Sample>>>,
    asks: Arc<Mutex<Asks>>,
    stop: Arc<AtomicBool>,
) {
    let name = format!("watch-n{}-{}", nodes[0], reach.len());
    let cluster = (what.cluster.as_str(), what.secret.as_str());
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    crate::with_client(&name, cluster, Some(any), |node| async move {
        let names: Vec<String> = nodes.iter().map(|i| format!("n{i}")).collect();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut last_dial = Instant::now() - Duration::from_secs(1);
        let mut n = 0u64;
        while !stop.load(Ordering::Acquire) {
            tick.tick().await;
            if last_dial.elapsed() >= Duration::from_millis(500) {
                // (re)connect to the side's nodes: a node's new life too
                last_dial = Instant::now();
                for i in reach.clone() {
                    let node = node.clone();
                    let addr = Hosts::addr(i, what.port);
                    tokio::task::spawn_local(async move {
                        let _ = node.net().connect(&format!("n{i}"), addr).await;
                    });
                }
            }
            let ids = node.global().group_ids(&what.group);
            let on_side = |id: &ActorId| names.iter().any(|n| **n == *id.node.name);
            let instances = ids.iter().filter(|id| on_side(id)).count();
            let holds_name = node
                .global()
                .whereis_id(&what.name)
                .is_some_and(|id| on_side(&id));
            n += 1;
            if n.is_multiple_of(2) {
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Sample {
                        at: Instant::now(),
                        instances,
                        holds_name,
                    });
            }
            let Some(ask) = asker.and_then(|a| a(&node, &what.group, n)) else {
                continue;
            };
            let asks = Arc::clone(&asks);
            tokio::task::spawn_local(async move {
                let began = Instant::now();
                let got = ask.await;
                let mut t = asks.lock().unwrap_or_else(|p| p.into_inner());
                match got {
                    Ok(true) => t.ok += 1,
                    Ok(false) => t.wrong += 1,
                    Err(AskError::Timeout(_)) => t.timed_out += 1,
                    Err(e) => {
                        let name = format!("{e:?}");
                        let name = name.split('(').next().unwrap_or("?").to_owned();
                        *t.failed.entry(name).or_default() += 1;
                        t.slowest_failure = t.slowest_failure.max(began.elapsed());
                    }
                }
            });
        }
        // the asks in flight end within their timeout
        tokio::time::sleep(ASK_TIMEOUT + Duration::from_millis(200)).await;
    });
}

/// Waits (bounded by `within`) until the watchers of `sides` together see
/// `count` instances in their samples of the last 100 ms.
pub fn until_seen(sides: &[&Side], count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while overlap(sides, Instant::now() - Duration::from_millis(100)).0 < count {
        assert!(
            Instant::now() < deadline,
            "the watchers never saw {count} instances within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The most instances running at once over all sides (each side's latest
/// sample at every sample of any side), the most sides holding the name
/// at once, from `from` on; and when the most instances ran.
pub fn overlap(sides: &[&Side], from: Instant) -> (usize, usize, Instant) {
    overlap_between(sides, from, None)
}

/// [`overlap`] over the samples from `from` until `until` (if given).
pub fn overlap_between(
    sides: &[&Side],
    from: Instant,
    until: Option<Instant>,
) -> (usize, usize, Instant) {
    let mut all: Vec<(Instant, usize, Sample)> = sides
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.samples().into_iter().map(move |x| (x.at, k, x)))
        .filter(|(at, _, _)| *at >= from && until.is_none_or(|u| *at < u))
        .collect();
    all.sort_by_key(|(at, _, _)| *at);
    let mut latest: Vec<Option<Sample>> = vec![None; sides.len()];
    let (mut most, mut holders, mut when) = (0, 0, from);
    for (at, k, x) in all {
        latest[k] = Some(x);
        let now: Vec<&Sample> = latest.iter().flatten().collect();
        let running = now.iter().map(|s| s.instances).sum();
        if running > most {
            (most, when) = (running, at);
        }
        holders = holders.max(now.iter().filter(|s| s.holds_name).count());
    }
    (most, holders, when)
}

/// Every node's stdout lines (node 1-based), with when each came; all
/// lines read so far are kept.
#[derive(Debug)]
pub struct Lines {
    /// The lines as they come.
    lines: Receiver<(usize, String, Instant)>,
    /// Every line read so far.
    pub seen: Vec<(usize, String, Instant)>,
}

impl Lines {
    /// Reads lines until `done` holds of those seen (bounded by `within`).
    pub fn until(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&[(usize, String, Instant)]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(e) => panic!(
                    "{what}: not within {within:?} ({e}); lines:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Reads lines until each node of `nodes` has printed `node nI
    /// <what>` after `from` (bounded by `within`); returns when each did,
    /// in `nodes`' order.
    pub fn until_each(
        &mut self,
        nodes: &[usize],
        what: &str,
        from: Instant,
        within: Duration,
    ) -> Vec<Instant> {
        let line = |i: usize| format!("node n{i} {what}");
        self.until(&format!("each of {nodes:?}: {what}"), within, |seen| {
            nodes
                .iter()
                .all(|i| first(seen, *i, &line(*i), from).is_some())
        });
        nodes
            .iter()
            .filter_map(|i| first(&self.seen, *i, &line(*i), from))
            .collect()
    }

    /// Reads whatever has arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// The lines read so far, with seconds from the first.
    pub fn log(&self) -> String {
        let t0 = self.seen.first().map(|(_, _, at)| *at);
        self.seen
            .iter()
            .map(|(i, l, at)| {
                format!(
                    "{:>7.3} n{i}: {l}",
                    t0.map_or(0.0, |t| (*at - t).as_secs_f64())
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// When node `i` first printed a line starting with `prefix`, after `from`.
pub fn first(
    seen: &[(usize, String, Instant)],
    i: usize,
    prefix: &str,
    from: Instant,
) -> Option<Instant> {
    seen.iter()
        .find(|(n, l, at)| *n == i && l.starts_with(prefix) && *at >= from)
        .map(|(_, _, at)| *at)
}

/// Whether node `i` sees every node of `others` up (a line `member up X`
/// or `member replaced X` after `from`).
pub fn sees_up(
    seen: &[(usize, String, Instant)],
    i: usize,
    others: &[usize],
    from: Instant,
) -> bool {
    others.iter().filter(|o| **o != i).all(|o| {
        first(seen, i, &format!("member up n{o} "), from).is_some()
            || first(seen, i, &format!("member replaced n{o} "), from).is_some()
    })
}

/// How the hosts are cut.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// Each group cut off from the rest and from each other (the hosts in
    /// none stay together).
    Groups(&'static [&'static [usize]]),
    /// What this host sends to the others is dropped; what they send to
    /// it arrives.
    OneWay(usize),
}

/// The port every node of a [`Split`] listens on.
pub const PORT: u16 = 7100;

/// Five `arbour run` processes, one per host, from one file (cluster
/// `split`, secret `s3cret`), with a pool of 5 `fib_worker`s over every
/// node supervised on n1; killed and removed on drop.
#[derive(Debug)]
pub struct Split {
    /// The hosts.
    pub hosts: Hosts,
    /// The nodes' stdout lines.
    pub lines: Lines,
    runs: Vec<Run>,
    dir: std::path::PathBuf,
}

/// All five hosts.
pub const ALL: [usize; 5] = [1, 2, 3, 4, 5];

impl Split {
    /// Starts the nodes (`stable_after` for the resolver, else its
    /// default) and waits until the cluster formed and the pool started;
    /// `None` where the hosts cannot be made.
    pub fn start(arbour: &std::path::Path, stable_after: Option<Duration>) -> Option<Self> {
        let hosts = Hosts::make(5)?;
        let dir = std::env::temp_dir().join(format!("arbour-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cluster.toml");
        let mut file = "[cluster]\nname = \"split\"\nsecret = \"s3cret\"\n\n\
             [cluster.split_brain]\nstrategy = \"keep-majority\"\n"
            .to_owned();
        if let Some(d) = stable_after {
            file += &format!("stable_after = \"{}ms\"\n", d.as_millis());
        }
        for i in ALL {
            file += &format!(
                "\n[[node]]\nname = \"n{i}\"\nlisten = \"10.231.0.{i}:{PORT}\"\nworkers = 1\n"
            );
        }
        // a pool over every node, supervised on n1 (on the small side of
        // the cuts that have one)
        file += "\n[[deploy]]\nname = \"pool\"\nkind = \"fib_worker\"\ninstances = 5\n\
                 supervise_on = \"n1\"\n";
        std::fs::write(&path, file).expect("write");
        let (tx, lines) = std::sync::mpsc::channel();
        let runs = ALL
            .iter()
            .map(|&i| {
                let tx = tx.clone();
                hosts.run_node(arbour, i, &path, move |line| {
                    tx.send((i, line, Instant::now())).is_ok()
                })
            })
            .collect();
        let mut lines = Lines {
            lines,
            seen: Vec::new(),
        };
        let began = Instant::now();
        lines.until("the cluster forms", Duration::from_secs(60), |seen| {
            ALL.iter().all(|i| sees_up(seen, *i, &ALL, began))
                && first(seen, 1, "deploy pool started", began).is_some()
        });
        Some(Self {
            hosts,
            lines,
            runs,
            dir,
        })
    }

    /// The sides `cut` makes (the hosts in no group are one more side).
    pub fn sides(cut: Cut) -> Vec<Vec<usize>> {
        match cut {
            Cut::Groups(groups) => {
                let mut v: Vec<Vec<usize>> = groups.iter().map(|g| g.to_vec()).collect();
                v.push(
                    ALL.into_iter()
                        .filter(|i| !groups.iter().any(|g| g.contains(i)))
                        .collect(),
                );
                v
            }
            Cut::OneWay(from) => vec![vec![from], ALL.into_iter().filter(|i| *i != from).collect()],
        }
    }

    /// Cuts the hosts.
    pub fn cut(&self, cut: Cut) {
        match cut {
            Cut::Groups(groups) => self.hosts.partition(groups),
            Cut::OneWay(from) => {
                for to in ALL.into_iter().filter(|i| *i != from) {
                    self.hosts.drop_from(from, to);
                }
            }
        }
    }

    /// What a [`Side`] of this cluster watches: the pool and its fence.
    pub fn watched() -> Watched {
        Watched {
            cluster: "split".into(),
            secret: "s3cret".into(),
            port: PORT,
            group: "pool".into(),
            name: "arbour.deploy.pool".into(),
        }
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        self.runs.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
