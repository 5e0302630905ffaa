//! The cluster registry, process groups and remote spawn, nodes in one
//! process on real QUIC: names and groups seen on every node and gone with
//! their node, one winner for concurrent registrations (the loser told),
//! kinds started by placement, and clear errors. Every wait is bounded and
//! waits on events, not on time.

use arbour::{
    cluster::{MemberEvent, MembershipConfig, Placement, RegistryEvent, SpawnError},
    Node, NodeError, RegistryError,
};
use arbour_testkit::{Echo, Ping, ECHO_KIND};
use arbour_tests::{bounded, run_local, test_node, LIMIT};
use std::time::Duration;
use tokio::sync::broadcast;

async fn member(name: &str, seed: Option<std::net::SocketAddr>, role: Option<&str>) -> Node {
    let mut b = test_node(name)
        .idle_timeout(Duration::from_secs(60))
        .keep_alive(Duration::from_secs(1))
        .membership(MembershipConfig::default());
    if let Some(addr) = seed {
        b = b.seed_node("alpha", addr);
    }
    if let Some(r) = role {
        b = b.role(r);
    }
    b.start().await.expect("starts")
}

/// alpha (the seed), beta and gamma, every one knowing the two others.
async fn three(roles: [Option<&str>; 3]) -> (Node, Node, Node) {
    let alpha = member("alpha", None, roles[0]).await;
    let seed = alpha.net().local_addr().expect("addr");
    let mut ev = alpha.membership().events().expect("membership");
    let beta = member("beta", Some(seed), roles[1]).await;
    let gamma = member("gamma", Some(seed), roles[2]).await;
    bounded("alpha sees beta and gamma", async {
        while alpha.membership().members().len() < 2 {
            let _ = ev.recv().await;
        }
    })
    .await;
    for n in [&beta, &gamma] {
        let mut ev = n.membership().events().expect("membership");
        bounded("every node knows the two others", async {
            while n.membership().members().len() < 2 {
                let _ = ev.recv().await;
            }
        })
        .await;
    }
    (alpha, beta, gamma)
}

/// Waits until `cond` holds on `node`'s registry, re-checking on each of
/// its registry events.
async fn until(
    what: &str,
    events: &mut broadcast::Receiver<RegistryEvent>,
    cond: impl Fn() -> bool,
) {
    bounded(what, async {
        while !cond() {
            let _ = events.recv().await;
        }
    })
    .await
}

#[test]
fn names_and_groups_are_seen_everywhere_and_go_with_their_node() {
    run_local(|| async {
        let (alpha, beta, gamma) = three([None; 3]).await;
        let mut on_alpha = alpha.global().events().expect("events");
        let mut on_beta = beta.global().events().expect("events");
        // an actor subscribed to alpha's membership and registry changes
        let (member_tx, mut member_rx) = tokio::sync::mpsc::unbounded_channel();
        let (registry_tx, mut registry_rx) = tokio::sync::mpsc::unbounded_channel();
        alpha
            .membership()
            .subscribe(actix::Actor::start(Forward(member_tx)).recipient());
        alpha
            .global()
            .subscribe(actix::Actor::start(Forward(registry_tx)).recipient())
            .expect("subscribe");
        // a name on gamma, found from alpha and used
        let echo = gamma.spawn(Echo::default());
        gamma.global().register("echo", &echo).expect("register");
        let found = bounded(
            "alpha finds gamma's name",
            alpha.global().wait_for::<Echo>("echo", LIMIT),
        )
        .await
        .expect("found");
        assert_eq!(found.id(), echo.id());
        assert_eq!(bounded("ask", found.ask(Ping(41))).await, Ok(42));
        // the name is taken, for everyone
        until("beta sees the name", &mut on_beta, || {
            beta.global().whereis_id("echo").is_some()
        })
        .await;
        let other = beta.spawn(Echo::default());
        match beta.global().register("echo", &other) {
            Err(RegistryError::HeldBy { holder, .. }) => {
                assert_eq!(&holder, echo.id())
            }
            other => panic!("expected HeldBy, got {other:?}"),
        }
        // a group with members on two nodes
        let b1 = beta.spawn(Echo::default());
        let g1 = gamma.spawn(Echo::default());
        let g2 = gamma.spawn(Echo::default());
        beta.global().join("workers", &b1).expect("join");
        gamma.global().join("workers", &g1).expect("join");
        gamma.global().join("workers", &g2).expect("join");
        until("alpha sees three workers", &mut on_alpha, || {
            alpha.global().group_ids("workers").len() == 3
        })
        .await;
        for w in alpha.global().group::<Echo>("workers") {
            assert_eq!(bounded("ask a worker", w.ask(Ping(1))).await, Ok(2));
        }
        // a member that leaves, and one that is gone for good
        assert!(gamma.global().leave("workers", &g2));
        b1.stop();
        until("alpha sees one worker", &mut on_alpha, || {
            alpha.global().group_ids("workers") == vec![g1.id().clone()]
        })
        .await;
        // gamma crashes: once it is declared down, its name and members go
        let mut members = alpha.membership().events().expect("membership");
        gamma.crash().await;
        bounded("gamma is down", async {
            loop {
                if let MemberEvent::Down(m) = members.recv().await.expect("events") {
                    if m.name == "gamma" {
                        return;
                    }
                }
            }
        })
        .await;
        until("gamma's entries are gone on alpha", &mut on_alpha, || {
            alpha.global().whereis_id("echo").is_none()
                && alpha.global().group_ids("workers").is_empty()
        })
        .await;
        until("and on beta", &mut on_beta, || {
            beta.global().whereis_id("echo").is_none()
                && beta.global().group_ids("workers").is_empty()
        })
        .await;
        // the name is free again
        beta.global().register("echo", &other).expect("free now");
        // the subscribed actor saw gamma go, and gamma's name registered
        bounded("the subscriber saw gamma down", async {
            while !matches!(member_rx.recv().await, Some(MemberEvent::Down(m)) if m.name == "gamma")
            {
            }
        })
        .await;
        bounded("the subscriber saw echo registered", async {
            while !matches!(
                registry_rx.recv().await,
                Some(RegistryEvent::Registered { name, .. }) if name == "echo"
            ) {}
        })
        .await;
    });
}

