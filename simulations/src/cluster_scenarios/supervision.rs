//! supervisor-escalation: on `m0`, a root supervisor over a pool
//! supervisor (one_for_one, intensity 3 in 2 s) of four children placed
//! anywhere in the cluster (remote children, started by kind). Bursts of
//! one to four of them fail at once (a panic or an error exit), each burst
//! after the last one's restarts left the pool's window. Checked after
//! each burst, as OTP's supervisor specifies it:
//! - at most 3 failures: the pool restarts them and lives on;
//! - 4: the fourth restart would exceed the intensity, so the pool gives
//!   up, and the root restarts it with four fresh children;
//! - either way all four children answer afterwards, and the children of
//!   a pool that gave up are gone everywhere (no orphan keeps running on
//!   another node).

use super::plan::millis;
use super::world::World;
use arbour::platform::NodeRng;
use arbour::{cluster::Placement, ChildSpec, SupervisorRef, SupervisorSpec};
use arbour_testkit::{Crash, Echo, Fail, Ping};
use std::time::Duration;

const CHILDREN: usize = 4;
const INTENSITY: u32 = 3;
const PERIOD: Duration = Duration::from_secs(2);
const BURSTS: usize = 6;

fn pool() -> SupervisorSpec {
    let mut spec = SupervisorSpec::one_for_one()
        .name("pool")
        .intensity(INTENSITY)
        .period(PERIOD);
    for i in 0..CHILDREN {
        spec = spec.child(ChildSpec::remote::<Echo>(
            format!("w{i}"),
            Placement::Any,
            "echo",
            (),
        ));
    }
    spec
}

/// The pool's children now (refs of the running instances).
fn children(pool: &SupervisorRef) -> Vec<arbour::ActorRef<Echo>> {
    (0..CHILDREN)
        .filter_map(|i| pool.child::<Echo>(&format!("w{i}")))
        .collect()
}

/// Waits (5 s at most) until the root's pool runs all its children and
/// each answers; the pool then, or the problem.
async fn pool_whole(root: &SupervisorRef) -> Result<SupervisorRef, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(p) = root
            .child_supervisor("pool")
            .filter(SupervisorRef::is_alive)
        {
            let kids = children(&p);
            if kids.len() == CHILDREN {
                let mut answered = 0;
                for k in &kids {
                    if k.ask(Ping(1)).timeout(Duration::from_millis(500)).await == Ok(2) {
                        answered += 1;
                    }
                }
                if answered == CHILDREN {
                    return Ok(p);
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("the pool is not back at 4 answering children within 5 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the bursts; what did not hold goes to `violations`.
pub async fn run(w: &mut World, rng: &NodeRng, violations: &mut Vec<String>) {
    let m0 = w.members["m0"].node.clone();
    let root = SupervisorSpec::one_for_one()
        .name("root")
        .intensity(100)
        .period(Duration::from_secs(60))
        .child(ChildSpec::supervisor("pool", pool()))
        .start(&m0)
        .await;
    let root = match root {
        Ok(r) => r,
        Err(e) => return violations.push(format!("the tree does not start: {e}")),
    };
    let mut pool = match pool_whole(&root).await {
        Ok(p) => p,
        Err(e) => return violations.push(e),
    };
    for burst in 0..BURSTS {
        // the last burst's restarts have left the pool's window
        tokio::time::sleep(PERIOD + millis(rng, 100, 1_000)).await;
        let k = 1 + (rng.next_u64() as usize) % CHILDREN;
        let kids = children(&pool);
        let spread: Vec<String> = kids.iter().map(|c| c.id().node.name.to_string()).collect();
        w.trace.record(format!(
            "burst {burst}: {k} of the pool's children on {spread:?} fail"
        ));
        for c in kids.iter().take(k) {
            if rng.next_u64().is_multiple_of(4) {
                c.tell(Crash(format!("burst {burst}")));
            } else {
                c.tell(Fail(format!("burst {burst}")));
            }
        }
        let gave_up = k as u32 > INTENSITY;
        let exited = tokio::time::timeout(Duration::from_secs(1), pool.exited()).await;
        match (gave_up, &exited) {
            (true, Ok(reason)) => w.trace.record(format!("the pool gave up: {reason}")),
            (true, Err(_)) => violations.push(format!(
                "burst {burst}: {k} failures in one window, but the pool (intensity {INTENSITY}) did not give up"
            )),
            (false, Ok(reason)) => violations.push(format!(
                "burst {burst}: the pool gave up ({reason}) after {k} failures, within its intensity {INTENSITY}"
            )),
            (false, Err(_)) => {}
        }
        match pool_whole(&root).await {
            Ok(p) => pool = p,
            Err(e) => violations.push(format!("burst {burst}: {e}")),
        }
        if gave_up {
            // the old pool's children went with it, on whatever node they ran
            for c in &kids {
                if c.ask(Ping(1))
                    .timeout(Duration::from_millis(500))
                    .await
                    .is_ok()
                {
                    violations.push(format!("burst {burst}: {} outlived its pool", c.id()));
                }
            }
        }
    }
    let stats = m0.stats();
    w.trace.record(format!(
        "supervision done: {} restarts on m0",
        stats.restarts
    ));
    let _ = tokio::time::timeout(Duration::from_secs(10), root.shutdown()).await;
}
