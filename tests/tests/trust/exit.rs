//! Finding 7: a peer stopped any exported actor with an `Exit` (and with it
//! its registered name). Now only what it spawned, or what allows it.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour::wire::Control;
use arbour_testkit::Ping;
use arbour_tests::{bounded, eventually};
use std::time::Duration;

#[test]
fn an_exit_from_a_peer_stops_only_what_it_may_stop() {
    arbour_tests::run_local(|| async {
        let mut c = Cluster::start(MembershipConfig::default()).await;
        let mut mallory = c.mallory("127.0.0.1:0").await;
        let actor = c.local_echo.id().local;
        for kill in [false, true] {
            mallory
                .control(&Control::Exit { actor, kill }, None)
                .await
                .expect("sent");
        }
        eventually("both exits refused", Duration::from_millis(5), || {
            c.alpha.net().stats().exits_refused >= 2
        })
        .await;
        let p99 = c.legit_asks_for(Duration::from_millis(500)).await;
        c.assert_whole();
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
        // allowed: the same exit stops it
        c.alpha.allow_remote_stop(&c.local_echo).expect("allow");
        mallory
            .control(&Control::Exit { actor, kill: false }, None)
            .await
            .expect("sent");
        let echo = c.echo.clone();
        bounded("the allowed exit stops the echo", async move {
            while echo.ask(Ping(1)).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(c.alpha.net().stats().exits_refused, 2);
    });
}
