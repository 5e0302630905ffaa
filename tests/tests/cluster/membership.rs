//! Cluster membership (SWIM over the nodes' own QUIC connections), nodes in
//! one process on real sockets: joining through one seed, and a crashed
//! node declared down by every survivor. Every wait is bounded.

use arbour::{
    cluster::{MemberEvent, MembershipConfig},
    Node,
};
use arbour_tests::{bounded, eventually, run_local, test_node};
use std::future::IntoFuture;
use std::time::{Duration, Instant};

/// A member whose connections would take a minute to notice a silent peer
/// on their own: within the tests' 30 s bounds, only membership can declare
/// a node down.
pub(crate) async fn member(name: &str, seed: Option<std::net::SocketAddr>) -> Node {
    let b = test_node(name)
        .idle_timeout(Duration::from_secs(60))
        .keep_alive(Duration::from_secs(1))
        .membership(MembershipConfig::default());
    let b = match seed {
        Some(addr) => b.seed_node("alpha", addr),
        None => b,
    };
    b.start().await.expect("starts")
}

/// Members named `names`, started in that order (so the first is the
/// oldest), each joining through the first.
pub(crate) async fn members(names: [&str; 4]) -> [Node; 4] {
    let first = member(names[0], None).await;
    let seed = first.net().local_addr().expect("addr");
    let (b, c, d) = (
        member(names[1], Some(seed)).await,
        member(names[2], Some(seed)).await,
        member(names[3], Some(seed)).await,
    );
    [first, b, c, d]
}

/// Waits (bounded) until each of `nodes` knows every other one.
pub(crate) async fn until_all_know(nodes: &[&Node]) {
    for n in nodes {
        let mut ev = n.membership().events().expect("membership");
        bounded("every node knows the others", async {
            while n.membership().members().len() < nodes.len() - 1 {
                let _ = ev.recv().await;
            }
        })
        .await;
    }
}

