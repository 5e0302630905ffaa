//! The simulated network's faults, with whole nodes on top (real QUIC, TLS
//! and arbour, in virtual time on one thread): over a lossy, duplicating,
//! reordering, jittery network every ask is answered right and per-pair
//! order holds; a bandwidth cap takes its time; a member that can hear but
//! not speak (a one-way cut) is declared down; the same seed replays the
//! same deliveries. Every wait is bounded.

use arbour_sim::{run_paused, Faults, SimCluster};
use arbour_testkit::{Blob, Echo, Ping, Report, Tally};
use std::time::Duration;

/// Whole simulated runs: 5 times the virtual bound of one wait.
const LIMIT: Duration = arbour_tests::VIRTUAL_LIMIT.saturating_mul(5);

async fn bounded<T>(what: &str, f: impl std::future::IntoFuture<Output = T>) -> T {
    arbour_tests::bounded_for(LIMIT, what, f).await
}

/// alpha with an echo, beta connected to it (over whatever the network
/// does), and beta's ref to the echo.
async fn echo_pair(
    cluster: &mut SimCluster,
) -> (arbour::Node, arbour::Node, arbour::ActorRef<Echo>) {
    let (alpha, alpha_addr) = cluster.start("alpha").await.expect("alpha");
    let (beta, _) = cluster.start("beta").await.expect("beta");
    let echo = alpha.spawn(Echo::default());
    alpha.expose("echo", &echo).expect("expose");
    bounded("connect", beta.net().connect("alpha", alpha_addr))
        .await
        .expect("the handshake completes");
    let remote = bounded("lookup", beta.lookup::<Echo>("alpha", "echo", LIMIT))
        .await
        .expect("lookup");
    (alpha, beta, remote)
}

fn rough() -> Faults {
    Faults::lossy()
}

/// Two nodes on a rough network: asks, then a stream of tells and its
/// order; the network's counts and the deliveries' trace.
fn rough_run(seed: u64) -> (arbour_sim::Counts, Vec<arbour_sim::net::Delivery>) {
    run_paused(|| async move {
        let mut cluster = SimCluster::with_faults(seed, rough());
        cluster.net.record();
        let (_alpha, _beta, remote) = echo_pair(&mut cluster).await;
        for i in 0..200u64 {
            assert_eq!(bounded("ask", remote.ask(Ping(i))).await, Ok(i + 1));
        }
        for seq in 1..=2_000 {
            remote.tell(Tally { sender: 7, seq });
        }
        let report = bounded("report", remote.ask(Report)).await.expect("report");
        assert_eq!(
            (report.received, report.out_of_order),
            (2_000, 0),
            "every tell arrives once, in order, over loss, duplicates and reordering"
        );
        (cluster.net.counts(), cluster.net.trace())
    })
}

#[test]
fn a_lossy_duplicating_reordering_network_loses_nothing_and_keeps_order() {
    let (counts, _) = rough_run(3);
    eprintln!("{counts:?}");
    assert!(counts.lost > 0, "datagrams were lost: {counts:?}");
    assert!(counts.duplicated > 0, "some arrived twice: {counts:?}");
    assert!(counts.reordered > 0, "some were overtaken: {counts:?}");
}

#[test]
fn the_same_seed_replays_the_same_deliveries_over_faults() {
    let (a, ta) = rough_run(11);
    let (b, tb) = rough_run(11);
    assert_eq!(a, b);
    assert_eq!(ta, tb, "the same deliveries, at the same virtual times");
    let (c, _) = rough_run(12);
    assert_ne!(a, c, "another seed, other faults");
}

#[test]
fn a_bandwidth_cap_takes_its_time_in_virtual_time() {
    let took = |bandwidth: Option<u64>| {
        run_paused(|| async move {
            let mut cluster = SimCluster::with_faults(
                5,
                Faults {
                    bandwidth,
                    ..Faults::latency(Duration::from_millis(1))
                },
            );
            let (_alpha, _beta, remote) = echo_pair(&mut cluster).await;
            let t = tokio::time::Instant::now();
            // 1 MB in one message
            let n = bounded(
                "blob",
                remote.ask(Blob("x".repeat(1 << 20), 9)).timeout(LIMIT),
            )
            .await
            .expect("blob");
            assert_eq!(n, 9);
            t.elapsed()
        })
    };
    let capped = took(Some(1 << 20)); // 1 MiB/s
    let free = took(None);
    eprintln!("1 MiB at 1 MiB/s: {capped:?}; unlimited: {free:?}");
    assert!(capped >= Duration::from_millis(900), "{capped:?}");
    assert!(free < Duration::from_millis(200), "{free:?}");
}

#[test]
fn a_member_that_hears_but_cannot_speak_is_declared_down() {
    run_paused(|| async {
        let mut cluster = SimCluster::new(8, Duration::from_millis(2));
        let (alpha, alpha_addr) = cluster.start_member("alpha", None).await.expect("alpha");
        let (beta, beta_addr) = cluster
            .start_member("beta", Some(("alpha", alpha_addr)))
            .await
            .expect("beta");
        let (gamma, gamma_addr) = cluster
            .start_member("gamma", Some(("alpha", alpha_addr)))
            .await
            .expect("gamma");
        bounded("members converge", async {
            while [&alpha, &beta, &gamma]
                .iter()
                .any(|n| n.membership().members().len() < 2)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        // gamma's outgoing datagrams are dropped; it still receives
        cluster.net.cut_one_way(gamma_addr, alpha_addr);
        cluster.net.cut_one_way(gamma_addr, beta_addr);
        let t = tokio::time::Instant::now();
        bounded("gamma is declared down by the others", async {
            while [&alpha, &beta]
                .iter()
                .any(|n| n.membership().members().iter().any(|m| m.name == "gamma"))
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        eprintln!("gamma down after {:?} of virtual time", t.elapsed());
        assert!(
            alpha
                .membership()
                .members()
                .iter()
                .any(|m| m.name == "beta"),
            "beta stays"
        );
    });
}
