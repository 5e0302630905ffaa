//! A node owns its runtime: the blocking entry point with several workers,
//! actors placed on each, and a graceful shutdown that peers see at once.
//! Real QUIC on 127.0.0.1, port 0; every wait is bounded.

use arbour::{AskError, ChildSpec, ExitReason, Node, SupervisorSpec, WorkerPlacement};
use arbour_testkit::{dial_echo, Delay, Echo, Ping, WhereAreYou, ECHO};
use arbour_tests::{bounded, run_local, test_node, DownForwarder, LIMIT};
use std::future::IntoFuture;
use std::time::Duration;

async fn node(name: &str) -> Node {
    test_node(name).start().await.expect("node starts")
}

/// A program's whole `main`: `run` with two workers. Actors go to each
/// worker, asks cross workers, and messages from another node reach the
/// actors on both.
#[test]
fn a_node_run_through_the_entry_point_uses_all_its_workers() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let alpha = std::thread::spawn(move || {
        test_node("alpha")
            .listen("127.0.0.1:0".parse().expect("addr"))
            .workers(2)
            .run(|node| async move {
                assert_eq!(node.worker_count(), 2);
                assert_eq!(
                    node.current_worker(),
                    Some(0),
                    "main runs on the first worker"
                );
                let mut threads = Vec::new();
                for w in 0..2 {
                    let echo = node
                        .spawn_on_worker(WorkerPlacement::Worker(w), Echo::default)
                        .await
                        .expect("spawn");
                    node.expose(&format!("echo{w}"), &echo).expect("expose");
                    // an ask from worker 0 to an actor on worker w
                    threads.push(echo.ask(WhereAreYou).await.expect("ask"));
                }
                // round-robin placement spreads a supervisor's tree too
                let sup = node
                    .start_supervisor(
                        WorkerPlacement::Worker(1),
                        SupervisorSpec::one_for_one().child(ChildSpec::worker("e", Echo::default)),
                    )
                    .await
                    .expect("supervisor");
                let child = sup.child::<Echo>("e").expect("child");
                threads.push(child.ask(WhereAreYou).await.expect("ask"));
                addr_tx
                    .send(node.net().local_addr().expect("addr"))
                    .expect("send addr");
                let _ = done_rx.await;
                threads
            })
    });
    let addr = addr_rx.recv_timeout(LIMIT).expect("alpha started");
    run_local(|| async move {
        let beta = node("beta").await;
        bounded("connect", beta.net().connect("alpha", addr))
            .await
            .expect("connect");
        for w in 0..2 {
            let echo = bounded(
                "lookup",
                beta.lookup::<Echo>("alpha", &format!("echo{w}"), LIMIT),
            )
            .await
            .expect("lookup");
            let thread = bounded("ask", echo.ask(WhereAreYou)).await.expect("ask");
            assert_eq!(
                thread,
                format!("alpha-w{w}"),
                "a remote message reaches worker {w}"
            );
            assert_eq!(bounded("ping", echo.ask(Ping(w))).await, Ok(w + 1));
        }
        beta.shutdown().await;
    });
    done_tx.send(()).expect("alpha still runs");
    let threads = alpha.join().expect("alpha's thread").expect("run");
    assert_eq!(
        threads,
        Some(vec![
            "alpha-w0".into(),
            "alpha-w1".into(),
            "alpha-w1".into()
        ])
    );
}

/// `shutdown` stops the supervision trees, then says goodbye: the peer's
/// monitors fire with `Shutdown` and its pending asks fail with
/// `NodeShutdown` at once, long before any idle timeout could notice.
#[test]
fn a_graceful_shutdown_is_seen_by_peers_at_once() {
    run_local(|| async {
        let alpha = test_node("alpha")
            .idle_timeout(Duration::from_secs(120))
            .start()
            .await
            .expect("alpha");
        let sup = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("supervised", Echo::default))
            .start(&alpha)
            .await
            .expect("supervisor");
        alpha
            .expose(
                "supervised",
                &sup.child::<Echo>("supervised").expect("child"),
            )
            .expect("expose");
        let plain = alpha.spawn(Echo::default());
        alpha.expose(ECHO, &plain).expect("expose");

        let beta = test_node("beta")
            .idle_timeout(Duration::from_secs(120))
            .start()
            .await
            .expect("beta");
        let addr = alpha.net().local_addr().expect("addr");
        let plain = bounded("dial", dial_echo(&beta, "alpha", addr, LIMIT))
            .await
            .expect("dial");
        let supervised = bounded("lookup", beta.lookup::<Echo>("alpha", "supervised", LIMIT))
            .await
            .expect("lookup");
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m1 = plain.monitor(watcher.clone().recipient());
        let _m2 = supervised.monitor(watcher.recipient());
        assert_eq!(bounded("ping", plain.ask(Ping(0))).await, Ok(1));
        assert_eq!(bounded("ping", supervised.ask(Ping(0))).await, Ok(1));
        // sent now (into_future), answered never: alpha goes away first
        let pending = plain
            .ask(Delay(60_000))
            .timeout(Duration::from_secs(60))
            .into_future();

        bounded("alpha shuts down", alpha.shutdown()).await;
        let r = bounded("pending ask", pending).await;
        assert!(
            matches!(r, Err(AskError::NodeShutdown(ref n)) if n.name.as_ref() == "alpha"),
            "{r:?}"
        );
        let mut downs_seen = Vec::new();
        for _ in 0..2 {
            let down = bounded("down", downs.recv()).await.expect("Down");
            downs_seen.push((down.id.local, down.reason));
        }
        downs_seen.sort_by_key(|(local, _)| *local);
        let mut expected = vec![
            (plain.id().local, ExitReason::Shutdown),
            (supervised.id().local, ExitReason::Shutdown),
        ];
        expected.sort_by_key(|(local, _)| *local);
        assert_eq!(downs_seen, expected);
        assert!(beta.net().peers().is_empty());
        // after the shutdown the node answers with a precise error
        assert!(matches!(
            alpha.net().local_addr(),
            Err(arbour::NodeError::ShutDown)
        ));
        assert!(alpha.is_shut_down());
        assert!(matches!(
            bounded("ask", plain.ask(Ping(1))).await,
            Err(AskError::NodeDown(_))
        ));
    });
}

