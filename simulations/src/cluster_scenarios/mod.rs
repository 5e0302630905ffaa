//! Whole-cluster scenarios: five members of the real stack (QUIC over the
//! simulated network, SWIM, the registry, supervisors, actors) on one
//! thread in virtual time, a workload, a fault plan drawn from the seed,
//! and invariants checked during and after the run.
//!
//! Every scenario runs the [`workload`] (asks, tells and monitors from
//! `m0`, which is never faulted) and, after its faults, checks:
//! - membership converges: every member sees every other member's current
//!   life, and only that, within [`world::CONVERGE_WITHIN`];
//! - the registry converges: on every member, `svc@NAME` names the current
//!   life's echo of every member, and nothing names a life that is gone;
//! - the workload's invariants: right answers, asks ended by their
//!   deadline plus a bound, per-pair order, monitors fired exactly once.
//!
//! Each node's wall clock is skewed by up to two minutes either way
//! (seeded): nothing may depend on it. A member declared down (the
//! minority of a partition, downed by the split-brain resolver; a long
//! pause) learns it and rejoins as a new life, as `arbour run` does with
//! `on_downed = "rejoin"`: no operator restarts anything.

mod plan;
mod registry_race;
mod split_brain;
mod supervision;
mod tally;
pub mod workload;
pub mod world;

pub use plan::{Fault, Plan, Shape, Step};

use crate::{run_paused, Faults, Trace};
use arbour::platform::NodeRng;
use std::time::Duration;
use world::World;

/// The built-in scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 5% loss, 5% duplicates, 10% reordered, jitter: nothing else.
    LossyNetwork,
    /// Members crash (all their tasks dropped at once) and restart, one
    /// after another, at seeded moments.
    CrashStorm,
    /// Every member but the first shuts down gracefully and restarts, in
    /// turn; each is a candidate of a singleton, handed over as they go.
    RollingRestart,
    /// One member is cut off for a while, then healed: symmetrically, one
    /// way or the other, or link by link (healed in a random order).
    PartitionHeal,
    /// Every member registers the same names at once, with partitions.
    RegistryRace,
    /// Bursts of failures in a supervised pool of remote children, some
    /// past its intensity.
    SupervisorEscalation,
    /// Members stop being scheduled for a while (a GC pause, SIGSTOP):
    /// short pauses must cost nothing, long ones a restart.
    Pause,
    /// A plan of eight faults of every kind, drawn from the seed.
    RandomFaults,
    /// The singleton's member and one other cut off for longer than
    /// `stable_after`: the minority downs itself, and no singleton or pool
    /// instance runs twice.
    SplitBrain,
}

