//! Cluster membership under the simulator: whole nodes with SWIM on the
//! in-memory network, in virtual time. Members converge, a crashed one is
//! declared down by the others and its registry entries vanish, and the
//! same seed gives the same trace.

use arbour_sim::{run_paused, SimCluster};
use std::time::Duration;

/// Whole simulated runs: 2 times the virtual bound of one wait.
const LIMIT: Duration = arbour_tests::VIRTUAL_LIMIT.saturating_mul(2);

/// Four members join through one seed; one crashes. What each survivor
/// saw, in virtual time since the start: `(ms, node, event)`.
fn membership_run(seed: u64) -> Vec<(u128, String, String)> {
    run_paused(|| async move {
        let start = tokio::time::Instant::now();
        let mut cluster = SimCluster::new(seed, Duration::from_millis(2));
        let (alpha, alpha_addr) = cluster.start_member("alpha", None).await.expect("alpha");
        let mut nodes = vec![("alpha".to_string(), alpha)];
        for name in ["beta", "gamma", "delta"] {
            let (node, _) = cluster
                .start_member(name, Some(("alpha", alpha_addr)))
                .await
                .expect("member");
            nodes.push((name.to_string(), node));
        }
        // each node's events, stamped with the virtual time they arrive
        let trace = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        for (name, n) in &nodes {
            let mut rx = n.membership().events().expect("membership");
            let (name, trace) = (name.clone(), trace.clone());
            tokio::task::spawn_local(async move {
                while let Ok(e) = rx.recv().await {
                    let what = format!("{} {}", e.name(), e.member().name);
                    trace
                        .borrow_mut()
                        .push((start.elapsed().as_millis(), name.clone(), what));
                }
            });
        }
        arbour_tests::bounded_for(LIMIT, "members converge", async {
            while nodes
                .iter()
                .any(|(_, n)| n.membership().members().len() < 3)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        // the registry in virtual time too: a name on delta, a group member
        // on beta, seen by alpha; both traced
        for (name, n) in &nodes {
            let mut rx = n.global().events().expect("registry");
            let (name, trace) = (name.clone(), trace.clone());
            tokio::task::spawn_local(async move {
                while let Ok(e) = rx.recv().await {
                    let what = match e {
                        arbour::cluster::RegistryEvent::Registered { name, .. } => {
                            format!("registered {name}")
                        }
                        arbour::cluster::RegistryEvent::Unregistered { name, .. } => {
                            format!("unregistered {name}")
                        }
                        arbour::cluster::RegistryEvent::Joined { group, actor } => {
                            format!("joined {group} {}", actor.node.name)
                        }
                        arbour::cluster::RegistryEvent::Left { group, actor } => {
                            format!("left {group} {}", actor.node.name)
                        }
                        other => format!("{other:?}"),
                    };
                    trace
                        .borrow_mut()
                        .push((start.elapsed().as_millis(), name.clone(), what));
                }
            });
        }
        let (_, delta) = nodes.pop().expect("delta");
        let echo = delta.spawn(arbour_testkit::Echo::default());
        delta.global().register("svc", &echo).expect("register");
        delta.global().join("g", &echo).expect("join");
        let alpha = nodes[0].1.clone();
        arbour_tests::bounded_for(LIMIT, "alpha sees delta's entries", async {
            while alpha.global().whereis_id("svc").is_none()
                || alpha.global().group_ids("g").is_empty()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        delta.crash().await;
        arbour_tests::bounded_for(LIMIT, "delta declared down", async {
            while nodes
                .iter()
                .any(|(_, n)| n.membership().members().iter().any(|m| m.name == "delta"))
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        arbour_tests::bounded_for(LIMIT, "delta's entries are gone", async {
            while alpha.global().whereis_id("svc").is_some()
                || !alpha.global().group_ids("g").is_empty()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let trace = trace.borrow().clone();
        trace
    })
}

#[test]
fn members_converge_and_a_crashed_one_is_declared_down_in_virtual_time() {
    let trace = membership_run(5);
    for node in ["alpha", "beta", "gamma"] {
        assert!(
            trace.iter().any(|(_, n, e)| n == node && e == "down delta"),
            "{node} saw delta down: {trace:?}"
        );
        for what in [
            "registered svc",
            "unregistered svc",
            "joined g delta",
            "left g delta",
        ] {
            assert!(
                trace.iter().any(|(_, n, e)| n == node && e == what),
                "{node} saw {what:?}: {trace:?}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_membership_trace() {
    assert_eq!(membership_run(9), membership_run(9));
}

/// Five members over a WAN: 100 ± 20 ms one way (200 ms round trips) and
/// 3% of datagrams lost, for five virtual minutes, asking each other once a
/// second. Probe timeouts follow the round trips QUIC measures (with the
/// LAN's fixed 100 ms, every direct probe failed: about 6.5 suspicions a
/// second per node), so no member is declared down, suspicions stay under
/// one per node-minute, and every ask is answered.
#[test]
fn a_wan_of_200ms_round_trips_and_3pc_loss_raises_almost_no_suspicion() {
    let minutes = 5;
    let run = arbour_sim::wan::wan(11, minutes);
    let node_minutes = arbour_sim::wan::WAN_MEMBERS as u64 * minutes;
    let per_node_min = run.suspicions as f64 / node_minutes as f64;
    eprintln!("WAN: {run:?} ({per_node_min:.2} suspicions per node-minute)");
    assert_eq!(run.downs, 0, "a member was declared down over the WAN");
    assert!(
        per_node_min < 1.0,
        "{} suspicions in {minutes} min over 5 nodes: {per_node_min:.2} per node-minute",
        run.suspicions
    );
    assert_eq!(run.asks_failed, 0, "asks failed over the WAN: {run:?}");
}
