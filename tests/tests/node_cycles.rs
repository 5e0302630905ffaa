//! 1,000 start/shutdown cycles of a networked node in one process (its own
//! test binary, so no other test moves the process's RSS): each cycle's
//! node dials a long-lived peer, asks it once and shuts down. Afterwards
//! nothing of it runs, its port is free again, and the process's RSS and
//! threads stay flat.

use arbour::platform::{live_workers, live_workers_at_most};
use arbour::Node;
use arbour_testkit::{dial_echo, Echo, Ping, ECHO};
use arbour_tests::{bounded, rss_bytes, run_local, LIMIT};

const CYCLES: usize = 1_000;
const WARM_UP: usize = 100;

async fn node(name: &str) -> Node {
    Node::builder(name)
        .cluster_name("cycles")
        .secret("s3cret")
        .start()
        .await
        .expect("node starts")
}

#[test]
fn a_thousand_start_shutdown_cycles_leave_nothing_behind() {
    run_local(|| async {
        let anchor = node("anchor").await;
        let echo = anchor.spawn(Echo::default());
        anchor.expose(ECHO, &echo).expect("expose");
        let anchor_addr = anchor.net().local_addr().expect("addr");
        let baseline_workers = live_workers();
        let mut rss_after_warm_up = 0;
        for cycle in 0..CYCLES {
            let n = node("cycler").await;
            let addr = n.net().local_addr().expect("addr");
            let remote = bounded("dial", dial_echo(&n, "anchor", anchor_addr, LIMIT))
                .await
                .expect("dial");
            assert_eq!(bounded("ask", remote.ask(Ping(1))).await, Ok(2));
            if cycle % 2 == 0 {
                bounded("shutdown", n.shutdown()).await;
            } else {
                drop(n); // the last handle: the same shutdown, in the background
            }
            bounded(
                "the node's workers end",
                live_workers_at_most(baseline_workers),
            )
            .await;
            // the endpoint is closed: its port can be bound again
            std::net::UdpSocket::bind(addr)
                .unwrap_or_else(|e| panic!("cycle {cycle}: port {addr} still held: {e}"));
            // the peer saw the goodbye: the anchor holds no connection to it
            bounded("anchor forgets the cycler", async {
                while !anchor.net().peers().is_empty() {
                    tokio::task::yield_now().await;
                }
            })
            .await;
            if cycle + 1 == WARM_UP {
                rss_after_warm_up = rss_bytes();
            }
        }
        let growth = rss_bytes().saturating_sub(rss_after_warm_up);
        println!("node_cycles.rss_growth_bytes {growth} bytes");
        assert!(
            growth < 4 * 1024 * 1024,
            "RSS grew {growth} bytes over {} cycles",
            CYCLES - WARM_UP
        );
        assert_eq!(live_workers(), baseline_workers);
        // the anchor served every cycle and still does
        assert_eq!(bounded("ask", echo.ask(Ping(41))).await, Ok(42));
    });
}
