//! Two whole nodes on one thread under paused tokio time, on the in-memory
//! network: handshake, remote tell, ask and monitor, and a dropped link that
//! ends in `NodeDown`, all in virtual time.

use arbour::{AskError, ExitReason};
use arbour_sim::{run_paused, SimCluster};
use arbour_testkit::{Crash, Echo, Ping, Report, Tally};
use arbour_tests::DownForwarder;
use std::time::Duration;

/// Whole simulated runs: 2 times the virtual bound of one wait.
const LIMIT: Duration = arbour_tests::VIRTUAL_LIMIT.saturating_mul(2);

async fn bounded<T>(what: &str, f: impl std::future::IntoFuture<Output = T>) -> T {
    arbour_tests::bounded_for(LIMIT, what, f).await
}

#[test]
fn tell_ask_monitor_and_a_dropped_link_in_virtual_time() {
    run_paused(|| async {
        let mut cluster = SimCluster::new(7, Duration::from_millis(5));
        let (alpha, alpha_addr) = cluster.start("alpha").await.expect("alpha");
        let (beta, beta_addr) = cluster.start("beta").await.expect("beta");
        let echo = alpha.spawn(Echo::default());
        alpha.expose("echo", &echo).expect("expose");

        let t0 = tokio::time::Instant::now();
        bounded("connect", beta.net().connect("alpha", alpha_addr))
            .await
            .expect("handshake");
        assert!(
            t0.elapsed() >= Duration::from_millis(20),
            "two round trips of 10 ms"
        );
        let remote = bounded("lookup", beta.lookup::<Echo>("alpha", "echo", LIMIT))
            .await
            .expect("lookup");

        let t1 = tokio::time::Instant::now();
        assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2));
        assert!(t1.elapsed() >= Duration::from_millis(10), "one round trip");
        for seq in 1..=100 {
            remote.tell(Tally { sender: 1, seq });
        }
        let report = bounded("report", remote.ask(Report)).await.expect("report");
        assert_eq!((report.received, report.out_of_order), (100, 0));

        // a monitor across the simulated network sees a panic
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = remote.monitor(watcher.clone().recipient());
        assert_eq!(bounded("ping", remote.ask(Ping(0))).await, Ok(1));
        remote.tell(Crash("sim boom".into()));
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert!(matches!(&down.reason, ExitReason::Panic(m) if m.contains("sim boom")));

        // a second actor, then the link drops: pending asks and monitors end
        // in NodeDown once the idle timeout notices, in virtual time
        let other = alpha.spawn(Echo::default());
        alpha.expose("other", &other).expect("expose");
        let other = bounded("lookup", beta.lookup::<Echo>("alpha", "other", LIMIT))
            .await
            .expect("lookup");
        let _m2 = other.monitor(watcher.recipient());
        assert_eq!(bounded("ping", other.ask(Ping(0))).await, Ok(1));
        cluster.net.cut(alpha_addr, beta_addr);
        let t2 = tokio::time::Instant::now();
        let r = bounded("ask over a cut link", other.ask(Ping(5)).timeout(LIMIT)).await;
        assert!(matches!(r, Err(AskError::NodeDown(_))), "{r:?}");
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
        assert!(t2.elapsed() >= Duration::from_secs(1), "{:?}", t2.elapsed());
        assert!(beta.net().peers().is_empty());
    });
}

/// Three nodes on one thread; one crashes. Its workers (and every task of
/// it) end at once; the others go on talking, and notice the crash through
/// the idle timeout, in virtual time.
#[test]
fn one_node_of_three_crashes_alone() {
    run_paused(|| async {
        let mut cluster = SimCluster::new(11, Duration::from_millis(2));
        let (alpha, alpha_addr) = cluster.start("alpha").await.expect("alpha");
        let (beta, beta_addr) = cluster.start("beta").await.expect("beta");
        let (gamma, _) = cluster.start("gamma").await.expect("gamma");
        let on_alpha = alpha.spawn(Echo::default());
        alpha.expose("echo", &on_alpha).expect("expose");
        let on_beta = beta.spawn(Echo::default());
        beta.expose("echo", &on_beta).expect("expose");
        bounded("connect", gamma.net().connect("alpha", alpha_addr))
            .await
            .expect("to alpha");
        bounded("connect", gamma.net().connect("beta", beta_addr))
            .await
            .expect("to beta");
        let to_alpha = bounded("lookup", gamma.lookup::<Echo>("alpha", "echo", LIMIT))
            .await
            .expect("lookup");
        let to_beta = bounded("lookup", gamma.lookup::<Echo>("beta", "echo", LIMIT))
            .await
            .expect("lookup");
        let (watcher, mut downs) = DownForwarder::start_new();
        let _m = to_beta.monitor(watcher.recipient());
        assert_eq!(bounded("ask beta", to_beta.ask(Ping(1))).await, Ok(2));

        let beta_echo_exit = on_beta.exited();
        bounded("crash", beta.crash()).await;
        assert_eq!(
            bounded("beta's actor", beta_echo_exit).await,
            ExitReason::Killed
        );
        assert!(on_alpha.is_alive(), "alpha is untouched");
        assert_eq!(bounded("ask alpha", to_alpha.ask(Ping(5))).await, Ok(6));
        let down = bounded("down", downs.recv()).await.expect("Down");
        assert_eq!(down.reason, ExitReason::NodeDown);
        assert_eq!(
            gamma
                .net()
                .peers()
                .iter()
                .map(|p| p.name.to_string())
                .collect::<Vec<_>>(),
            ["alpha"]
        );
    });
}
