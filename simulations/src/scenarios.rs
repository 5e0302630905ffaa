//! Scenarios: real arbour code driven by seeded faults, with invariants.

use crate::Trace;
use actix::prelude::*;
use arbour::{
    ActorRef, ChildSpec, ContextExt, ExitReason, Node, Restart, SupervisorRef, SupervisorSpec,
};
use std::time::Duration;

/// What a scenario run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The event trace.
    pub trace: Trace,
    /// Faults injected.
    pub faults: u32,
    /// Restarts performed.
    pub restarts: u64,
    /// Whether the top supervisor gave up (intensity exceeded).
    pub escalated: bool,
}

struct Worker {
    name: String,
    trace: Trace,
}

impl Actor for Worker {
    type Context = Context<Self>;
    fn started(&mut self, _: &mut Context<Self>) {
        self.trace.record(format!("start {}", self.name));
    }
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.trace.record(format!("stop {}", self.name));
    }
}

#[derive(Message)]
#[rtype(result = "()")]
enum Fault {
    Panic,
    Exit(ExitReason),
}

impl Handler<Fault> for Worker {
    type Result = ();
    fn handle(&mut self, f: Fault, ctx: &mut Context<Self>) {
        match f {
            Fault::Panic => panic!("injected fault in {}", self.name),
            Fault::Exit(r) => ctx.stop_with(r),
        }
    }
}

fn worker(name: &str, trace: &Trace) -> ChildSpec {
    let (name, trace) = (name.to_owned(), trace.clone());
    ChildSpec::worker(name.clone(), move || Worker {
        name: name.clone(),
        trace: trace.clone(),
    })
}

/// Refs to every worker of the tree, found through the supervisors (they stay
/// valid across restarts, but a rebuilt subtree has new refs).
fn workers(top: &SupervisorRef) -> Vec<(String, ActorRef<Worker>)> {
    let mut v = Vec::new();
    for id in ["cache", "auth"] {
        if let Some(r) = top.child::<Worker>(id) {
            v.push((id.to_owned(), r));
        }
    }
    if let Some(p) = top.child_supervisor("pipeline") {
        for id in ["reader", "parser", "writer"] {
            if let Some(r) = p.child::<Worker>(id) {
                v.push((format!("pipeline/{id}"), r));
            }
        }
    }
    v
}

/// A two-level tree (one_for_one over two workers and a rest_for_one
/// pipeline of three) under `steps` random faults at random virtual times.
///
/// Invariants, checked after every fault once the tree has settled: each
/// permanent worker is running unless its supervisor gave up; and at the end,
/// shutting the tree down leaves no worker running.
pub fn supervision_chaos(seed: u64, steps: u32) -> Result<Outcome, String> {
    crate::run_paused(|| async move {
        let node = Node::builder("sim").rng_seed(seed).incarnation(1).build();
        let trace = Trace::default();
        let pipeline = SupervisorSpec::rest_for_one()
            .name("pipeline")
            .intensity(4)
            .period(Duration::from_secs(2))
            .child(worker("reader", &trace))
            .child(worker("parser", &trace))
            .child(worker("writer", &trace).restart(Restart::Transient));
        let top = SupervisorSpec::one_for_one()
            .name("top")
            .intensity(12)
            .period(Duration::from_secs(5))
            .child(worker("cache", &trace))
            .child(worker("auth", &trace))
            .child(ChildSpec::supervisor("pipeline", pipeline))
            .start(&node)
            .await
            .map_err(|e| format!("seed {seed}: tree did not start: {e}"))?;
        let rng = node.rng().derive("chaos");
        let mut faults = 0;
        let mut escalated = false;
        for _ in 0..steps {
            let wait = Duration::from_millis(1 + rng.next_u64() % 1500);
            tokio::time::sleep(wait).await;
            if !top.is_alive() {
                escalated = true;
                break;
            }
            let ws = workers(&top);
            let live: Vec<_> = ws.iter().filter(|(_, r)| r.is_alive()).collect();
            if live.is_empty() {
                continue;
            }
            let (name, target) = live[(rng.next_u64() as usize) % live.len()];
            let fault = match rng.next_u64() % 4 {
                0 => Fault::Panic,
                1 => Fault::Exit(ExitReason::Normal),
                2 => Fault::Exit(ExitReason::Error("injected".into())),
                _ => Fault::Exit(ExitReason::Shutdown),
            };
            trace.record(format!("fault {name}"));
            target.tell(fault);
            faults += 1;
            // settle: let the supervisors react (virtual time does not move)
            for _ in 0..200 {
                tokio::task::yield_now().await;
            }
            if top.is_alive() {
                for (n, r) in workers(&top) {
                    let transient = n.ends_with("writer");
                    let pipeline_alive = top
                        .child_supervisor("pipeline")
                        .is_some_and(|p| p.is_alive());
                    if !transient && n.starts_with("pipeline/") && !pipeline_alive {
                        continue;
                    }
                    if !transient && !r.is_alive() {
                        return Err(format!(
                            "seed {seed}: permanent worker {n} is down and nobody gave up"
                        ));
                    }
                }
            }
        }
        let restarts = node.stats().restarts;
        let all = workers(&top);
        if top.is_alive() {
            let _ = tokio::time::timeout(Duration::from_secs(60), top.shutdown()).await;
        }
        for (n, r) in all {
            if r.is_alive() {
                return Err(format!("seed {seed}: worker {n} outlived the tree"));
            }
        }
        trace.record(format!("end restarts={restarts} escalated={escalated}"));
        Ok(Outcome {
            seed,
            trace,
            faults,
            restarts,
            escalated,
        })
    })
}
