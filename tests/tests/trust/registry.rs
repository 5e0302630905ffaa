//! Finding 4: an update with Lamport stamp 0 took any name cluster-wide
//! (its owner gave it up); u64::MAX pushed the clock to its end. Finding 5:
//! a peer's part grew without bound. Finding 2: whole parts and resyncs
//! on demand kept the node's network thread busy.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour::registry::{Change, Published, Registration, Update, MAX_OWN_ENTRIES};
use arbour::wire::Control;
use arbour_testkit::Echo;
use arbour_tests::{bounded, eventually};
use std::time::Duration;

fn update(u: &Update) -> Control<arbour::ExitReason> {
    Control::Registry {
        update: arbour::wire::encode(u).expect("encode"),
    }
}

#[test]
fn a_peer_cannot_take_a_name_with_a_forged_stamp_grow_its_part_past_the_cap_or_resync_at_will() {
    arbour_tests::run_local(|| async {
        let mut c = Cluster::start(MembershipConfig::default()).await;
        c.alpha
            .global()
            .register("svc", &c.local_echo)
            .expect("alpha registers svc");
        let resolves = |n: &arbour::Node| n.global().whereis::<Echo>("svc").map(|r| r.id().clone());
        let svc = c.local_echo.id().clone();
        bounded("every node resolves svc", async {
            while resolves(&c.beta).as_ref() != Some(&svc)
                || resolves(&c.gamma).as_ref() != Some(&svc)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let mut mallory = c.mallory("127.0.0.1:0").await;
        // her first whole part is taken (a new life's)
        let empty = Update::Full {
            seq: 0,
            state: Published::default(),
        };
        mallory.control(&update(&empty), None).await.expect("sent");
        let hijack = |stamp: u64, seq: u64| Update::Delta {
            seq,
            change: Change::Register {
                name: "svc".into(),
                at: Registration { local: 1, stamp },
            },
        };
        mallory
            .control(&update(&hijack(0, 1)), None)
            .await
            .expect("sent");
        mallory
            .control(&update(&hijack(u64::MAX, 2)), None)
            .await
            .expect("sent");
        // a whole part past the cap, and one nobody asked for
        let mut big = Published::default();
        for i in 0..=MAX_OWN_ENTRIES as u64 {
            big.names.insert(
                format!("n{i}"),
                Registration {
                    local: i,
                    stamp: 1 + i,
                },
            );
        }
        mallory
            .control(&update(&Update::Full { seq: 3, state: big }), None)
            .await
            .expect("sent");
        // 1,000 resync asks: the first is answered, the rest within the
        // same second are not
        for _ in 0..1_000 {
            mallory
                .control(&Control::RegistryResync, None)
                .await
                .expect("sent");
        }
        let stats = || c.alpha.net().stats();
        eventually(
            "alpha refuses the updates and the resyncs",
            Duration::from_millis(5),
            || stats().registry_refused >= 3 + 999 - 1,
        )
        .await;
        let p99 = c.legit_asks_for(Duration::from_secs(1)).await;
        let s = stats();
        eprintln!("registry attack: legit ask p99 {p99:?}; {s:?}");
        assert_eq!(s.registry_replica_entries, 0, "nothing of hers is kept");
        for n in [&c.alpha, &c.beta, &c.gamma] {
            assert_eq!(resolves(n).as_ref(), Some(&svc), "{}", n.node_id());
        }
        c.assert_whole();
        assert!(p99 < Duration::from_millis(50), "legit ask p99 {p99:?}");
    });
}
