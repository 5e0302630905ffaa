//! split-brain: a partition longer than the resolver's `stable_after`.
//! `m0` supervises a pool of five remote children placed anywhere; m1–m4
//! are the candidates of a [`Singleton`]. The member running the singleton
//! and one other are cut off from the other three for 8–12 s, then
//! healed. Checked, every 50 ms of the run from the cut on, by counting
//! the instances alive in the whole simulated cluster (each one's life is
//! its actor's, counted up when built and down when dropped):
//! - never more than one singleton instance, and never more than five of
//!   the pool, on both sides together;
//! - the two cut off (the minority) down themselves within `stable_after`
//!   + 2 s of the cut, and the three never do;
//! - after the heal the two are back as new lives (membership converges,
//!   no operator), and the singleton runs once and the pool has five.

use super::plan::{millis, pick};
use super::tally::{alive, Tally};
use super::world::World;
use arbour::cluster::{Placement, Singleton, SingletonRef};
use arbour::platform::NodeRng;
use arbour::{ChildSpec, SupervisorSpec};
use std::collections::BTreeMap;
use std::time::Duration;

/// The resolver's default for five members.
const STABLE_AFTER: Duration = Duration::from_secs(5);
const POOL: usize = 5;

/// Runs the partition; what did not hold goes to `violations`.
pub async fn run(w: &mut World, rng: &NodeRng, violations: &mut Vec<String>) {
    super::tally::reset();
    for (name, m) in &w.members {
        if let Err(e) = m.node.kind::<Tally>("tally") {
            return violations.push(format!("the tally kind on {name}: {e}"));
        }
    }
    let candidates = w.faultable();
    let handles: Vec<(String, SingletonRef<Tally>)> = candidates
        .iter()
        .filter_map(|n| {
            Singleton::start::<Tally>(&w.members[n].node, "leader", "leader".into())
                .ok()
                .map(|h| (n.clone(), h))
        })
        .collect();
    let pool = (0..POOL).fold(
        SupervisorSpec::one_for_one()
            .intensity(100)
            .period(Duration::from_secs(10)),
        |spec, i| {
            spec.child(ChildSpec::remote::<Tally>(
                format!("p{i}"),
                Placement::Any,
                "tally",
                "pool".into(),
            ))
        },
    );
    let _pool = match pool.start(&w.members["m0"].node).await {
        Ok(p) => p,
        Err(e) => return violations.push(format!("the pool does not start: {e}")),
    };
    let formed = crate::eventually(Duration::from_secs(10), Duration::from_millis(50), || {
        let holder = handles
            .iter()
            .find_map(|(_, h)| h.current().map(|a| a.id().node.name.to_string()));
        match holder {
            Some(h) if alive("leader") == 1 && alive("pool") == POOL => Ok(h),
            _ => Err(format!(
                "{} leader(s), {} of the pool",
                alive("leader"),
                alive("pool")
            )),
        }
    })
    .await;
    let leader_on = match formed {
        Ok(h) => h,
        Err(e) => return violations.push(format!("before the cut: {e}")),
    };
    // the singleton's member and one other are cut off
    let other = pick(
        rng,
        &candidates
            .iter()
            .filter(|n| **n != leader_on)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let minority = [leader_on.clone(), other];
    let majority: Vec<String> = w
        .members
        .keys()
        .filter(|n| !minority.contains(n))
        .cloned()
        .collect();
    let hold = millis(rng, 8_000, 12_000);
    w.trace.record(format!(
        "cut {minority:?} off for {} ms (the singleton runs on {leader_on})",
        hold.as_millis()
    ));
    let addrs: Vec<_> = minority.iter().map(|n| w.addr(n)).collect();
    let cut = tokio::time::Instant::now();
    w.cluster.net.partition(&addrs);
    let mut worst = (0, 0);
    let mut downed_at: BTreeMap<String, Duration> = BTreeMap::new();
    while cut.elapsed() < hold {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for n in w.downed() {
            downed_at.entry(n).or_insert(cut.elapsed());
        }
        let (leaders, pool) = (alive("leader"), alive("pool"));
        if leaders > 1 || pool > POOL {
            violations.push(format!(
                "{} ms after the cut: {leaders} singleton instances, {pool} of the pool ({POOL} configured)",
                cut.elapsed().as_millis()
            ));
            break;
        }
        worst = (worst.0.max(leaders), worst.1.max(pool));
    }
    w.trace.record(format!(
        "during the cut: at most {} singleton, {} of the pool",
        worst.0, worst.1
    ));
    // stable_after + 2 s, and the detection before the view is stable
    let bound = STABLE_AFTER + Duration::from_millis(3_500);
    for n in &minority {
        match downed_at.get(n) {
            Some(at) if *at <= bound => {}
            at => violations.push(format!(
                "{n}, on the minority side, downed itself at {at:?} after the cut (bound {bound:?})"
            )),
        }
    }
    for n in &majority {
        if let Some(at) = downed_at.get(n) {
            violations.push(format!(
                "{n}, on the majority side, downed itself {at:?} after the cut"
            ));
        }
    }
    w.trace
        .record(format!("downed after the cut: {downed_at:?}"));
    w.cluster.net.heal_all();
    w.trace.record("heal");
    if let Some(v) = w.settle("after the split").await {
        violations.push(v);
    }
    let whole = crate::eventually(Duration::from_secs(10), Duration::from_millis(50), || {
        if alive("leader") == 1 && alive("pool") == POOL {
            Ok(())
        } else {
            Err(format!(
                "after the heal: {} singleton instance(s), {} of the pool",
                alive("leader"),
                alive("pool")
            ))
        }
    })
    .await;
    if let Err(e) = whole {
        violations.push(e);
    }
}
