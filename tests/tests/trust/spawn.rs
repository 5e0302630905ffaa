//! Finding 5: 100,000 remote spawns from one peer (344 MB), its actors
//! outliving it. A peer's spawns are held to its quota; past it nothing of
//! a spawn runs.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour::net::PeerLimits;
use arbour::wire::Control;
use arbour_testkit::Echo;
use arbour_tests::eventually;
use std::time::Duration;

#[test]
fn a_peers_spawns_are_held_to_its_quota() {
    arbour_tests::run_local(|| async {
        let limits = PeerLimits {
            spawned_actors: 200,
            ..PeerLimits::default()
        };
        let mut c = Cluster::start_with(MembershipConfig::default(), limits).await;
        c.alpha.kind::<Echo>("echo").expect("kind");
        let mut mallory = c.mallory("127.0.0.1:0").await;
        let args = arbour::wire::encode(&()).expect("encode");
        for i in 0..300u64 {
            let spawn = Control::Spawn {
                kind: "echo".into(),
                args: args.clone(),
                group: None,
            };
            mallory.control(&spawn, Some(i + 1)).await.expect("sent");
        }
        let stats = || c.alpha.net().stats();
        eventually(
            "the spawns past the quota refused",
            Duration::from_millis(5),
            || stats().spawns_refused >= 100,
        )
        .await;
        let p99 = c.legit_asks_for(Duration::from_millis(500)).await;
        let s = stats();
        eprintln!("spawn flood: legit ask p99 {p99:?}; {s:?}");
        assert_eq!(
            (s.spawns_refused, s.peer_spawned_running),
            (100, 200),
            "{s:?}"
        );
        c.assert_whole();
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
    });
}
