//! Finding 1: one SWIM packet evicted a member cluster-wide ("beta is
//! Down"), and a made-up "gamma" at incarnation 2^64-1 replaced the real
//! one. Finding 3: made-up members were dialed for ever.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour_tests::mallory::{gossip, member, SwimState};
use arbour_tests::{eventually, eventually_for};
use std::time::Duration;

fn find(node: &arbour::Node, name: &str) -> arbour::cluster::MemberId {
    node.membership()
        .members()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is a member"))
}

#[test]
fn forged_membership_packets_evict_no_one() {
    arbour_tests::run_local(|| async {
        let mut c = Cluster::start(MembershipConfig::default()).await;
        let mut mallory = c.mallory("127.0.0.1:0").await;
        let me = member("mallory", 7, "127.0.0.1:9".parse().expect("addr"));
        let alpha = c.alpha.membership().me().expect("a member");
        let (beta, gamma) = (find(&c.alpha, "beta"), find(&c.alpha, "gamma"));
        // speaking as beta: "gamma is down"
        let forged = gossip(&beta, &alpha, &[(gamma.clone(), 0, SwimState::Down)]);
        mallory.swim(forged).await.expect("sent");
        // as herself: beta is down; alpha itself is down (at the highest
        // SWIM incarnation, which could not be refuted); gamma has a life
        // at the end of time, and a newer life than the one connected
        let far = member("gamma", u64::MAX, "127.0.0.1:9".parse().expect("addr"));
        let newer = arbour::cluster::MemberId {
            incarnation: gamma.incarnation + 1,
            ..gamma.clone()
        };
        let bare = gossip(
            &me,
            &alpha,
            &[
                (beta.clone(), 0, SwimState::Down),
                (alpha.clone(), u16::MAX, SwimState::Down),
                (far, 0, SwimState::Alive),
                (newer, 0, SwimState::Alive),
            ],
        );
        mallory.swim(bare).await.expect("sent");
        let stats = || c.alpha.net().stats();
        eventually("alpha vets the packets", Duration::from_millis(5), || {
            let s = stats();
            s.membership_refused >= 1 && s.membership_downs_doubted >= 2
        })
        .await;
        // four times the time a suspect has to refute, and more: a member
        // taken down would be down by now
        let p99 = c.legit_asks_for(Duration::from_secs(3)).await;
        let s = stats();
        eprintln!("forged SWIM: legit ask p99 {p99:?}; {s:?}");
        assert_eq!(s.membership_refused, 1, "{s:?}");
        assert_eq!(s.membership_downs_doubted, 2, "{s:?}");
        assert_eq!(s.membership_updates_dropped, 2, "{s:?}");
        c.assert_whole();
        for n in [&c.alpha, &c.beta] {
            let gamma_seen = find(n, "gamma");
            assert_eq!(gamma_seen.incarnation, gamma.incarnation, "{}", n.node_id());
        }
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
    });
}

/// Members gossiped by a peer that no one can reach are declared down,
/// never dialed again, and their sessions and addresses go; a member cap
/// bounds how many are taken at all.
#[test]
fn made_up_members_are_capped_dropped_after_their_verdict_and_not_redialed() {
    arbour_tests::run_local(|| async {
        let config = MembershipConfig {
            max_members: 50,
            remove_down_after: Duration::from_secs(2),
            ..MembershipConfig::default()
        };
        let mut c = Cluster::start(config).await;
        let mut mallory = c.mallory("127.0.0.1:0").await;
        let me = member("mallory", 7, "127.0.0.1:9".parse().expect("addr"));
        let alpha = c.alpha.membership().me().expect("a member");
        let held_before = c.alpha.net().peers_held();
        // 300 made-up members (at addresses nothing listens on), 10 a packet
        for batch in 0..30 {
            let fakes: Vec<_> = (0..10)
                .map(|i| {
                    let n = batch * 10 + i;
                    let addr = format!("127.0.0.1:{}", 20_000 + n).parse().expect("addr");
                    (member(&format!("fake{n}"), 5, addr), 0, SwimState::Alive)
                })
                .collect();
            mallory
                .swim(gossip(&me, &alpha, &fakes))
                .await
                .expect("sent");
        }
        eventually(
            "alpha takes the made-up members up to its cap",
            Duration::from_millis(5),
            || c.alpha.net().stats().membership_updates_dropped >= 250,
        )
        .await;
        let most = std::cell::Cell::new(0);
        let held = || {
            let n = c.alpha.membership().members().len() + c.alpha.membership().down().len();
            most.set(most.get().max(n));
            n
        };
        eventually_for(
            Duration::from_secs(60),
            "the made-up members are declared down and forgotten",
            Duration::from_millis(50),
            || {
                held();
                c.alpha
                    .membership()
                    .members()
                    .iter()
                    .all(|m| !m.name.starts_with("fake"))
                    && c.alpha
                        .membership()
                        .down()
                        .iter()
                        .all(|m| !m.name.starts_with("fake"))
            },
        )
        .await;
        let s = c.alpha.net().stats();
        eprintln!("made-up members: at most {} held; {s:?}", most.get());
        assert!(most.get() <= 50, "at most the cap held: {}", most.get());
        assert!(
            most.get() >= 40,
            "the made-up members were taken: {}",
            most.get()
        );
        // nothing of them is kept, and nothing dials them any more
        eventually_for(
            Duration::from_secs(5),
            "their sessions and addresses are freed",
            Duration::from_millis(50),
            || {
                let (links, addrs, dials) = c.alpha.net().peers_held();
                links <= held_before.0 + 1
                    && addrs <= held_before.1 + 1
                    && dials <= held_before.2 + 1
            },
        )
        .await;
        let dials = c.alpha.net().stats().dials;
        // the redial backoff reaches 10 s; 12 s without a dial says none is armed
        let p99 = c.legit_asks_for(Duration::from_secs(12)).await;
        assert_eq!(
            c.alpha.net().stats().dials,
            dials,
            "no dial after the verdicts"
        );
        c.assert_whole();
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
    });
}
