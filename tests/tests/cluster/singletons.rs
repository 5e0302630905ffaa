//! `Singleton` of a kind, four nodes in one process on real QUIC: every
//! node is a candidate; the instance runs once, on the oldest; when that
//! node leaves, the next oldest runs it (the old one stopped first); when
//! that one crashes, the next runs it after the down verdict and the
//! handover margin (two of the three left keep the quorum). Every node's
//! handle finds the one instance, and it answers. Every wait is bounded.

use super::membership::{members, until_all_know};
use arbour::cluster::{Singleton, SingletonRef, HANDOVER_MARGIN};
use arbour::ActorRef;
use arbour_testkit::{Echo, Ping};
use arbour_tests::{bounded, run_local};
use std::time::{Duration, Instant};

/// Waits until `handle` finds an instance on node `on`, and returns it.
async fn runs_on(handle: &SingletonRef<Echo>, on: &str) -> ActorRef<Echo> {
    bounded(&format!("the singleton runs on {on}"), async {
        loop {
            if let Some(a) = handle.resolve(Duration::from_secs(1)).await {
                if &*a.id().node.name == on {
                    return a;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[test]
fn a_singleton_runs_once_on_the_oldest_and_is_handed_over_when_it_leaves_or_crashes() {
    run_local(|| async {
        // started in this order: alpha is the oldest, then beta, gamma, delta
        let [alpha, beta, gamma, delta] = members(["alpha", "beta", "gamma", "delta"]).await;
        until_all_know(&[&alpha, &beta, &gamma, &delta]).await;
        let handles: Vec<SingletonRef<Echo>> = [&alpha, &beta, &gamma, &delta]
            .iter()
            .map(|n| Singleton::start::<Echo>(n, "leader", ()).expect("a candidate"))
            .collect();
        // once, on the oldest, found by every node
        let first = runs_on(&handles[0], "alpha").await;
        for h in &handles[1..] {
            assert_eq!(runs_on(h, "alpha").await.id(), first.id());
        }
        assert_eq!(bounded("ask", first.ask(Ping(1))).await, Ok(2));

        // alpha leaves: beta (now the oldest) runs it, alpha's stopped
        let exited = first.exited();
        let left = Instant::now();
        bounded("alpha leaves", alpha.shutdown()).await;
        bounded("alpha's instance stops", exited).await;
        let second = runs_on(&handles[1], "beta").await;
        eprintln!(
            "handed over to beta {:?} after alpha began to leave",
            left.elapsed()
        );
        for h in &handles[2..] {
            assert_eq!(runs_on(h, "beta").await.id(), second.id());
        }
        assert_eq!(bounded("ask", second.ask(Ping(2))).await, Ok(3));

        // beta crashes: gamma runs it, the margin after the verdict
        let mut members = gamma.membership().events().expect("membership");
        let crashed = Instant::now();
        beta.crash().await;
        let down_at = bounded("gamma declares beta down", async {
            loop {
                if let Ok(arbour::cluster::MemberEvent::Down(m)) = members.recv().await {
                    if m.name == "beta" {
                        return Instant::now();
                    }
                }
            }
        })
        .await;
        let third = runs_on(&handles[2], "gamma").await;
        assert_eq!(runs_on(&handles[3], "gamma").await.id(), third.id());
        let after = down_at.elapsed();
        eprintln!(
            "beta down {:?} after the crash; the singleton ran on gamma {after:?} after that",
            down_at - crashed
        );
        assert!(
            after >= HANDOVER_MARGIN.saturating_sub(Duration::from_millis(50)),
            "started {after:?} after the verdict, inside the handover margin"
        );
        assert!(
            after <= Duration::from_secs(2),
            "started {after:?} after the verdict"
        );
        assert_eq!(bounded("ask", third.ask(Ping(3))).await, Ok(4));
        gamma.shutdown().await;
        delta.shutdown().await;
    });
}
