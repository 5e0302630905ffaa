//! Fault plans: what happens to which member, and when. The built-in
//! scenarios script theirs from the seed; [`Plan::random`] draws a whole
//! plan from it.

use super::world::World;
use crate::Faults;
use arbour::platform::NodeRng;
use std::time::Duration;

/// How a member is cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Nothing passes either way.
    Symmetric,
    /// Its packets are lost; it still hears the others.
    OneWayOut,
    /// It hears nothing; the others still hear it.
    OneWayIn,
    /// Its links are cut one by one, then healed one by one in a random
    /// order.
    Clog,
}

impl Shape {
    const ALL: [Shape; 4] = [
        Shape::Symmetric,
        Shape::OneWayOut,
        Shape::OneWayIn,
        Shape::Clog,
    ];
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The member crashes; once every other member has declared it down
    /// (and its names vanished everywhere), it stays down for the
    /// duration, then restarts as a new life.
    Crash(String, Duration),
    /// The member shuts down gracefully and starts again.
    Restart(String),
    /// The member is not scheduled for a while.
    Pause(String, Duration),
    /// The member is cut off for a while, then healed.
    Partition(String, Shape, Duration),
    /// Every link drops, duplicates and reorders packets for a while.
    Lossy(Duration),
}

/// A fault, and how long before it happens.
#[derive(Clone, Debug)]
pub struct Step {
    /// Virtual time from the end of the previous step.
    pub after: Duration,
    /// What happens.
    pub fault: Fault,
}

/// Faults in order.
#[derive(Clone, Debug, Default)]
pub struct Plan(pub Vec<Step>);

/// Picks one of `v` with `rng`.
pub fn pick<T: Clone>(rng: &NodeRng, v: &[T]) -> T {
    v[(rng.next_u64() as usize) % v.len()].clone()
}

/// A duration in `lo..hi` milliseconds, from `rng`.
pub fn millis(rng: &NodeRng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(lo + rng.next_u64() % (hi - lo).max(1))
}

/// 1 ms latency with 1 ms jitter, nothing lost.
pub fn clean() -> Faults {
    Faults {
        jitter: Duration::from_millis(1),
        ..Faults::latency(Duration::from_millis(1))
    }
}

impl Plan {
    /// `steps` faults drawn from `rng` over members `victims`: crashes,
    /// graceful restarts, short and long pauses, partitions of every shape
    /// and lossy spells, at random moments.
    pub fn random(rng: &NodeRng, victims: &[String], steps: usize) -> Self {
        let mut plan = Vec::new();
        for _ in 0..steps {
            let who = pick(rng, victims);
            let fault = match rng.next_u64() % 6 {
                0 => Fault::Crash(who, millis(rng, 0, 1_000)),
                1 => Fault::Restart(who),
                2 => Fault::Pause(who, millis(rng, 20, 250)),
                3 => Fault::Pause(who, millis(rng, 1_500, 4_000)),
                4 => Fault::Partition(who, pick(rng, &Shape::ALL), millis(rng, 300, 4_000)),
                _ => Fault::Lossy(millis(rng, 1_000, 5_000)),
            };
            plan.push(Step {
                after: millis(rng, 100, 2_000),
                fault,
            });
        }
        Plan(plan)
    }

    /// Carries the plan out on `w`, adding what did not hold to
    /// `violations`. Members declared down by a pause or a partition
    /// learn it and start again as new lives on their own (what
    /// [`World::settle`] does for them, as `arbour run` would); the run
    /// waits for membership to converge from 2 s after the fault ends.
    pub async fn run(&self, w: &mut World, rng: &NodeRng, violations: &mut Vec<String>) {
        for step in &self.0 {
            tokio::time::sleep(step.after).await;
            match &step.fault {
                Fault::Crash(who, down_for) => {
                    let known = w.crash(who).await;
                    if let Some(v) = w.gone_everywhere(who, known).await {
                        violations.push(v);
                    }
                    tokio::time::sleep(*down_for).await;
                    w.start(who).await;
                }
                Fault::Restart(who) => {
                    w.shutdown(who).await;
                    w.start(who).await;
                }
                Fault::Pause(who, d) => {
                    w.pause(who, *d).await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    // a pause well inside the failure detector's patience
                    // (probe rtt + suspicion) must not cost the member its life
                    if *d <= Duration::from_millis(250) && w.declared_down().contains(who) {
                        violations.push(format!(
                            "a {} ms pause got {who} declared down",
                            d.as_millis()
                        ));
                    }
                    if let Some(v) = w.settle(&format!("after pausing {who}")).await {
                        violations.push(v);
                    }
                }
                Fault::Partition(who, shape, d) => {
                    partition(w, rng, who, *shape, *d).await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    if let Some(v) = w.settle(&format!("after healing {who}")).await {
                        violations.push(v);
                    }
                }
                Fault::Lossy(d) => {
                    w.trace
                        .record(format!("lossy links for {} ms", d.as_millis()));
                    w.cluster.net.set_default(Faults::lossy());
                    tokio::time::sleep(*d).await;
                    w.cluster.net.set_default(clean());
                    w.trace.record("clean links");
                }
            }
        }
    }
}

/// Cuts `who` off in `shape` for `d`, then heals every link.
async fn partition(w: &World, rng: &NodeRng, who: &str, shape: Shape, d: Duration) {
    let me = w.addr(who);
    let others: Vec<_> = w
        .members
        .keys()
        .filter(|n| *n != who)
        .map(|n| w.addr(n))
        .collect();
    w.trace.record(format!(
        "partition {who} {shape:?} for {} ms",
        d.as_millis()
    ));
    match shape {
        Shape::Symmetric => w.cluster.net.partition(&[me]),
        Shape::OneWayOut => others
            .iter()
            .for_each(|o| w.cluster.net.cut_one_way(me, *o)),
        Shape::OneWayIn => others
            .iter()
            .for_each(|o| w.cluster.net.cut_one_way(*o, me)),
        Shape::Clog => {
            for o in shuffled(rng, others.clone()) {
                w.cluster.net.cut(me, o);
                tokio::time::sleep(millis(rng, 50, 300)).await;
            }
        }
    }
    tokio::time::sleep(d).await;
    if shape == Shape::Clog {
        for o in shuffled(rng, others) {
            w.cluster.net.heal(me, o);
            tokio::time::sleep(millis(rng, 50, 300)).await;
        }
    }
    w.cluster.net.heal_all();
    w.trace.record(format!("heal {who}"));
}

/// `v` in an order drawn from `rng`.
fn shuffled<T>(rng: &NodeRng, mut v: Vec<T>) -> Vec<T> {
    for i in (1..v.len()).rev() {
        v.swap(i, (rng.next_u64() as usize) % (i + 1));
    }
    v
}
