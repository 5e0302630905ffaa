//! registry-race: every member registers the same names in the same
//! virtual instant, round after round, some rounds with a member cut off
//! (so both sides of the partition hand the names out, and the conflict is
//! settled when it heals). Checked once the registry settles: each name
//! is held by exactly one running actor and every member agrees which;
//! every other running life that registered it was told `NameLost`
//! exactly once.

use super::plan::{millis, pick};
use super::world::World;
use arbour::platform::NodeRng;
use std::collections::BTreeMap;
use std::time::Duration;

const ROUNDS: usize = 5;
const NAMES_PER_ROUND: usize = 3;

/// Runs the races; what did not hold goes to `violations`.
pub async fn run(w: &mut World, rng: &NodeRng, violations: &mut Vec<String>) {
    // name → the lives (node ids) that registered it
    let mut registrants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for round in 0..ROUNDS {
        tokio::time::sleep(millis(rng, 100, 1_000)).await;
        let cut = rng
            .next_u64()
            .is_multiple_of(2)
            .then(|| pick(rng, &w.faultable()));
        if let Some(who) = &cut {
            w.trace.record(format!("partition {who}"));
            w.cluster.net.partition(&[w.addr(who)]);
            // long enough for both sides to hand names out, short enough
            // that nobody is declared down
            tokio::time::sleep(millis(rng, 10, 200)).await;
        }
        for k in 0..NAMES_PER_ROUND {
            let name = format!("race-{round}-{k}");
            for m in w.members.values() {
                match m.node.global().register(&name, &m.echo) {
                    Ok(()) => registrants
                        .entry(name.clone())
                        .or_default()
                        .push(m.node.node_id().to_string()),
                    Err(e) => {
                        violations.push(format!("{} registers {name}: {e}", m.node.node_id()))
                    }
                }
            }
        }
        w.trace.record(format!(
            "round {round}: every member registered {NAMES_PER_ROUND} names"
        ));
        if cut.is_some() {
            tokio::time::sleep(millis(rng, 50, 250)).await;
            w.cluster.net.heal_all();
            w.trace.record("heal");
        }
    }
    if let Some(v) = w.settle("after the races").await {
        violations.push(v);
    }
    let settled = crate::eventually(Duration::from_secs(10), Duration::from_millis(50), || {
        let problems = check(w, &registrants);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    });
    violations.extend(settled.await.err().unwrap_or_default());
}

/// What is wrong with the race names now.
fn check(w: &World, registrants: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    let running: BTreeMap<String, &arbour::ActorId> = w
        .members
        .values()
        .map(|m| (m.node.node_id().to_string(), m.echo.id()))
        .collect();
    let lost = w.lost.borrow();
    for (name, lives) in registrants {
        let views: Vec<Option<arbour::ActorId>> = w
            .members
            .values()
            .map(|m| m.node.global().whereis_id(name))
            .collect();
        let alive: Vec<&String> = lives.iter().filter(|l| running.contains_key(*l)).collect();
        let winner = views.first().cloned().flatten();
        if views.iter().any(|v| *v != winner) {
            out.push(format!("{name}: the members disagree: {views:?}"));
            continue;
        }
        match &winner {
            None if alive.is_empty() => {}
            None => out.push(format!(
                "{name}: nobody holds it, though {alive:?} registered it"
            )),
            Some(id) if !running.values().any(|r| *r == id) => {
                out.push(format!("{name} names {id}, which is not running"))
            }
            Some(id) => {
                for life in alive {
                    let won = running.get(life).is_some_and(|r| *r == id);
                    let told = lost
                        .get(&(life.clone(), name.clone()))
                        .copied()
                        .unwrap_or(0);
                    if !won && told != 1 {
                        out.push(format!("{life} lost {name} but was told {told} times"));
                    }
                    if won && told != 0 {
                        out.push(format!("{life} holds {name} but was told it lost it"));
                    }
                }
            }
        }
    }
    out
}