impl Scenario {
    /// Every built-in scenario.
    pub const ALL: [Scenario; 9] = [
        Scenario::LossyNetwork,
        Scenario::CrashStorm,
        Scenario::RollingRestart,
        Scenario::PartitionHeal,
        Scenario::RegistryRace,
        Scenario::SupervisorEscalation,
        Scenario::Pause,
        Scenario::RandomFaults,
        Scenario::SplitBrain,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LossyNetwork => "lossy-network",
            Scenario::CrashStorm => "crash-storm",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::PartitionHeal => "partition-heal",
            Scenario::RegistryRace => "registry-race",
            Scenario::SupervisorEscalation => "supervisor-escalation",
            Scenario::Pause => "pause",
            Scenario::RandomFaults => "random-faults",
            Scenario::SplitBrain => "split-brain",
        }
    }

    /// The scenario called `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    fn faults(self) -> Faults {
        match self {
            Scenario::LossyNetwork => Faults::lossy(),
            _ => plan::clean(),
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

/// Runs `scenario` with `seed`.
pub fn run(scenario: Scenario, seed: u64) -> Run {
    run_paused(|| async move {
        let started = tokio::time::Instant::now();
        let trace = Trace::default();
        let mut w = World::new(seed, scenario.faults(), trace.clone());
        let mut violations = Vec::new();
        for i in 0..MEMBERS {
            w.start(&format!("m{i}")).await;
        }
        if let Some(v) = w.settle("at the start").await {
            violations.push(v);
        }
        let load = workload::Workload::start(w.members["m0"].node.clone(), MEMBERS);
        let rng = NodeRng::from_seed(seed).derive("plan");
        let victim = || plan::pick(&rng, &w.faultable());
        match scenario {
            Scenario::LossyNetwork => tokio::time::sleep(Duration::from_secs(10)).await,
            Scenario::CrashStorm => {
                let steps = (0..6)
                    .map(|_| Step {
                        after: plan::millis(&rng, 300, 2_000),
                        fault: Fault::Crash(victim(), plan::millis(&rng, 0, 1_000)),
                    })
                    .collect();
                Plan(steps).run(&mut w, &rng, &mut violations).await;
            }
            Scenario::RollingRestart => rolling_restart(&mut w, &rng, &mut violations).await,
            Scenario::PartitionHeal => {
                let shape = plan::pick(
                    &rng,
                    &[
                        Shape::Symmetric,
                        Shape::OneWayOut,
                        Shape::OneWayIn,
                        Shape::Clog,
                    ],
                );
                let step = Step {
                    after: plan::millis(&rng, 200, 1_000),
                    fault: Fault::Partition(victim(), shape, plan::millis(&rng, 500, 4_000)),
                };
                Plan(vec![step]).run(&mut w, &rng, &mut violations).await;
                // what the partition cost shows once the heal has spread
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::RegistryRace => registry_race::run(&mut w, &rng, &mut violations).await,
            Scenario::SupervisorEscalation => supervision::run(&mut w, &rng, &mut violations).await,
            Scenario::SplitBrain => split_brain::run(&mut w, &rng, &mut violations).await,
            Scenario::Pause => {
                let steps = (0..6)
                    .map(|i| {
                        let d = if i % 2 == 0 {
                            plan::millis(&rng, 20, 250)
                        } else {
                            plan::millis(&rng, 1_500, 4_000)
                        };
                        Step {
                            after: plan::millis(&rng, 200, 1_500),
                            fault: Fault::Pause(victim(), d),
                        }
                    })
                    .collect();
                Plan(steps).run(&mut w, &rng, &mut violations).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::RandomFaults => {
                let plan = Plan::random(&rng, &w.faultable(), 8);
                for (i, s) in plan.0.iter().enumerate() {
                    trace.record(format!(
                        "plan {i}: after {} ms, {:?}",
                        s.after.as_millis(),
                        s.fault
                    ));
                }
                plan.run(&mut w, &rng, &mut violations).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        if let Some(v) = w.settle("after the faults").await {
            violations.push(v);
        }
        violations.extend(w.registry_settled().await);
        let out = load.finish(&w).await;
        violations.extend(out.violations);
        trace.record(format!(
            "asks ok {} failed {}; spawns ok {} failed {}",
            out.ok, out.failed, out.spawned, out.spawns_failed
        ));
        for v in &violations {
            trace.record(format!("VIOLATION {v}"));
        }
        w.crash_all().await;
        Run {
            scenario,
            seed,
            trace,
            violations,
            asks_ok: out.ok,
            asks_failed: out.failed,
            virtual_time: started.elapsed(),
        }
    })
}

/// rolling-restart: every member but `m0` leaves gracefully and starts
/// again as a new life, in turn. Each is a candidate of a singleton
/// (its new life too), so the singleton is handed over whenever its
/// member leaves: never two instances alive at once (checked every
/// 10 ms), and one running again within 2 s of each restart.
async fn rolling_restart(w: &mut World, rng: &NodeRng, violations: &mut Vec<String>) {
    use arbour::cluster::Singleton;
    use tally::{alive, Tally};
    tally::reset();
    let candidate = |w: &World, name: &str| {
        let node = &w.members[name].node;
        Singleton::start::<Tally>(node, "leader", "leader".into())
            .map(|_| ())
            .map_err(|e| format!("{name} as a candidate: {e}"))
    };
    for name in w.faultable() {
        if let Err(e) = candidate(w, &name) {
            return violations.push(e);
        }
    }
    let twice = std::rc::Rc::new(std::cell::Cell::new(None));
    let watch = {
        let twice = twice.clone();
        tokio::task::spawn_local(async move {
            let start = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if alive("leader") > 1 && twice.get().is_none() {
                    twice.set(Some(start.elapsed()));
                }
            }
        })
    };
    let one = || async {
        crate::eventually(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || match alive("leader") {
                1 => Ok(()),
                n => Err(format!("{n} singleton instances")),
            },
        )
        .await
    };
    if let Err(e) = one().await {
        violations.push(format!("before the restarts: {e}"));
    }
    for name in w.faultable() {
        let step = Step {
            after: Duration::ZERO,
            fault: Fault::Restart(name.clone()),
        };
        Plan(vec![step]).run(w, rng, violations).await;
        if let Err(e) = candidate(w, &name) {
            violations.push(e);
        }
        if let Some(v) = w.settle(&format!("after restarting {name}")).await {
            violations.push(v);
        }
        let back =
            crate::eventually(
                Duration::from_secs(2),
                Duration::from_millis(10),
                || match alive("leader") {
                    1 => Ok(()),
                    n => Err(format!(
                        "{n} singleton instances 2 s after restarting {name}"
                    )),
                },
            )
            .await;
        if let Err(e) = back {
            violations.push(e);
        }
    }
    watch.abort();
    if let Some(at) = twice.get() {
        violations.push(format!(
            "two singleton instances alive at once, {at:?} into the restarts"
        ));
    }
}
