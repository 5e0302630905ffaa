//! The scenarios' traffic, from `m0` (never faulted): every 20 ms
//! (virtual) it asks every other member's `svc@NAME` echo, tells it a
//! numbered message, and monitors each echo life it meets. What it checks:
//! - every ask is answered right, or fails with a reason (node down, shut
//!   down, gone, timed out), never later than its timeout plus
//!   [`ASK_BOUND`];
//! - per-pair order: every echo received m0's tells in order, none twice,
//!   and lost some only if its link broke (its monitor fired);
//! - monitors fire exactly once: every life that is gone was reported
//!   down once; a life that runs was not, unless its connection was lost
//!   (then `NodeDown` once, as Erlang's `noconnection`);
//! - spawn churn: every 250 ms m0 spawns an echo by kind on any member,
//!   asks it once and stops it. Each spawn ends within its bound, with the
//!   actor or a reason (no live node, node down, timed out); each spawned
//!   echo answers right, or fails with a reason.

use super::world::World;
use actix::prelude::*;
use arbour::{ActorId, AskError, Down, Node};
use arbour_testkit::{Echo, Ping, Report, Tally};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// How long each ask waits.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// How much later than its timeout an ask may end.
pub const ASK_BOUND: Duration = Duration::from_millis(50);

/// The workload's tallies.
#[derive(Debug, Default)]
struct Tallies {
    ok: u64,
    failed: u64,
    problems: Vec<String>,
    /// Per target life: tells sent.
    sent: BTreeMap<String, u64>,
    /// Monitor notices per echo life m0 met.
    downs: BTreeMap<ActorId, Vec<arbour::ExitReason>>,
    /// Spawns by kind that started an actor, and that failed with a reason.
    spawned: u64,
    spawns_failed: u64,
}

/// How long a spawn may take: its control ask's timeout and a bound.
const SPAWN_BOUND: Duration =
    arbour::cluster::SPAWN_TIMEOUT.saturating_add(Duration::from_millis(50));

/// Counts `Down` notices.
struct Watch(Rc<RefCell<Tallies>>);

impl Actor for Watch {
    type Context = Context<Self>;
}

impl Handler<Down> for Watch {
    type Result = ();
    fn handle(&mut self, d: Down, _: &mut Context<Self>) {
        self.0
            .borrow_mut()
            .downs
            .entry(d.id)
            .or_default()
            .push(d.reason);
    }
}

/// The running workload.
#[derive(Debug)]
pub struct Workload {
    tallies: Rc<RefCell<Tallies>>,
    stop: Rc<Cell<bool>>,
    task: tokio::task::JoinHandle<()>,
    churn: tokio::task::JoinHandle<()>,
}

/// What the workload found.
#[derive(Debug)]
pub struct Outcome {
    /// Asks answered right.
    pub ok: u64,
    /// Asks that failed with a reason.
    pub failed: u64,
    /// Spawns by kind that started an actor, and that failed with a reason.
    pub spawned: u64,
    /// (See `spawned`.)
    pub spawns_failed: u64,
    /// Invariants that did not hold.
    pub violations: Vec<String>,
}

