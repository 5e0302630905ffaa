//! A burst of a million remote tells in a test binary of its own, so the
//! process's RSS is this test's alone.

use arbour::Node;
use arbour_testkit::{dial_echo, Echo, Report, Tally, ECHO};
use arbour_tests::{bounded, run_local, test_node, LIMIT};

async fn node(name: &str) -> Node {
    test_node(name).start().await.expect("node starts")
}

/// A burst of 1,000,000 plain tells, sent without yielding (as one actor's
/// handler would), is queued on the connection, not dropped: every one
/// arrives, in order.
#[test]
fn a_burst_of_a_million_remote_tells_arrives_complete_and_in_order() {
    run_local(|| async {
        let alpha = node("alpha").await;
        let echo = alpha.spawn(Echo::default());
        alpha.expose(ECHO, &echo).expect("expose");
        let beta = node("beta").await;
        let addr = alpha.net().local_addr().expect("addr");
        let remote = bounded("dial echo", dial_echo(&beta, "alpha", addr, LIMIT))
            .await
            .expect("dial echo");
        const BURST: u64 = 1_000_000;
        let before = arbour_tests::rss_bytes();
        for seq in 1..=BURST {
            remote.tell(Tally { sender: 0, seq });
        }
        // nothing else ran meanwhile (one thread, no yield): the whole burst
        // is queued on the sender, within the 64 MiB outbound cap
        let queued = arbour_tests::rss_bytes().saturating_sub(before);
        println!("remote_burst.sender_rss_growth_bytes {queued} bytes");
        assert!(
            queued < 64 * 1024 * 1024,
            "the sender holds {queued} bytes for the burst"
        );
        // the lane is far over its limit: an ask that may wait for room
        let report = bounded("report", remote.ask(Report).timeout(LIMIT).wait_if_full())
            .await
            .expect("report");
        assert_eq!(
            (report.received, report.out_of_order),
            (BURST, 0),
            "complete and in order"
        );
        assert_eq!(report.last, vec![(0, BURST)]);
        assert_eq!(beta.stats().outbound_drops, 0);
        assert_eq!(beta.stats().dead_letters, 0);
        assert_eq!(alpha.stats().mailbox_full_drops, 0);
    });
}
