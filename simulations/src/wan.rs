//! Five members over a slow, lossy WAN: 100 ± 20 ms one way (200 ms round
//! trips) and 3% of datagrams lost, for some virtual minutes, each member
//! asking another's echo once a virtual second. What the failure detector
//! made of it: the suspicions and downs every member reported, and the
//! asks answered and failed. (The `sim` bench's `cluster.wan.*` figures and
//! the test that holds them.)

use crate::{run_paused, Faults, SimCluster};
use arbour_testkit::{Echo, Ping};
use std::time::Duration;

/// Members in the run.
pub const WAN_MEMBERS: usize = 5;

/// What a WAN run saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WanRun {
    /// `Suspect` events, over every member.
    pub suspicions: u64,
    /// `Down` events, over every member.
    pub downs: u64,
    /// Asks answered.
    pub asks_ok: u64,
    /// Asks that failed (timeout or error).
    pub asks_failed: u64,
}

/// Runs [`WAN_MEMBERS`] members from `seed` over the WAN for `minutes`
/// virtual minutes once they have formed.
pub fn wan(seed: u64, minutes: u64) -> WanRun {
    run_paused(|| async move {
        let faults = Faults {
            latency: Duration::from_millis(80),
            jitter: Duration::from_millis(40),
            loss: 0.03,
            ..Faults::latency(Duration::ZERO)
        };
        let mut cluster = SimCluster::with_faults(seed, faults);
        let (first, addr) = cluster.start_member("m0", None).await.expect("m0");
        let mut nodes = vec![first];
        for i in 1..WAN_MEMBERS {
            let (n, _) = cluster
                .start_member(&format!("m{i}"), Some(("m0", addr)))
                .await
                .expect("member");
            nodes.push(n);
        }
        for n in &nodes {
            let echo = n.spawn(Echo::default());
            n.expose("echo", &echo).expect("expose");
        }
        let formed = tokio::time::timeout(Duration::from_secs(120), async {
            while nodes
                .iter()
                .any(|n| n.membership().members().len() < WAN_MEMBERS - 1)
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            formed.is_ok(),
            "the members did not form within 120 virtual s"
        );
        let counts = std::rc::Rc::new(std::cell::Cell::new((0u64, 0u64)));
        for n in &nodes {
            let mut rx = n.membership().events().expect("membership");
            let counts = counts.clone();
            tokio::task::spawn_local(async move {
                while let Ok(e) = rx.recv().await {
                    let (s, d) = counts.get();
                    match e {
                        arbour::cluster::MemberEvent::Suspect(_) => counts.set((s + 1, d)),
                        arbour::cluster::MemberEvent::Down(_) => counts.set((s, d + 1)),
                        _ => {}
                    }
                }
            });
        }
        let mut refs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let to = format!("m{}", (i + 1) % WAN_MEMBERS);
            refs.push(
                n.lookup::<Echo>(&to, "echo", Duration::from_secs(30))
                    .await
                    .expect("lookup"),
            );
        }
        let (mut asks_ok, mut asks_failed) = (0, 0);
        for second in 0..minutes * 60 {
            for r in &refs {
                match r.ask(Ping(second)).timeout(Duration::from_secs(5)).await {
                    Ok(_) => asks_ok += 1,
                    Err(_) => asks_failed += 1,
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let (suspicions, downs) = counts.get();
        WanRun {
            suspicions,
            downs,
            asks_ok,
            asks_failed,
        }
    })
}
