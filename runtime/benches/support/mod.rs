// Each bench includes this module and uses a part of it.
#![allow(dead_code)]

//! Helpers the benchmark programs share.

#[allow(unused_imports)]
pub use arbour_tests::rss_bytes;

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `p` quantile of a sorted, non-empty sample.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

use actix::prelude::*;

/// An actor that answers [`Ping`] with the number after it (the node and
/// hostile benches' remote target).
#[derive(Default)]
pub struct Echo;
impl Actor for Echo {
    type Context = Context<Self>;
}

/// Ask: the number after this one.
#[arbour::message(tag = "bench.ping.v1", reply = u64)]
pub struct Ping(pub u64);
/// Ask: answers after this many milliseconds (the actor serves others
/// meanwhile).
#[arbour::message(tag = "bench.delay.v1", reply = u64)]
pub struct Delay(pub u64);

arbour::remote_actor!(Echo { Ping, Delay });
impl Handler<Ping> for Echo {
    type Result = u64;
    fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 {
        n + 1
    }
}
impl Handler<Delay> for Echo {
    type Result = ResponseFuture<u64>;
    fn handle(&mut self, Delay(ms): Delay, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            ms
        })
    }
}

/// Other nodes may start an `Echo` by kind name.
impl arbour::cluster::Kind for Echo {
    type Args = ();
    fn from_args((): ()) -> Self {
        Echo
    }
}

/// A node of the benches' cluster, listening on a free local port.
pub fn builder(name: &str) -> arbour::NodeBuilder {
    arbour::Node::builder(name)
        .cluster_name("bench")
        .secret("bench")
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
}
