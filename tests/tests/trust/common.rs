//! A 3-node cluster under attack, and what is measured throughout.

use arbour::cluster::{MemberEvent, MembershipConfig};
use arbour::net::PeerLimits;
use arbour::{ActorRef, Node};
use arbour_testkit::{serve_echo, Echo, Ping, ECHO};
use arbour_tests::mallory::Mallory;
use arbour_tests::{bounded, test_node, LIMIT};
use std::time::{Duration, Instant};

/// A member whose connections would take a minute to notice a silent peer
/// on their own: only membership can declare a node down.
async fn member(
    name: &str,
    seed: Option<std::net::SocketAddr>,
    config: &MembershipConfig,
    limits: PeerLimits,
) -> Node {
    let b = test_node(name)
        .limits(limits)
        .idle_timeout(Duration::from_secs(60))
        .keep_alive(Duration::from_secs(1))
        .membership(config.clone());
    let b = match seed {
        Some(addr) => b.seed_node("alpha", addr),
        None => b,
    };
    b.start().await.expect("starts")
}

/// alpha (attacked), beta and gamma, every one knowing the others; alpha
/// serves an echo that beta asks.
pub struct Cluster {
    pub alpha: Node,
    pub beta: Node,
    pub gamma: Node,
    /// beta's ref to alpha's echo: the legitimate asks.
    pub echo: ActorRef<Echo>,
    /// alpha's echo, as alpha holds it.
    pub local_echo: ActorRef<Echo>,
    downs: Vec<tokio::sync::broadcast::Receiver<MemberEvent>>,
}

impl Cluster {
    pub async fn start(config: MembershipConfig) -> Self {
        Self::start_with(config, PeerLimits::default()).await
    }

    /// The cluster, alpha holding its peers to `limits`.
    pub async fn start_with(config: MembershipConfig, limits: PeerLimits) -> Self {
        let alpha = member("alpha", None, &config, limits).await;
        let seed = alpha.net().local_addr().expect("addr");
        let beta = member("beta", Some(seed), &config, PeerLimits::default()).await;
        let gamma = member("gamma", Some(seed), &config, PeerLimits::default()).await;
        let all = [&alpha, &beta, &gamma];
        for n in all {
            let mut ev = n.membership().events().expect("membership");
            bounded("every node knows the others", async {
                while n.membership().members().len() < 2 {
                    let _ = ev.recv().await;
                }
            })
            .await;
        }
        let local_echo = serve_echo(&alpha);
        let echo = bounded("look up echo", beta.lookup::<Echo>("alpha", ECHO, LIMIT))
            .await
            .expect("beta reaches alpha's echo");
        let downs = all
            .iter()
            .map(|n| n.membership().events().expect("membership"))
            .collect();
        Self {
            alpha,
            beta,
            gamma,
            echo,
            local_echo,
            downs,
        }
    }

    /// Mallory, connected to alpha from `bind`.
    pub async fn mallory(&self, bind: &str) -> Mallory {
        let addr = self.alpha.net().local_addr().expect("addr");
        let life = self.alpha.node_id().incarnation;
        bounded(
            "mallory connects",
            Mallory::connect(
                "mallory",
                7,
                bind.parse().expect("bind"),
                ("alpha", life, addr),
            ),
        )
        .await
        .expect("mallory's certificate is valid")
    }

    /// Asks alpha's echo from beta every 10 ms for `window`: the round
    /// trips' 99th percentile. Every ask must succeed.
    pub async fn legit_asks_for(&self, window: Duration) -> Duration {
        let mut rtts = Vec::new();
        let start = Instant::now();
        while start.elapsed() < window {
            let t = Instant::now();
            assert_eq!(
                bounded("a legitimate ask", self.echo.ask(Ping(1))).await,
                Ok(2)
            );
            rtts.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rtts.sort();
        rtts[(rtts.len() * 99 / 100).min(rtts.len() - 1)]
    }

    /// Asserts that no member was declared down, left or was replaced
    /// anywhere since the cluster formed, and each node still knows the
    /// other two. (Mallory joins by speaking SWIM as herself, her
    /// certificate being a member's; she answers no probe, so she is
    /// declared down: that is the protocol working, not an eviction.)
    pub fn assert_whole(&mut self) {
        for (n, rx) in [&self.alpha, &self.beta, &self.gamma]
            .into_iter()
            .zip(&mut self.downs)
        {
            while let Ok(e) = rx.try_recv() {
                if e.member().name == "mallory" || e.member().name.starts_with("fake") {
                    continue;
                }
                assert!(
                    matches!(e, MemberEvent::Up(_) | MemberEvent::Suspect(_)),
                    "{}: {e:?}",
                    n.node_id()
                );
            }
            let names: Vec<String> = n
                .membership()
                .members()
                .into_iter()
                .map(|m| m.name)
                .filter(|m| m != "mallory" && !m.starts_with("fake"))
                .collect();
            assert_eq!(names.len(), 2, "{}: {names:?}", n.node_id());
        }
    }
}