/// A crash ends the node at once: no goodbye, so the peer notices only
/// when the connection's idle timeout runs out (set short here).
#[test]
fn a_crashed_node_is_noticed_through_the_idle_timeout() {
    run_local(|| async {
        let short = Duration::from_millis(400);
        let alpha = test_node("alpha")
            .idle_timeout(short)
            .keep_alive(short / 4)
            .start()
            .await
            .expect("alpha");
        let echo = alpha.spawn(Echo::default());
        alpha.expose(ECHO, &echo).expect("expose");
        let beta = test_node("beta")
            .idle_timeout(short)
            .keep_alive(short / 4)
            .start()
            .await
            .expect("beta");
        let addr = alpha.net().local_addr().expect("addr");
        let remote = bounded("dial", dial_echo(&beta, "alpha", addr, LIMIT))
            .await
            .expect("dial");
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = remote.monitor(watcher.recipient());
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        let local_exit = echo.exited();
        bounded("crash", alpha.crash()).await;
        // the actor was dropped without its stopping hooks
        assert_eq!(bounded("local exit", local_exit).await, ExitReason::Killed);
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
    });
}

/// A panic in the entry point's `main` is not swallowed: the node shuts
/// down (`run` joins its worker threads first) and the panic resumes on
/// the caller.
#[test]
fn a_panic_in_main_reaches_the_caller_after_the_node_shut_down() {
    let caught = std::panic::catch_unwind(|| {
        Node::builder("alpha").workers(2).run(|_node| async move {
            panic!("main failed on purpose");
        })
    });
    let payload = caught.expect_err("the panic reaches the caller");
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert_eq!(msg, "main failed on purpose");
}

/// A node run through the entry point shuts down from the thread that
/// called `run` (not one of its workers) while a member it lists alive
/// has no connection: the goodbye it dials that member for runs on the
/// node's worker, and the shutdown completes (it used to panic with
/// "spawn_local called from outside of a task::LocalSet", exit code 101).
#[test]
fn a_shutdown_with_a_member_listed_alive_but_unconnected_completes() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (cut_tx, cut_rx) = tokio::sync::oneshot::channel::<()>();
    let (beta_tx, beta_rx) = std::sync::mpsc::channel::<std::net::SocketAddr>();
    let alpha = std::thread::spawn(move || {
        let beta_addr = beta_rx.recv_timeout(LIMIT).expect("beta's address");
        test_node("alpha")
            .listen("127.0.0.1:0".parse().expect("addr"))
            .workers(2)
            .seed_node("beta", beta_addr)
            .run(move |node| async move {
                let m = node.membership();
                arbour_tests::eventually("beta a member", Duration::from_millis(10), || {
                    m.members().iter().any(|x| x.name == "beta")
                })
                .await;
                addr_tx.send(()).expect("tell the test");
                let _ = cut_rx.await;
                // beta's connection is gone; membership still lists it
                let net = node.net();
                arbour_tests::eventually("beta unconnected", Duration::from_millis(5), || {
                    net.peers().is_empty()
                })
                .await;
                assert!(
                    m.members().iter().any(|x| x.name == "beta"),
                    "beta still listed alive when main ends"
                );
            })
    });
    run_local(|| async {
        let beta = test_node("beta")
            .listen("127.0.0.1:0".parse().expect("addr"))
            .membership(Default::default())
            .start()
            .await
            .expect("beta starts");
        beta_tx
            .send(beta.net().local_addr().expect("addr"))
            .expect("send");
        bounded(
            "alpha joined",
            tokio::task::spawn_blocking(move || addr_rx.recv_timeout(LIMIT)),
        )
        .await
        .expect("join")
        .expect("alpha saw beta");
        beta.shutdown_network();
        let _ = cut_tx.send(());
        let joined = bounded(
            "alpha's run returns",
            tokio::task::spawn_blocking(move || alpha.join()),
        )
        .await
        .expect("join");
        let ran = joined.expect("alpha's thread did not panic");
        assert!(matches!(ran, Ok(Some(()))), "{ran:?}");
        beta.shutdown().await;
    });
}
