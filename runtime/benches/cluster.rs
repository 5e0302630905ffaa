//! Cluster benchmark: 5 member processes (this program re-executed) on
//! loopback, each asking the others' echoes at about 1,000 asks/s as a
//! background load, plus an observer member in this process.
//!
//! - `cluster.join_ms`: a new member process started → every running member
//!   reports it up (p50 and max over the joins, including rejoins).
//! - `cluster.detect.p50_ms` / `p99_ms`: a member SIGKILLed → every survivor
//!   reports it down (the slowest survivor, per kill), default settings.
//! - `cluster.false_downs`: members reported down while their process ran,
//!   over the whole run (kills, rejoins, and a loaded stretch after them:
//!   at least `ARBOUR_BENCH_CLUSTER_SECS`, default 180 s, of load in all).
//!   `cluster.false_suspicions` counts the suspicions of live members that
//!   were refuted in time (no harm done, but a measure of the margin).
//! - `cluster.rejoin_ms.p50` / `p99`: a member SIGSTOPped until every other
//!   one declared it down (2 s or 10 s in all, 10 pauses), then SIGCONT →
//!   every other member reports its new life up (it learns it was declared
//!   down and starts again in its process, as `arbour run` does).
//! - `cluster.cpu_busy.false_suspicions`: every worker of a member computing
//!   for 10 s (a CPU-bound handler on each), twice over two members: the
//!   suspicions and downs of that member any other member reports from the
//!   start of the computing until it answers again (target 0).
//! - `cluster.registry.converge_p99_ms`: a name registered on one member →
//!   every other member reports it (p50 and p99 over 50 names).
//! - `cluster.spawn.ratio`: the observer's remote spawn p50 ÷ its remote ask
//!   RTT p50: 1,200 spawns round-robin over four members, each followed by
//!   an ask of the actor it started (a mailbox the load does not use),
//!   under the background load.
//!
//! Timestamps cross processes as UTC wall-clock milliseconds (one machine,
//! one clock). Prints `<figure> <value> <unit>` lines (DESIGN.md §10).
//! `ARBOUR_BENCH_CLUSTER_LOGS=<dir>` keeps each member's log (info level)
//! in `<dir>/<name>.log`; `ARBOUR_BENCH_CLUSTER_KILLS=<n>` (default 20)
//! shortens the kill phase when looking into another one.
//! `cargo bench -p arbour --bench cluster`

mod support;
use arbour::cluster::{Placement, RegistryEvent};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{builder, percentile, Echo, Ping};

const MEMBERS: usize = 5;
const KILLS: usize = 20;
const NAMES: usize = 50;
const PAUSES: usize = 10;
const REJOIN_WAIT: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(30);

/// Keeps its worker busy computing (a CPU-bound handler).
struct Spinner;
impl actix::Actor for Spinner {
    type Context = actix::Context<Self>;
}

/// Ask: compute for this long; answers when done.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct SpinFor(Duration);

impl actix::Handler<SpinFor> for Spinner {
    type Result = ();
    fn handle(&mut self, SpinFor(d): SpinFor, _: &mut actix::Context<Self>) {
        let until = Instant::now() + d;
        let mut x = 1u64;
        while Instant::now() < until {
            for _ in 0..1_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }
}

/// How long each busy member computes.
const BUSY: Duration = Duration::from_secs(10);
/// How many members are made busy, one after the other.
const BUSY_MEMBERS: usize = 2;

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--spawn-profile") {
        spawn_profile();
    } else if let Some(i) = args.iter().position(|a| a == "--member") {
        member(&args[i + 1], args.get(i + 2).map(String::as_str));
    } else if args.iter().any(|a| a == "--bench") || args.len() == 1 {
        orchestrate();
    }
}

/// One member process: echo kind, name and group entry, background asks,
/// a line per membership and registry event, commands on stdin.
fn member(name: &str, seed: Option<&str>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if cmd_tx.send(line).is_err() {
                return;
            }
        }
        std::process::exit(0);
    });
    let mut b = builder(name)
        .workers(1)
        .membership(arbour::cluster::MembershipConfig::default());
    if let Some(seed) = seed {
        b = b.seed_node("n0", seed.parse().expect("seed address"));
    }
    // every life of the member reads the same commands
    let cmds = std::sync::Arc::new(tokio::sync::Mutex::new(cmd_rx));
    // a member the cluster declared down (paused) starts again as a new
    // life, as `arbour run` does
    loop {
        match life(b.clone(), name, cmds.clone()) {
            Err(arbour::NodeError::Downed) => continue,
            ended => break ended.expect("member node"),
        }
    }
}