#[test]
fn concurrent_registrations_have_one_winner_on_every_node_and_the_loser_is_told() {
    run_local(|| async {
        let (alpha, beta, gamma) = three([None; 3]).await;
        let nodes = [&alpha, &beta, &gamma];
        let mut events: Vec<_> = nodes
            .iter()
            .map(|n| n.global().events().expect("events"))
            .collect();
        let mut wins = [0u32; 2];
        for round in 0..50 {
            let name = format!("race-{round}");
            let on_beta = beta.spawn(Echo::default());
            let on_gamma = gamma.spawn(Echo::default());
            // both register before either hears of the other
            beta.global()
                .register(&name, &on_beta)
                .expect("beta registers");
            gamma
                .global()
                .register(&name, &on_gamma)
                .expect("gamma registers");
            // one of the two is told it lost
            let (at_beta, at_gamma) = events.split_at_mut(2);
            let (on_b, on_g) = (&mut at_beta[1], &mut at_gamma[0]);
            let (loser_node, loser_id, winner) = bounded("one registration loses", async {
                loop {
                    let (i, e) = tokio::select! {
                        e = on_b.recv() => (1, e),
                        e = on_g.recv() => (2, e),
                    };
                    match e {
                        Ok(RegistryEvent::NameLost {
                            name: n,
                            loser,
                            winner,
                        }) if n == name => return (i, loser, winner),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(e) => panic!("events: {e}"),
                    }
                }
            })
            .await;
            let loser = if loser_node == 1 {
                wins[1] += 1;
                assert_eq!(&winner, on_gamma.id());
                &on_beta
            } else {
                wins[0] += 1;
                assert_eq!(&winner, on_beta.id());
                &on_gamma
            };
            assert_eq!(&loser_id, loser.id());
            // every node resolves the name to the winner
            for (n, ev) in nodes.iter().zip(events.iter_mut()) {
                until("the node resolves to the winner", ev, || {
                    n.global().whereis_id(&name).as_ref() == Some(&winner)
                })
                .await;
            }
            assert!(loser.is_alive(), "the loser is told, not killed");
        }
        eprintln!("winners: beta {} gamma {}", wins[0], wins[1]);
        assert_eq!(wins[0] + wins[1], 50);
    });
}

