//! Finding 6: the asker chose how long its served ask held its place: with
//! 1 ms the place was freed while the handler ran on (memory without
//! bound), with u32::MAX ms a node name was locked out for 49.7 days.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour::net::PeerLimits;
use arbour_testkit::Delay;
use arbour_tests::{bounded, eventually, eventually_for};
use std::time::Duration;

#[test]
fn a_served_ask_holds_its_place_until_its_handler_is_done_and_no_longer_than_the_nodes_maximum() {
    arbour_tests::run_local(|| async {
        let limits = PeerLimits {
            served_asks: 100,
            served_ask_timeout: Duration::from_secs(3),
            ..PeerLimits::default()
        };
        let mut c = Cluster::start_with(MembershipConfig::default(), limits).await;
        let mut mallory = c.mallory("127.0.0.1:0").await;
        let echo = c.local_echo.id().local;
        // 150 asks of a handler that never ends, each saying its asker
        // waits 1 ms: 100 are served, 50 refused, and the 100 keep their
        // places (they run on)
        ask_forever(&mut mallory, echo, 1..151, 1).await;
        let stats = || c.alpha.net().stats();
        eventually(
            "the asks past the cap refused",
            Duration::from_millis(5),
            || stats().served_asks_refused >= 50,
        )
        .await;
        // far past the asker's 1 ms, the places are still held
        let p99 = c.legit_asks_for(Duration::from_millis(1_000)).await;
        assert_eq!(stats().served_asks_in_flight, 100, "{:?}", stats());
        // and freed at the node's maximum (3 s here)
        eventually_for(
            Duration::from_secs(6),
            "the places come back at the node's maximum",
            Duration::from_millis(20),
            || stats().served_asks_in_flight == 0,
        )
        .await;
        // asks saying their asker waits u32::MAX ms hold their places no
        // longer than that maximum either
        ask_forever(&mut mallory, echo, 1_000..1_100, u32::MAX).await;
        eventually("u32::MAX asks served", Duration::from_millis(5), || {
            stats().served_asks_in_flight >= 100
        })
        .await;
        // the same name in a new life is not locked out by its old life's
        // asks, which still hold their places
        let refused = stats().served_asks_refused;
        let addr = c.alpha.net().local_addr().expect("addr");
        let life = c.alpha.node_id().incarnation;
        let mut again = bounded(
            "mallory's next life connects",
            arbour_tests::mallory::Mallory::connect(
                "mallory",
                8,
                "127.0.0.1:0".parse().expect("bind"),
                ("alpha", life, addr),
            ),
        )
        .await
        .expect("connects");
        ask_forever(&mut again, echo, 5_000..5_010, u32::MAX).await;
        eventually(
            "the new life's asks are served",
            Duration::from_millis(5),
            || stats().served_asks_in_flight >= 110,
        )
        .await;
        assert_eq!(stats().served_asks_refused, refused, "none refused");
        eventually_for(
            Duration::from_secs(6),
            "u32::MAX asks give their places back at the node's maximum",
            Duration::from_millis(20),
            || stats().served_asks_in_flight == 0,
        )
        .await;
        c.assert_whole();
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
    });
}

/// Mallory asks `echo` (a local number) to `Delay` for ever, once per
/// correlation id in `ids`, each envelope saying its asker waits
/// `timeout_ms`.
async fn ask_forever(
    mallory: &mut arbour_tests::mallory::Mallory,
    echo: u64,
    ids: std::ops::Range<u64>,
    timeout_ms: u32,
) {
    let forever = arbour::wire::encode(&Delay(u64::MAX)).expect("encode");
    for id in ids {
        mallory
            .envelope(echo, "probe.delay.v1", &forever, Some(id), Some(timeout_ms))
            .await
            .expect("sent");
    }
}
