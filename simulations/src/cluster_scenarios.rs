//! Whole-cluster scenarios: five members of the real stack (QUIC over the
//! simulated network, SWIM, the registry, actors) on one thread in virtual
//! time, a workload, a seeded fault plan, and invariants checked after it.
//!
//! The workload: the first member (never faulted) asks every other
//! member's `svc@NAME` echo every 20 ms (virtual), and tells it numbered
//! messages. The invariants:
//! - every ask is answered right, or fails with a reason (never a wrong
//!   answer, never an error but node down, shut down, gone or timed out);
//! - per-pair order: every echo received its tells in order;
//! - membership converges: after the faults, every member sees every
//!   other member's current life, and only that;
//! - the registry converges: on every member, `svc@NAME` names the current
//!   life's echo of every member, and nothing names a life that is gone;
//!   while a crashed member is down (before its restart), its name has
//!   vanished everywhere.
//!
//! A member declared down (a crash, or the minority of a partition) rejoins
//! only as a new life, as in Akka: the plan restarts it, as an operator (or
//! `arbour up`) would.

use crate::{run_paused, Faults, SimCluster, Trace};
use arbour::platform::NodeRng;
use arbour::{AskError, Node};
use arbour_node::probe::{Echo, Ping, Report, Tally};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The built-in scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 5% loss, 5% duplicates, 10% reordered, jitter: nothing else.
    LossyNetwork,
    /// Members crash (all their tasks dropped at once) and restart, one
    /// after another, at seeded moments.
    CrashStorm,
    /// Every member but the first shuts down gracefully and restarts, in turn.
    RollingRestart,
    /// One member is cut off from the others for a while, then healed.
    PartitionHeal,
}

impl Scenario {
    /// Every built-in scenario.
    pub const ALL: [Scenario; 4] = [
        Scenario::LossyNetwork,
        Scenario::CrashStorm,
        Scenario::RollingRestart,
        Scenario::PartitionHeal,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LossyNetwork => "lossy-network",
            Scenario::CrashStorm => "crash-storm",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::PartitionHeal => "partition-heal",
        }
    }

    /// The scenario called `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    fn faults(self) -> Faults {
        match self {
            Scenario::LossyNetwork => Faults {
                latency: Duration::from_millis(2),
                jitter: Duration::from_millis(3),
                loss: 0.05,
                duplicate: 0.05,
                reorder: 0.1,
                bandwidth: None,
            },
            _ => Faults {
                jitter: Duration::from_millis(1),
                ..Faults::latency(Duration::from_millis(1))
            },
        }
    }
}

/// What one run did and found.
#[derive(Clone, Debug)]
pub struct Run {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// Every event, with its virtual time.
    pub trace: Trace,
    /// Invariants that did not hold (empty: the run passed).
    pub violations: Vec<String>,
    /// Asks answered right.
    pub asks_ok: u64,
    /// Asks that failed with a reason.
    pub asks_failed: u64,
    /// Virtual time the run covered.
    pub virtual_time: Duration,
}

const MEMBERS: usize = 5;
const LIMIT: Duration = Duration::from_secs(120);

/// One member's current life.
struct Member {
    node: Node,
    echo: arbour::ActorRef<Echo>,
}

struct World {
    cluster: SimCluster,
    members: BTreeMap<String, Member>,
    trace: Trace,
}

impl World {
    /// Starts (or restarts) member `name`: its echo, registered as
    /// `svc@NAME`, and its membership events traced.
    async fn start(&mut self, name: &str) {
        let seed = self.cluster.addr_of("m0").filter(|_| name != "m0");
        let (node, _) = self
            .cluster
            .start_member(name, seed.map(|a| ("m0", a)))
            .await
            .unwrap_or_else(|e| panic!("member {name} starts: {e}"));
        let echo = node.spawn(Echo::default());
        node.cluster()
            .register(&format!("svc@{name}"), &echo)
            .unwrap_or_else(|e| panic!("svc@{name}: {e}"));
        self.trace
            .record(format!("start {name} {}", node.node_id()));
        let mut events = node.member_events().expect("membership");
        let (trace, me) = (self.trace.clone(), node.node_id().to_string());
        tokio::task::spawn_local(async move {
            while let Ok(e) = events.recv().await {
                let m = e.member();
                let what = format!("{} {}#{}", e.kind(), m.name, m.incarnation);
                trace.record(format!("{me} sees {what}"));
            }
        });
        self.members.insert(name.to_owned(), Member { node, echo });
    }