#[test]
fn kinds_spawn_by_node_role_or_any_and_bad_requests_get_clear_errors() {
    run_local(|| async {
        let (alpha, beta, gamma) = three([None, Some("gpu"), None]).await;
        let mut on_alpha = alpha.global().events().expect("events");
        beta.kind::<Echo>(ECHO_KIND).expect("kind");
        gamma.kind::<Echo>(ECHO_KIND).expect("kind");
        assert!(matches!(
            gamma.kind::<Echo>(ECHO_KIND),
            Err(NodeError::Spawn(SpawnError::Duplicate(_)))
        ));
        until("alpha knows who has the kind", &mut on_alpha, || {
            alpha.global().nodes_with_kind(ECHO_KIND).len() == 2
        })
        .await;
        // by name
        let on_beta = bounded(
            "spawn on beta",
            alpha.spawn_kind::<Echo>(Placement::Node("beta".into()), ECHO_KIND, &()),
        )
        .await
        .expect("spawned");
        assert_eq!(&*on_beta.id().node.name, "beta");
        assert_eq!(bounded("ask", on_beta.ask(Ping(7))).await, Ok(8));
        // by role: only beta has "gpu"
        for _ in 0..4 {
            let r = bounded(
                "spawn by role",
                alpha.spawn_kind::<Echo>(Placement::Role("gpu".into()), ECHO_KIND, &()),
            )
            .await
            .expect("spawned");
            assert_eq!(&*r.id().node.name, "beta");
        }
        // any: round-robin over the two that have it
        let mut on = Vec::new();
        for _ in 0..4 {
            let r = bounded(
                "spawn anywhere",
                alpha.spawn_kind::<Echo>(Placement::Any, ECHO_KIND, &()),
            )
            .await
            .expect("spawned");
            assert_eq!(bounded("ask", r.ask(Ping(1))).await, Ok(2));
            on.push(r.id().node.name.to_string());
        }
        on.sort();
        assert_eq!(on, ["beta", "beta", "gamma", "gamma"]);
        // from a node that has the kind itself, `Any` includes it
        let mut here = 0;
        for _ in 0..4 {
            let r = bounded(
                "spawn",
                beta.spawn_kind::<Echo>(Placement::Any, ECHO_KIND, &()),
            )
            .await
            .expect("spawned");
            here += usize::from(&*r.id().node.name == "beta");
        }
        assert_eq!(here, 2);
        // errors: an unknown kind, a node without it, no node with a role
        match alpha
            .spawn_kind::<Echo>(Placement::Node("beta".into()), "no-such-kind", &())
            .await
        {
            Err(NodeError::Spawn(SpawnError::UnknownKind { node, kind })) => {
                assert_eq!((node.as_str(), kind.as_str()), ("beta", "no-such-kind"))
            }
            other => panic!("expected UnknownKind, got {other:?}"),
        }
        let e = alpha
            .spawn_kind::<Echo>(Placement::Any, "no-such-kind", &())
            .await
            .expect_err("nobody has it");
        assert_eq!(
            e.to_string(),
            "no live node for any node has actor kind \"no-such-kind\""
        );
        assert!(matches!(
            alpha
                .spawn_kind::<Echo>(Placement::Role("tpu".into()), ECHO_KIND, &())
                .await,
            Err(NodeError::Spawn(SpawnError::NoNode { .. }))
        ));
        // arguments of another shape than the kind's
        match alpha
            .spawn_kind::<Picky>(Placement::Node("beta".into()), ECHO_KIND, &Picky::args())
            .await
        {
            Err(NodeError::Spawn(SpawnError::BadArgs { node, reason, .. })) => {
                assert_eq!(node, "beta");
                eprintln!("bad args: {reason}");
            }
            other => panic!("expected BadArgs, got {other:?}"),
        }
        // a kind whose constructor panics: a failed start, the node lives on
        beta.kind::<Picky>("picky").expect("kind");
        match alpha
            .spawn_kind::<Picky>(Placement::Node("beta".into()), "picky", &Picky::args())
            .await
        {
            Err(NodeError::Spawn(SpawnError::Failed { reason, .. })) => {
                assert!(reason.contains("refuses"), "{reason}")
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        assert_eq!(
            bounded("beta still serves", on_beta.ask(Ping(5))).await,
            Ok(6)
        );
    });
}

/// A kind with arguments of another shape than `Echo`'s, whose constructor
/// refuses them.
struct Picky;
impl actix::Actor for Picky {
    type Context = actix::Context<Self>;
}
arbour::remote_actor!(Picky {});
impl arbour::cluster::Kind for Picky {
    type Args = (String, Vec<u64>);
    fn from_args(_: Self::Args) -> Self {
        panic!("Picky refuses to start")
    }
}
impl Picky {
    fn args() -> (String, Vec<u64>) {
        ("x".into(), vec![1, 2, 3])
    }
}

/// Forwards every message it gets to a channel.
struct Forward<M>(tokio::sync::mpsc::UnboundedSender<M>);
impl<M: 'static + Unpin> actix::Actor for Forward<M> {
    type Context = actix::Context<Self>;
}
impl<M: actix::Message<Result = ()> + 'static + Unpin> actix::Handler<M> for Forward<M> {
    type Result = ();
    fn handle(&mut self, m: M, _: &mut actix::Context<Self>) {
        let _ = self.0.send(m);
    }
}