/// One life of a member process: runs until the process ends, or the
/// cluster declares it down (`Err(Downed)`).
fn life(
    b: arbour::NodeBuilder,
    name: &str,
    cmds: std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>>,
) -> Result<(), arbour::NodeError> {
    let me = name.to_owned();
    b.run(move |node| async move {
        node.kind::<Echo>("echo").expect("kind");
        let echo = node.spawn(Echo);
        node.global()
            .register(&format!("echo@{me}"), &echo)
            .expect("register");
        node.global().join("echoes", &echo).expect("join");
        node.expose("echo", &echo).expect("expose");
        println!(
            "listening {} {}",
            node.net().local_addr().expect("addr"),
            node.node_id().incarnation
        );
        let out = |line: String| {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        };
        let mut members = node.membership().events().expect("membership");
        tokio::task::spawn_local(async move {
            while let Ok(e) = members.recv().await {
                // a new life counts as up
                let what = match e.name() {
                    "replaced" => "up",
                    k => k,
                };
                let m = e.member();
                out(format!(
                    "ev {what} {} {} {:.3}",
                    m.name,
                    m.incarnation,
                    wall_ms()
                ));
            }
        });
        let mut registry = node.global().events().expect("events");
        tokio::task::spawn_local(async move {
            while let Ok(e) = registry.recv().await {
                if let RegistryEvent::Registered { name, .. } = e {
                    if name.starts_with("probe-") {
                        out(format!("reg {name} {:.3}", wall_ms()));
                    }
                }
            }
        });
        // the background load: an ask every millisecond, round-robin over
        // the other members' echoes
        let load = node.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut i = 0usize;
            loop {
                tick.tick().await;
                let peers: Vec<arbour::ActorRef<Echo>> = load
                    .global()
                    .group::<Echo>("echoes")
                    .into_iter()
                    .filter(|r| r.id().node != *load.node_id())
                    .collect();
                if peers.is_empty() {
                    continue;
                }
                i += 1;
                let peer = peers[i % peers.len()].clone();
                tokio::task::spawn_local(async move {
                    let _ = peer.ask(Ping(1)).timeout(Duration::from_secs(2)).await;
                });
            }
        });
        let mut cmds = cmds.lock().await;
        while let Some(cmd) = cmds.recv().await {
            if let Some(name) = cmd.strip_prefix("reg ") {
                let actor = node.spawn(Echo);
                node.global()
                    .register(name, &actor)
                    .expect("register a probe name");
            } else if cmd == "busy" {
                // a spinner on every worker, all computing at once
                let mut spins = Vec::new();
                for w in 0..node.worker_count() {
                    let spinner = node
                        .spawn_on_worker(arbour::WorkerPlacement::Worker(w), || Spinner)
                        .await
                        .expect("spinner");
                    spins.push(async move {
                        let _ = spinner.ask(SpinFor(BUSY)).timeout(BUSY * 3).await;
                        spinner.stop();
                    });
                }
                futures_util::future::join_all(spins).await;
                out(format!("busy done {:.3}", wall_ms()));
            }
        }
    })
    .map(|_| ())
}

/// A running member process.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    incarnation: u64,
}

/// The orchestrator's view: the processes, every member line, and the
/// false alarms seen so far.
struct Bench {
    exe: std::path::PathBuf,
    seed: String,
    procs: HashMap<String, Proc>,
    lines: mpsc::Receiver<(String, String)>,
    tx: mpsc::Sender<(String, String)>,
    /// Lives (name, incarnation) whose process was killed.
    dead: HashSet<(String, u64)>,
    false_downs: u64,
    false_suspicions: u64,
}

