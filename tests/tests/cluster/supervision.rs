//! Supervisors whose children run on other nodes, nodes in one process on
//! real QUIC: children spread by placement, restarted on a live node when
//! theirs crashes or leaves, stopped with their supervisor. Every wait is
//! bounded.

use super::membership::{member, until_all_know};
use arbour::{
    cluster::{MemberEvent, Placement},
    ActorRef, ChildSpec, ExitReason, Node, SupervisorRef, SupervisorSpec,
};
use arbour_testkit::{Echo, Ping, ECHO_KIND};
use arbour_tests::{bounded, run_local};
use std::time::Duration;

/// alpha (the seed, without the kind), beta and gamma (with it), every one
/// knowing the others and who has the kind.
async fn cluster() -> (Node, Node, Node) {
    let alpha = member("alpha", None).await;
    let seed = alpha.net().local_addr().expect("addr");
    let beta = member("beta", Some(seed)).await;
    let gamma = member("gamma", Some(seed)).await;
    let mut kinds = alpha.global().events().expect("events");
    beta.kind::<Echo>(ECHO_KIND).expect("kind");
    gamma.kind::<Echo>(ECHO_KIND).expect("kind");
    until_all_know(&[&alpha, &beta, &gamma]).await;
    bounded("alpha knows who has the kind", async {
        while alpha.global().nodes_with_kind(ECHO_KIND).len() < 2 {
            let _ = kinds.recv().await;
        }
    })
    .await;
    (alpha, beta, gamma)
}

fn children(n: usize) -> SupervisorSpec {
    (0..n).fold(
        SupervisorSpec::one_for_one()
            .intensity(20)
            .period(Duration::from_secs(10)),
        |spec, i| {
            spec.child(ChildSpec::remote_in_group::<Echo>(
                "pool",
                format!("w{i}"),
                Placement::Any,
                ECHO_KIND,
                (),
            ))
        },
    )
}

fn refs(sup: &SupervisorRef, n: usize) -> Vec<ActorRef<Echo>> {
    (0..n)
        .map(|i| sup.child::<Echo>(&format!("w{i}")).expect("child"))
        .collect()
}

fn nodes_of(refs: &[ActorRef<Echo>]) -> Vec<String> {
    let mut v: Vec<String> = refs.iter().map(|r| r.id().node.name.to_string()).collect();
    v.sort();
    v
}

/// Waits until every child of `sup` runs on `node` and answers; each check
/// is a round trip to each child, so this paces itself.
async fn all_on(sup: &SupervisorRef, n: usize, node: &str) {
    bounded("every child runs on the survivor and answers", async {
        loop {
            let now = refs(sup, n);
            if now.iter().all(|r| &*r.id().node.name == node) {
                let mut ok = true;
                for r in &now {
                    ok &= r.ask(Ping(1)).await == Ok(2);
                }
                if ok {
                    return;
                }
            }
            // the supervisor's answer paces the loop: restarts go through it
            let _ = sup.count_children().await;
        }
    })
    .await
}

#[test]
fn remote_children_spread_and_move_to_a_live_node_when_theirs_crashes() {
    run_local(|| async {
        let (alpha, beta, gamma) = cluster().await;
        let sup = bounded("the supervisor starts", children(4).start(&alpha))
            .await
            .expect("starts");
        let before = refs(&sup, 4);
        assert_eq!(nodes_of(&before), ["beta", "beta", "gamma", "gamma"]);
        // each instance is in the group "pool", on its node
        let mut pool = alpha.global().events().expect("events");
        let in_pool = |want: &[ActorRef<Echo>]| {
            let mut ids: Vec<_> = want.iter().map(|r| r.id().clone()).collect();
            ids.sort();
            alpha.global().group_ids("pool") == ids
        };
        bounded("alpha sees the four instances in the pool", async {
            while !in_pool(&before) {
                let _ = pool.recv().await;
            }
        })
        .await;
        for r in &before {
            assert_eq!(bounded("ask", r.ask(Ping(1))).await, Ok(2));
        }
        let mut members = beta.membership().events().expect("membership");
        gamma.crash().await;
        // gamma's children exit with NodeDown once gamma is declared down
        for r in before.iter().filter(|r| &*r.id().node.name == "gamma") {
            assert_eq!(
                bounded("gamma's child exits", r.exited()).await,
                ExitReason::NodeDown
            );
        }
        all_on(&sup, 4, "beta").await;
        bounded("beta saw gamma down", async {
            loop {
                if let MemberEvent::Down(m) = members.recv().await.expect("events") {
                    if m.name == "gamma" {
                        return;
                    }
                }
            }
        })
        .await;
        // beta's children were not touched
        let after = refs(&sup, 4);
        for (b, a) in before.iter().zip(&after) {
            if &*b.id().node.name == "beta" {
                assert_eq!(b.id(), a.id(), "a child on a live node is not restarted");
            }
        }
        let counts = bounded("counts", sup.count_children())
            .await
            .expect("counts");
        assert_eq!(counts.active, 4);
        // shutting the supervisor down stops its remote children
        let exits: Vec<_> = after.iter().map(|r| r.exited()).collect();
        assert_eq!(
            bounded("shutdown", sup.shutdown()).await,
            ExitReason::Shutdown
        );
        for e in exits {
            assert_eq!(
                bounded("a remote child stops", e).await,
                ExitReason::Shutdown
            );
        }
    });
}

#[test]
fn a_leaving_node_is_left_everywhere_and_its_children_move() {
    run_local(|| async {
        let (alpha, beta, gamma) = cluster().await;
        let sup = bounded("the supervisor starts", children(2).start(&alpha))
            .await
            .expect("starts");
        assert_eq!(nodes_of(&refs(&sup, 2)), ["beta", "gamma"]);
        let mut on_alpha = alpha.membership().events().expect("membership");
        let mut on_beta = beta.membership().events().expect("membership");
        bounded("gamma leaves", gamma.shutdown()).await;
        for ev in [&mut on_alpha, &mut on_beta] {
            bounded("gamma is seen as left, not down", async {
                loop {
                    match ev.recv().await.expect("events") {
                        MemberEvent::Left(m) if m.name == "gamma" => return,
                        MemberEvent::Down(m) if m.name == "gamma" => {
                            panic!("a node that left is reported down")
                        }
                        _ => {}
                    }
                }
            })
            .await;
        }
        all_on(&sup, 2, "beta").await;
    });
}