impl Workload {
    /// Starts the traffic from `client` to every `svc@mN`, `1 <= N < members`.
    pub fn start(client: Node, members: usize) -> Self {
        let tallies = Rc::new(RefCell::new(Tallies::default()));
        let stop = Rc::new(Cell::new(false));
        let watch = Watch(tallies.clone()).start().recipient::<Down>();
        let churn = tokio::task::spawn_local(churn(client.clone(), tallies.clone(), stop.clone()));
        let task = {
            let (tallies, stop) = (tallies.clone(), stop.clone());
            tokio::task::spawn_local(async move {
                let mut i = 0u64;
                while !stop.get() {
                    for n in 1..members {
                        let Some(target) = client.global().whereis::<Echo>(&format!("svc@m{n}"))
                        else {
                            continue;
                        };
                        let seq = {
                            let mut t = tallies.borrow_mut();
                            if !t.downs.contains_key(target.id()) {
                                t.downs.insert(target.id().clone(), Vec::new());
                                drop(t);
                                // kept for the run: dropping a monitor does not cancel it
                                let _ = target.monitor(watch.clone());
                                t = tallies.borrow_mut();
                            }
                            let s = t.sent.entry(target.id().to_string()).or_insert(0);
                            *s += 1;
                            *s
                        };
                        target.tell(Tally { sender: 1, seq });
                        i += 1;
                        let tallies = tallies.clone();
                        tokio::task::spawn_local(ask(target, i, tallies));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Self {
            tallies,
            stop,
            task,
            churn,
        }
    }

    /// Stops the traffic, lets the last asks end, and checks the
    /// invariants against the members running now.
    pub async fn finish(self, w: &World) -> Outcome {
        self.stop.set(true);
        let _ = self.task.await;
        let _ = self.churn.await;
        // every ask ends within its timeout (and the bound)
        tokio::time::sleep(ASK_TIMEOUT + ASK_BOUND + Duration::from_millis(500)).await;
        let mut violations = Vec::new();
        for (name, m) in &w.members {
            if name == "m0" {
                continue;
            }
            let broke = self
                .tallies
                .borrow()
                .downs
                .get(m.echo.id())
                .is_some_and(|d| !d.is_empty());
            match m.echo.ask(Report).timeout(Duration::from_secs(5)).await {
                Ok(r) if r.out_of_order > 0 => violations.push(format!(
                    "{name}: {} tells out of order or twice",
                    r.out_of_order
                )),
                Ok(r) if r.gaps > 0 && !broke => violations.push(format!(
                    "{name}: tells lost ({} gaps), though its link never broke",
                    r.gaps
                )),
                Ok(_) => {}
                Err(e) => violations.push(format!("{name}: no report: {e}")),
            }
        }
        let t = self.tallies.borrow();
        violations.extend(t.problems.iter().cloned());
        if t.spawned == 0 {
            violations.push(format!(
                "no spawn by kind started an actor ({} failed)",
                t.spawns_failed
            ));
        }
        for (id, downs) in &t.downs {
            let running = w.members.values().any(|m| m.echo.id() == id);
            match (running, downs.as_slice()) {
                (true, []) | (true, [arbour::ExitReason::NodeDown]) | (false, [_]) => {}
                (true, d) => violations.push(format!("{id} runs, but its monitor fired: {d:?}")),
                (false, d) => violations.push(format!(
                    "{id} is gone; its monitor fired {} times, not once",
                    d.len()
                )),
            }
        }
        Outcome {
            ok: t.ok,
            failed: t.failed,
            spawned: t.spawned,
            spawns_failed: t.spawns_failed,
            violations,
        }
    }
}

/// Spawn churn from `client` until `stop`: an echo by kind on any member,
/// one ask of it, then stop it.
async fn churn(client: Node, tallies: Rc<RefCell<Tallies>>, stop: Rc<Cell<bool>>) {
    let mut i = 0u64;
    while !stop.get() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        i += 1;
        let spawn = client.spawn_kind::<Echo>(arbour::cluster::Placement::Any, "echo", &());
        let started = tokio::time::Instant::now();
        let echo = match tokio::time::timeout(SPAWN_BOUND, spawn).await {
            Ok(Ok(echo)) => echo,
            Ok(Err(
                arbour::NodeError::Spawn(arbour::cluster::SpawnError::NoNode { .. })
                | arbour::NodeError::Ask(
                    AskError::NodeDown(_) | AskError::NodeShutdown(_) | AskError::Timeout(_),
                ),
            )) => {
                tallies.borrow_mut().spawns_failed += 1;
                continue;
            }
            Ok(Err(e)) => {
                tallies
                    .borrow_mut()
                    .problems
                    .push(format!("spawn {i}: {e}"));
                continue;
            }
            Err(_) => {
                tallies.borrow_mut().problems.push(format!(
                    "spawn {i} did not end within {:?}",
                    started.elapsed()
                ));
                continue;
            }
        };
        tallies.borrow_mut().spawned += 1;
        ask(echo.clone(), 1_000_000 + i, tallies.clone()).await;
        echo.stop();
    }
}

/// One ask of `target`, checked.
async fn ask(target: arbour::ActorRef<Echo>, i: u64, tallies: Rc<RefCell<Tallies>>) {
    let asked = tokio::time::Instant::now();
    let r = target.ask(Ping(i)).timeout(ASK_TIMEOUT).await;
    let took = asked.elapsed();
    let mut t = tallies.borrow_mut();
    if took > ASK_TIMEOUT + ASK_BOUND {
        t.problems.push(format!(
            "ask {i} of {} ended after {took:?}, past its {ASK_TIMEOUT:?} timeout",
            target.id()
        ));
    }
    match r {
        Ok(v) if v == i + 1 => t.ok += 1,
        Ok(v) => t
            .problems
            .push(format!("ask {i} of {} answered {v}", target.id())),
        Err(
            AskError::NodeDown(_)
            | AskError::NodeShutdown(_)
            | AskError::ActorGone(_)
            | AskError::Timeout(_),
        ) => t.failed += 1,
        Err(e) => t.problems.push(format!("ask {i} of {}: {e}", target.id())),
    }
}
