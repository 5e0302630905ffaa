//! Runnable examples live in `examples/` (each `cargo run -p
//! arbour-examples --example NAME`; each checks its own results and exits
//! non-zero if one is wrong, and `tests/examples.rs` runs them all). This
//! library holds what they share: a few nodes of one cluster in one
//! process, on loopback.

use arbour::{cluster::MembershipConfig, Node};
use std::time::Duration;

/// How long an example waits for anything before it gives up.
pub const WAIT: Duration = Duration::from_secs(20);

/// Starts nodes `names` of cluster `cluster` in this process (on the
/// current thread's `LocalSet`), the first one the seed of the others, and
/// waits until every one knows all the others.
pub async fn cluster(cluster: &str, names: &[(&str, &[&str])]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (name, roles) in names {
        let mut b = Node::builder(*name)
            .cluster_name(cluster)
            .secret("example-secret")
            .membership(MembershipConfig::default());
        for r in *roles {
            b = b.role(*r);
        }
        if let Some(seed) = nodes.first() {
            b = b.seed_node(
                &*seed.node_id().name,
                seed.net().local_addr().expect("addr"),
            );
        }
        nodes.push(b.start().await.expect("a node starts"));
    }
    for n in &nodes {
        let mut ev = n.membership().events().expect("membership");
        tokio::time::timeout(WAIT, async {
            while n.membership().members().len() < nodes.len() - 1 {
                let _ = ev.recv().await;
            }
        })
        .await
        .expect("the cluster forms");
    }
    nodes
}

/// Runs `f` on a current-thread runtime with a `LocalSet` (what nodes
/// started with `NodeBuilder::start` run on).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&rt, f)
}