    async fn crash(&mut self, name: &str) {
        if let Some(m) = self.members.remove(name) {
            self.trace.record(format!("crash {}", m.node.node_id()));
            m.node.crash().await;
        }
    }

    async fn shutdown(&mut self, name: &str) {
        if let Some(m) = self.members.remove(name) {
            self.trace.record(format!("shutdown {}", m.node.node_id()));
            m.node.shutdown().await;
        }
    }

    /// Whether every member sees exactly the others' current lives.
    fn converged(&self) -> bool {
        self.members.iter().all(|(name, m)| {
            let mut seen: Vec<(String, u64)> = m
                .node
                .members()
                .into_iter()
                .map(|x| (x.name, x.incarnation))
                .collect();
            seen.sort();
            let want: Vec<(String, u64)> = self
                .members
                .iter()
                .filter(|(n, _)| *n != name)
                .map(|(n, x)| (n.clone(), x.node.node_id().incarnation))
                .collect();
            seen == want
        })
    }

    /// The registry problems: on each member, what `svc@NAME` should name
    /// and does not.
    fn registry_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (at, m) in &self.members {
            for (name, x) in &self.members {
                let key = format!("svc@{name}");
                let got = m.node.cluster().whereis(&key);
                if got.as_ref() != Some(x.echo.id()) {
                    out.push(format!("on {at}, {key} names {got:?}, not {}", x.echo.id()));
                }
            }
            for (key, id) in m.node.cluster().names() {
                let current = self.members.get(key.trim_start_matches("svc@"));
                if current.is_none_or(|x| x.echo.id() != &id) {
                    out.push(format!("on {at}, {key} names {id}, a life that is gone"));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Waits until every member has declared `name` down, then until none
    /// resolves `svc@NAME`; the problem, if either does not happen.
    async fn gone_everywhere(&self, name: &str) -> Option<String> {
        let key = format!("svc@{name}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self
            .members
            .values()
            .any(|m| m.node.members().iter().any(|x| x.name == name))
        {
            if tokio::time::Instant::now() >= deadline {
                return Some(format!(
                    "{name} was not declared down everywhere within 10 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let holders: Vec<&String> = self
                .members
                .iter()
                .filter(|(_, m)| m.node.cluster().whereis(&key).is_some())
                .map(|(n, _)| n)
                .collect();
            if holders.is_empty() {
                return None;
            }
            if tokio::time::Instant::now() >= deadline {
                return Some(format!(
                    "{name} is down, but {key} still names its actor on {holders:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_converged(&self, what: &str) -> Option<String> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !self.converged() {
            if tokio::time::Instant::now() >= deadline {
                return Some(format!(
                    "membership did not converge {what} within {LIMIT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

/// The workload's tallies.
#[derive(Default)]
struct Load {
    ok: u64,
    failed: u64,
    wrong: Vec<String>,
    /// Per target life: tells sent.
    sent: BTreeMap<String, u64>,
}

/// Runs `scenario` with `seed`.
pub fn run(scenario: Scenario, seed: u64) -> Run {
    run_paused(|| async move {
        let started = tokio::time::Instant::now();
        let trace = Trace::default();
        let mut w = World {
            cluster: SimCluster::with_faults(seed, scenario.faults()),
            members: BTreeMap::new(),
            trace: trace.clone(),
        };
        let mut violations = Vec::new();
        for i in 0..MEMBERS {
            w.start(&format!("m{i}")).await;
        }
        if let Some(v) = w.wait_converged("at the start").await {
            violations.push(v);
        }
        // the workload, from m0, until told to stop
        let load = Rc::new(RefCell::new(Load::default()));
        let stop = Rc::new(std::cell::Cell::new(false));
        let client = w.members["m0"].node.clone();
        let task = {
            let (load, stop) = (load.clone(), stop.clone());
            tokio::task::spawn_local(async move {
                let mut i = 0u64;
                while !stop.get() {
                    for n in 1..MEMBERS {
                        let Some(target) = client.cluster().lookup::<Echo>(&format!("svc@m{n}"))
                        else {
                            continue;
                        };
                        let key = target.id().to_string();
                        let seq = {
                            let mut l = load.borrow_mut();
                            let s = l.sent.entry(key).or_insert(0);
                            *s += 1;
                            *s
                        };
                        target.tell(Tally { sender: 1, seq });
                        i += 1;
                        let load = load.clone();
                        tokio::task::spawn_local(async move {
                            let r = target.ask(Ping(i)).timeout(Duration::from_secs(2)).await;
                            let mut l = load.borrow_mut();
                            match r {
                                Ok(v) if v == i + 1 => l.ok += 1,
                                Ok(v) => l
                                    .wrong
                                    .push(format!("ask {i} of {} answered {v}", target.id())),
                                Err(
                                    AskError::NodeDown(_)
                                    | AskError::NodeShutdown(_)
                                    | AskError::ActorGone(_)
                                    | AskError::Timeout(_),
                                ) => l.failed += 1,
                                Err(e) => l.wrong.push(format!("ask {i} of {}: {e}", target.id())),
                            }
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        // the fault plan
        let rng = NodeRng::from_seed(seed).derive("plan");
        let pick = |rng: &NodeRng| format!("m{}", 1 + (rng.next_u64() as usize) % (MEMBERS - 1));
        let wait = |rng: &NodeRng, lo: u64, hi: u64| {
            Duration::from_millis(lo + rng.next_u64() % (hi - lo).max(1))
        };
        match scenario {
            Scenario::LossyNetwork => tokio::time::sleep(Duration::from_secs(10)).await,
            Scenario::CrashStorm => {
                for _ in 0..6 {
                    tokio::time::sleep(wait(&rng, 300, 2_000)).await;
                    let victim = pick(&rng);
                    w.crash(&victim).await;
                    // once it is declared down, its names vanish everywhere
                    if let Some(v) = w.gone_everywhere(&victim).await {
                        violations.push(v);
                    }
                    tokio::time::sleep(wait(&rng, 0, 1_000)).await;
                    w.start(&victim).await;
                }
            }
            Scenario::RollingRestart => {
                for n in 1..MEMBERS {
                    let name = format!("m{n}");
                    w.shutdown(&name).await;
                    w.start(&name).await;
                    if let Some(v) = w.wait_converged(&format!("after restarting {name}")).await {
                        violations.push(v);
                    }
                }
            }
            Scenario::PartitionHeal => {
                let victim = pick(&rng);
                tokio::time::sleep(wait(&rng, 200, 1_000)).await;
                let addr = w.cluster.addr_of(&victim).expect("addr");
                trace.record(format!("partition {victim}"));
                w.cluster.net.partition(&[addr]);
                tokio::time::sleep(wait(&rng, 500, 4_000)).await;
                w.cluster.net.heal_all();
                trace.record(format!("heal {victim}"));
                // declared down meanwhile: it rejoins as a new life
                tokio::time::sleep(Duration::from_secs(2)).await;
                let inc = w.members[&victim].node.node_id().incarnation;
                let downed = w.members.iter().any(|(n, m)| {
                    *n != victim
                        && !m
                            .node
                            .members()
                            .iter()
                            .any(|x| x.name == victim && x.incarnation == inc)
                });
                if downed {
                    w.crash(&victim).await;
                    w.start(&victim).await;
                }
            }
        }
        if let Some(v) = w.wait_converged("after the faults").await {
            violations.push(v);
        }
        // the registry settles within a few gossip rounds of convergence
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut problems = w.registry_problems();
        while !problems.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            problems = w.registry_problems();
        }
        violations.extend(problems);
        stop.set(true);
        let _ = task.await;
        // let the last asks end (each within its 2 s)
        tokio::time::sleep(Duration::from_secs(3)).await;
        // per-pair order, on the echoes of the current lives
        for (name, m) in &w.members {
            if name == "m0" {
                continue;
            }
            match m.echo.ask(Report).timeout(Duration::from_secs(5)).await {
                Ok(r) if r.out_of_order == 0 => {}
                Ok(r) => violations.push(format!("{name}: {} tells out of order", r.out_of_order)),
                Err(e) => violations.push(format!("{name}: no report: {e}")),
            }
        }
        let (ok, failed) = {
            let l = load.borrow();
            violations.extend(l.wrong.iter().cloned());
            (l.ok, l.failed)
        };
        trace.record(format!("asks ok {ok} failed {failed}"));
        for (_, m) in std::mem::take(&mut w.members) {
            m.node.crash().await;
        }
        Run {
            scenario,
            seed,
            trace,
            violations,
            asks_ok: ok,
            asks_failed: failed,
            virtual_time: started.elapsed(),
        }
    })
}