impl Bench {
    fn spawn(&mut self, name: &str, seed: Option<&str>) -> f64 {
        let mut cmd = Command::new(&self.exe);
        cmd.args(["--member", name]);
        if let Some(s) = seed {
            cmd.arg(s);
        }
        let started = wall_ms();
        // ARBOUR_BENCH_CLUSTER_LOGS=<dir>: each member's log (info) in
        // <dir>/<name>.log, for looking into a slow figure (the filter:
        // ARBOUR_BENCH_CLUSTER_LOG_FILTER, as RUST_LOG)
        let stderr = match std::env::var_os("ARBOUR_BENCH_CLUSTER_LOGS") {
            Some(dir) => {
                let filter = std::env::var("ARBOUR_BENCH_CLUSTER_LOG_FILTER");
                cmd.env("RUST_LOG", filter.as_deref().unwrap_or("info"));
                let path = std::path::Path::new(&dir).join(format!("{name}.log"));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("a member log file");
                Stdio::from(file)
            }
            None => {
                cmd.env("RUST_LOG", "error");
                Stdio::null()
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn a member");
        let stdin = child.stdin.take().expect("stdin");
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = out.next().expect("a line").expect("read");
        let mut it = first
            .strip_prefix("listening ")
            .expect("listening line")
            .split(' ');
        let addr = it.next().expect("addr").to_owned();
        let incarnation: u64 = it.next().expect("inc").parse().expect("inc");
        if seed.is_none() {
            self.seed = addr;
        }
        let (tx, who) = (self.tx.clone(), name.to_owned());
        std::thread::spawn(move || {
            for line in out.map_while(Result::ok) {
                if tx.send((who.clone(), line)).is_err() {
                    return;
                }
            }
        });
        self.procs.insert(
            name.to_owned(),
            Proc {
                child,
                stdin,
                incarnation,
            },
        );
        started
    }

    fn live(&self, name: &str, incarnation: u64) -> bool {
        !self.dead.contains(&(name.to_owned(), incarnation))
            && self
                .procs
                .get(name)
                .is_some_and(|p| p.incarnation == incarnation)
    }

    /// The next member line, after accounting for false alarms in it.
    fn next(&mut self, until: Instant) -> (String, Vec<String>) {
        let left = until.saturating_duration_since(Instant::now());
        let (who, line) = self
            .lines
            .recv_timeout(left)
            .expect("a member line in time");
        let f = self.account(&who, &line);
        (who, f)
    }

    /// Counts a report of a live member as down (or suspect) in `line`.
    fn account(&mut self, who: &str, line: &str) -> Vec<String> {
        let f: Vec<String> = line.split(' ').map(str::to_owned).collect();
        if f[0] == "ev" && (f[1] == "down" || f[1] == "suspect") {
            let inc: u64 = f[3].parse().expect("incarnation");
            if self.live(&f[2], inc) {
                if f[1] == "down" {
                    eprintln!("false down: {who} says {line}");
                    self.false_downs += 1;
                } else {
                    self.false_suspicions += 1;
                }
            }
        }
        f
    }

    /// Waits until every process in `from` printed a line `want` accepts;
    /// the wall-clock ms each gave.
    fn each(&mut self, from: &[String], want: impl Fn(&[String]) -> bool) -> Vec<f64> {
        self.each_within(WAIT, from, want)
    }

    /// [`Bench::each`], waiting up to `wait`.
    fn each_within(
        &mut self,
        wait: Duration,
        from: &[String],
        want: impl Fn(&[String]) -> bool,
    ) -> Vec<f64> {
        let until = Instant::now() + wait;
        let mut got: HashMap<String, f64> = HashMap::new();
        while got.len() < from.len() {
            let (who, f) = self.next(until);
            if from.contains(&who) && !got.contains_key(&who) && want(&f) {
                got.insert(who, f.last().and_then(|t| t.parse().ok()).unwrap_or(0.0));
            }
        }
        got.into_values().collect()
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.procs.keys().cloned().collect();
        v.sort();
        v
    }
}

fn signal(sig: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {sig} {pid}");
}

fn ms_max(v: &[f64], from: f64) -> f64 {
    v.iter().fold(0.0f64, |m, t| m.max(t - from))
}

fn orchestrate() {
    let (tx, lines) = mpsc::channel();
    let mut b = Bench {
        exe: std::env::current_exe().expect("current_exe"),
        seed: String::new(),
        procs: HashMap::new(),
        lines,
        tx,
        dead: HashSet::new(),
        false_downs: 0,
        false_suspicions: 0,
    };
    let began = Instant::now();
    let load_secs: u64 = std::env::var("ARBOUR_BENCH_CLUSTER_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    // joins: each new member is seen up by every member running before it
    let mut joins = Vec::new();
    b.spawn("n0", None);
    let seed = b.seed.clone();
    for i in 1..MEMBERS {
        let name = format!("n{i}");
        let others = b.names();
        let started = b.spawn(&name, Some(&seed));
        let seen = b.each(&others, |f| f[0] == "ev" && f[1] == "up" && f[2] == name);
        joins.push(ms_max(&seen, started));
    }
    // the observer, in this process: ask RTTs and remote spawns
    let (obs_tx, obs_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let obs_seed = seed.clone();
    let observer = std::thread::spawn(move || {
        builder("observer")
            .workers(1)
            .seed_node("n0", obs_seed.parse().expect("seed"))
            .run(move |node| async move {
                let mut kinds = node.global().events().expect("events");
                while node.global().nodes_with_kind("echo").len() < MEMBERS {
                    let _ = tokio::time::timeout(WAIT, kinds.recv()).await;
                }
                let mut echoes = Vec::new();
                for i in 1..MEMBERS {
                    let name = format!("echo@n{i}");
                    echoes.push(
                        node.global()
                            .wait_for::<Echo>(&name, WAIT)
                            .await
                            .expect("echo"),
                    );
                }
                for e in &echoes {
                    for _ in 0..50 {
                        e.ask(Ping(1)).await.expect("warm-up ask");
                    }
                }
                // spawns, and asks of the actor just spawned (its mailbox is
                // not the one the background load uses), interleaved over
                // the same members, so both see the same load
                let (mut rtt, mut spawn) = (Vec::new(), Vec::new());
                for i in 0..1200 {
                    let at = Placement::Node(format!("n{}", 1 + i % (MEMBERS - 1)));
                    let t = Instant::now();
                    let actor = node
                        .spawn_kind::<Echo>(at, "echo", &())
                        .await
                        .expect("remote spawn");
                    spawn.push(t.elapsed());
                    let t = Instant::now();
                    actor.ask(Ping(1)).await.expect("ask");
                    rtt.push(t.elapsed());
                    actor.stop();
                }
                rtt.sort();
                spawn.sort();
                let _ = obs_tx.send((percentile(&rtt, 0.5), percentile(&spawn, 0.5)));
                let _ = stop_rx.await;
            })
            .expect("observer node");
    });
    let (rtt, spawn) = obs_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("observer figures");
    // registry convergence: a name registered on one member, seen by all
    let mut converge = Vec::new();
    for i in 0..NAMES {
        let names = b.names();
        let origin = names[i % names.len()].clone();
        let name = format!("probe-{i}");
        let p = b.procs.get_mut(&origin).expect("origin");
        writeln!(p.stdin, "reg {name}").expect("command");
        p.stdin.flush().expect("flush");
        let times: HashMap<String, f64> = {
            let until = Instant::now() + WAIT;
            let mut got = HashMap::new();
            while got.len() < names.len() {
                let (who, f) = b.next(until);
                if f[0] == "reg" && f[1] == name {
                    got.insert(who, f[2].parse::<f64>().expect("ms"));
                }
            }
            got
        };
        let t0 = times[&origin];
        converge.push(times.values().fold(0.0f64, |m, t| m.max(t - t0)));
    }
    // busy: every worker of a member computes for BUSY; no other member
    // may doubt it meanwhile
    let mut busy_suspicions = 0u64;
    for i in 0..BUSY_MEMBERS {
        let victim = format!("n{}", 1 + i % (MEMBERS - 1));
        let p = b.procs.get_mut(&victim).expect("busy member");
        writeln!(p.stdin, "busy").expect("command");
        p.stdin.flush().expect("flush");
        let until = Instant::now() + BUSY * 3;
        loop {
            let (who, f) = b.next(until);
            if who == victim && f[0] == "busy" {
                break;
            }
            if f[0] == "ev" && (f[1] == "suspect" || f[1] == "down") && f[2] == victim {
                eprintln!("busy {victim}: {who} says {}", f.join(" "));
                busy_suspicions += 1;
            }
        }
    }
    // kills: SIGKILL a member, every survivor reports it down; it rejoins
    let mut detect = Vec::new();
    let kills: usize = std::env::var("ARBOUR_BENCH_CLUSTER_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(KILLS);
    for i in 0..kills {
        let victim = format!("n{}", 1 + i % (MEMBERS - 1));
        let survivors: Vec<String> = b.names().into_iter().filter(|n| *n != victim).collect();
        let mut p = b.procs.remove(&victim).expect("victim");
        b.dead.insert((victim.clone(), p.incarnation));
        let killed = wall_ms();
        p.child.kill().expect("SIGKILL");
        let _ = p.child.wait();
        let inc = p.incarnation.to_string();
        let (mut downs, mut first_suspect) = (HashMap::new(), f64::MAX);
        let until = Instant::now() + WAIT;
        while downs.len() < survivors.len() {
            let (who, f) = b.next(until);
            if f[0] == "ev" && f[2] == victim && f[3] == inc {
                let t: f64 = f[4].parse().expect("ms");
                match f[1].as_str() {
                    "suspect" => first_suspect = first_suspect.min(t - killed),
                    "down" if survivors.contains(&who) => {
                        downs.entry(who).or_insert(t - killed);
                    }
                    _ => {}
                }
            }
        }
        let mut by: Vec<(String, f64)> = downs.clone().into_iter().collect();
        by.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut d: Vec<f64> = downs.into_values().collect();
        d.sort_by(f64::total_cmp);
        eprintln!("kill {i} {victim}: first suspect {first_suspect:.0} ms, downs {by:?}");
        detect.push(d[d.len() - 1]);
        let started = b.spawn(&victim, Some(&seed));
        let seen = b.each(&survivors, |f| {
            f[0] == "ev" && f[1] == "up" && f[2] == victim
        });
        joins.push(ms_max(&seen, started));
    }
    // pauses: SIGSTOP a member until every other one declared it down
    // (then 2 s or 10 s in all), SIGCONT: it learns it was declared down,
    // and rejoins as a new life
    let mut rejoin = Vec::new();
    for i in 0..PAUSES {
        let victim = format!("n{}", 1 + i % (MEMBERS - 1));
        let pause = if i % 2 == 0 { 2_000.0 } else { 10_000.0 };
        let others: Vec<String> = b.names().into_iter().filter(|n| *n != victim).collect();
        let (pid, inc) = {
            let p = &b.procs[&victim];
            (p.child.id(), p.incarnation)
        };
        // declared down while it cannot answer: no false alarm
        b.dead.insert((victim.clone(), inc));
        let stopped = wall_ms();
        signal("-STOP", pid);
        let inc_s = inc.to_string();
        b.each(&others, |f| {
            f[0] == "ev" && f[1] == "down" && f[2] == victim && f[3] == inc_s
        });
        let held = wall_ms() - stopped;
        // the rest of the pause is the fault itself
        std::thread::sleep(Duration::from_secs_f64((pause - held).max(0.0) / 1000.0));
        let resumed = wall_ms();
        signal("-CONT", pid);
        // its new life, then every other member sees it up (bounded by
        // REJOIN_WAIT: today a 10 s pause can take tens of seconds)
        let until = Instant::now() + REJOIN_WAIT;
        let new_inc = loop {
            let (who, f) = b.next(until);
            if who == victim && f[0] == "listening" {
                break f[2].clone();
            }
        };
        let seen = b.each_within(REJOIN_WAIT, &others, |f| {
            f[0] == "ev" && f[1] == "up" && f[2] == victim && f[3] == new_inc
        });
        let back = ms_max(&seen, resumed);
        eprintln!(
            "pause {i} {victim} {:.0} ms: a member again {back:.0} ms after SIGCONT",
            pause
        );
        rejoin.push(back);
        if let Some(p) = b.procs.get_mut(&victim) {
            p.incarnation = new_inc.parse().expect("incarnation");
        }
    }
    // the rest of the loaded run: watch for false alarms
    let until = began + Duration::from_secs(load_secs);
    while Instant::now() < until {
        match b
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok((who, line)) => {
                b.account(&who, &line);
            }
            Err(_) => break,
        }
    }
    let loaded_secs = began.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = observer.join();
    for (_, mut p) in b.procs.drain() {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let (joins, detect, converge) = (sorted(joins), sorted(detect), sorted(converge));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cluster.join_ms {:.1} ms (p50 of {})",
        percentile(&joins, 0.5),
        joins.len()
    );
    println!("cluster.join_max_ms {:.1} ms", joins[joins.len() - 1]);
    println!("cluster.detect.p50_ms {:.1} ms", percentile(&detect, 0.5));
    println!(
        "cluster.detect.p99_ms {:.1} ms (of {} kills)",
        percentile(&detect, 0.99),
        detect.len()
    );
    println!(
        "cluster.false_downs {} (over {loaded_secs:.0} s of load)",
        b.false_downs
    );
    println!("cluster.false_suspicions {} (refuted)", b.false_suspicions);
    println!(
        "cluster.cpu_busy.false_suspicions {busy_suspicions} (every worker of a member busy {} s, {BUSY_MEMBERS} times)",
        BUSY.as_secs()
    );
    println!(
        "cluster.registry.converge_p50_ms {:.2} ms",
        percentile(&converge, 0.5)
    );
    println!(
        "cluster.registry.converge_p99_ms {:.2} ms (of {})",
        percentile(&converge, 0.99),
        converge.len()
    );
    let rejoin = sorted(rejoin);
    println!(
        "cluster.rejoin_ms.p50 {:.0} ms (SIGCONT -> a member again, as a new life)",
        percentile(&rejoin, 0.5)
    );
    println!(
        "cluster.rejoin_ms.p99 {:.0} ms (of {} pauses, 2 s and 10 s)",
        percentile(&rejoin, 0.99),
        rejoin.len()
    );
    println!("cluster.ask_rtt_p50_ms {:.3} ms", ms(rtt));
    println!("cluster.spawn_p50_ms {:.3} ms", ms(spawn));
    println!("cluster.spawn.ratio {:.3}", ms(spawn) / ms(rtt));
}

/// For profiling: asks, lookups and remote spawns between two nodes of this
/// process, in a loop (`--spawn-profile`, not part of the bench's figures).
fn spawn_profile() {
    let (addr_tx, addr_rx) = mpsc::channel();
    std::thread::spawn(move || {
        builder("alpha")
            .workers(1)
            .run(move |node| async move {
                node.kind::<Echo>("echo").expect("kind");
                node.expose("echo", &node.spawn(Echo)).expect("expose");
                addr_tx
                    .send(node.net().local_addr().expect("addr"))
                    .expect("send");
                std::future::pending::<()>().await
            })
            .expect("alpha")
    });
    let addr = addr_rx.recv().expect("addr");
    builder("beta")
        .workers(1)
        .peer("alpha", addr)
        .run(move |node| async move {
            let echo = node
                .lookup::<Echo>("alpha", "echo", WAIT)
                .await
                .expect("lookup");
            for round in 0..5 {
                let (mut a, mut l, mut s) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..5000 {
                    let t = Instant::now();
                    echo.ask(Ping(1)).await.expect("ask");
                    a.push(t.elapsed());
                    let t = Instant::now();
                    node.lookup::<Echo>("alpha", "echo", WAIT)
                        .await
                        .expect("lookup");
                    l.push(t.elapsed());
                    let t = Instant::now();
                    let r = node
                        .spawn_kind::<Echo>(Placement::Node("alpha".into()), "echo", &())
                        .await
                        .expect("spawn");
                    s.push(t.elapsed());
                    r.stop();
                }
                a.sort();
                l.sort();
                s.sort();
                eprintln!(
                    "round {round}: ask {:?} lookup {:?} spawn {:?}",
                    percentile(&a, 0.5),
                    percentile(&l, 0.5),
                    percentile(&s, 0.5)
                );
            }
        })
        .expect("beta");
}