fn names(node: &Node) -> Vec<String> {
    node.membership()
        .members()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[test]
fn nodes_join_through_one_seed_a_crashed_one_is_down_everywhere_and_a_leaving_one_left() {
    run_local(|| async {
        let [alpha, beta, gamma, delta] = members(["alpha", "beta", "gamma", "delta"]).await;
        let seed = alpha.net().local_addr().expect("addr");
        let all = [&alpha, &beta, &gamma, &delta];
        let knows_all = || all.iter().all(|n| n.membership().members().len() == 3);
        let every = Duration::from_millis(20);
        eventually("every node knows the three others", every, knows_all).await;
        // beta learned of gamma and delta without being given them
        assert_eq!(names(&beta), ["alpha", "delta", "gamma"]);
        let mut events: Vec<_> = [&alpha, &beta, &gamma]
            .iter()
            .map(|n| n.membership().events().expect("membership"))
            .collect();
        // alpha watches an actor on delta and has an ask pending there
        let echo = delta.spawn(arbour_testkit::Echo::default());
        delta.expose("echo", &echo).expect("expose");
        let remote = bounded(
            "lookup",
            alpha.lookup::<arbour_testkit::Echo>("delta", "echo", arbour_tests::LIMIT),
        )
        .await
        .expect("lookup");
        let (watcher, mut downs) = arbour_tests::DownForwarder::start_new();
        let _monitor = remote.monitor(watcher.recipient());
        let pending = tokio::task::spawn_local(
            remote
                .ask(arbour_testkit::Delay(60_000))
                .timeout(Duration::from_secs(60))
                .into_future(),
        );
        let crashed = Instant::now();
        delta.crash().await;
        for (i, rx) in events.iter_mut().enumerate() {
            // (the time is printed, not asserted: speed is the bench's job)
            let down = bounded("a Down event", async {
                loop {
                    match rx.recv().await.expect("events") {
                        MemberEvent::Down(m) if m.name == "delta" => return crashed.elapsed(),
                        _ => {}
                    }
                }
            })
            .await;
            eprintln!("node {i} saw delta down after {down:?}");
            assert!(
                down < Duration::from_secs(5),
                "node {i} noticed after {down:?}"
            );
        }
        for n in [&alpha, &beta, &gamma] {
            assert!(!names(n).contains(&"delta".to_string()));
            assert_eq!(n.net().stats().membership_malformed, 0);
        }
        // declared down: the monitor fired and the ask failed, both with
        // NodeDown (the connection itself would have waited a minute)
        let down = bounded("the monitor", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, arbour::ExitReason::NodeDown);
        let failed = bounded("the ask", pending).await.expect("task");
        assert!(
            matches!(failed, Err(arbour::AskError::NodeDown(_))),
            "{failed:?}"
        );
        // delta restarts: a new life, seen by everyone, with a larger
        // incarnation; a ref to an actor of its old life is dead
        let old_incarnation = delta.node_id().incarnation;
        let delta = test_node("delta")
            .incarnation(old_incarnation + 1)
            .membership(MembershipConfig::default())
            .seed_node("alpha", seed)
            .start()
            .await
            .expect("delta again");
        bounded("delta back everywhere", async {
            while [&alpha, &beta, &gamma].iter().any(|n| {
                !n.membership()
                    .members()
                    .iter()
                    .any(|m| m.name == "delta" && m.incarnation > old_incarnation)
            }) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        drop(delta);
        // gamma leaves gracefully: left, not down
        let mut events: Vec<_> = [&alpha, &beta]
            .iter()
            .map(|n| n.membership().events().expect("membership"))
            .collect();
        gamma.shutdown().await;
        for rx in &mut events {
            let seen = bounded("a Left event", async {
                loop {
                    match rx.recv().await.expect("events") {
                        MemberEvent::Left(m) if m.name == "gamma" => return "left",
                        MemberEvent::Down(m) if m.name == "gamma" => return "down",
                        _ => {}
                    }
                }
            })
            .await;
            assert_eq!(seen, "left");
        }
        bounded("gamma gone from the members", async {
            while [&alpha, &beta]
                .iter()
                .any(|n| names(n).contains(&"gamma".to_string()))
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        // and no Down for it follows
        for rx in &mut events {
            while let Ok(e) = rx.try_recv() {
                assert!(
                    !matches!(&e, MemberEvent::Down(m) if m.name == "gamma"),
                    "{e:?}"
                );
            }
        }
    });
}

/// A seed that is down does not stop a node from joining through another.
#[test]
fn a_seed_that_is_down_does_not_stop_the_others() {
    run_local(|| async {
        let alpha = member("alpha", None).await;
        // a port nobody listens on: bind one, note it, let it go
        let dead = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port");
        let beta = test_node("beta")
            .membership(MembershipConfig::default())
            .seed_node("ghost", dead)
            .seed_node("alpha", alpha.net().local_addr().expect("addr"))
            .start()
            .await
            .expect("beta starts");
        let mut events = beta.membership().events().expect("membership");
        bounded("beta joins through alpha", async {
            loop {
                if let MemberEvent::Up(m) = events.recv().await.expect("events") {
                    if m.name == "alpha" {
                        return;
                    }
                }
            }
        })
        .await;
        assert_eq!(names(&beta), ["alpha"]);
    });
}

/// A member that went down is remembered for `remove_down_after`, then
/// forgotten (and said so).
#[test]
fn a_down_member_is_forgotten_after_the_configured_time() {
    run_local(|| async {
        let config = MembershipConfig {
            remove_down_after: Duration::from_secs(1),
            ..MembershipConfig::default()
        };
        let start = |name: &str, seed: Option<std::net::SocketAddr>| {
            let b = test_node(name)
                .idle_timeout(Duration::from_secs(60))
                .membership(config.clone());
            let b = match seed {
                Some(addr) => b.seed_node("alpha", addr),
                None => b,
            };
            async move { b.start().await.expect("starts") }
        };
        let alpha = start("alpha", None).await;
        let mut events = alpha.membership().events().expect("membership");
        let beta = start("beta", Some(alpha.net().local_addr().expect("addr"))).await;
        next(
            &mut events,
            "beta up",
            |e| matches!(e, MemberEvent::Up(m) if m.name == "beta"),
        )
        .await;
        beta.crash().await;
        next(
            &mut events,
            "beta down",
            |e| matches!(e, MemberEvent::Down(m) if m.name == "beta"),
        )
        .await;
        let down = Instant::now();
        assert_eq!(
            alpha
                .membership()
                .down()
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>(),
            ["beta"]
        );
        next(
            &mut events,
            "beta forgotten",
            |e| matches!(e, MemberEvent::Forgotten(m) if m.name == "beta"),
        )
        .await;
        eprintln!("forgotten {:?} after down", down.elapsed());
        assert!(alpha.membership().down().is_empty());
    });
}

/// The next event `want` accepts (bounded).
async fn next(
    events: &mut tokio::sync::broadcast::Receiver<MemberEvent>,
    what: &str,
    want: fn(&MemberEvent) -> bool,
) -> MemberEvent {
    bounded(what, async {
        loop {
            let e = events.recv().await.expect("events");
            if want(&e) {
                return e;
            }
        }
    })
    .await
}
