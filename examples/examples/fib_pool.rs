//! Fibonacci with a pool of workers on several nodes: the reference book's
//! `concurrent.futures` example (`executor.map(fib, inputs)`), done with
//! actors. alpha supervises four `FibWorker`s placed on the nodes with role
//! `worker` (beta and gamma); the client maps `fib` over the inputs through
//! the pool, many tasks in flight, and checks every result against a
//! sequential computation.
//!
//! `cargo run -p arbour-examples --example fib_pool`

use actix::prelude::*;
use arbour::{cluster::Placement, ChildSpec, SupervisorSpec};
use arbour_examples::{cluster, run, WAIT};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

struct FibWorker;
impl Actor for FibWorker {
    type Context = Context<Self>;
}

#[arbour::message(tag = "examples.fib_pool.fib.v1", reply = u64)]
struct Fib(u32);
arbour::remote_actor!(FibWorker { Fib });
impl Handler<Fib> for FibWorker {
    type Result = u64;
    fn handle(&mut self, Fib(n): Fib, _: &mut Context<Self>) -> u64 {
        fib(n)
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct NoArgs;
impl arbour::cluster::Kind for FibWorker {
    type Args = NoArgs;
    fn from_args(_: NoArgs) -> Self {
        FibWorker
    }
}

fn fib(n: u32) -> u64 {
    (0..n)
        .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
        .0
}

fn main() {
    run(async {
        let nodes = cluster(
            "fib-pool",
            &[
                ("alpha", &[]),
                ("beta", &["worker"]),
                ("gamma", &["worker"]),
            ],
        )
        .await;
        let (alpha, beta, gamma) = (&nodes[0], &nodes[1], &nodes[2]);
        for n in [beta, gamma] {
            n.kind::<FibWorker>("fib").expect("kind");
        }
        // wait until alpha knows both workers have the kind
        let mut ev = alpha.global().events().expect("events");
        while alpha.global().nodes_with_kind("fib").len() < 2 {
            tokio::time::timeout(WAIT, ev.recv())
                .await
                .expect("kinds")
                .ok();
        }
        let pool = (0..4).fold(SupervisorSpec::one_for_one(), |s, i| {
            s.child(ChildSpec::remote_in_group::<FibWorker>(
                "fib",
                format!("fib-{i}"),
                Placement::Role("worker".into()),
                "fib",
                NoArgs,
            ))
        });
        let _sup = alpha
            .start_supervisor(arbour::WorkerPlacement::RoundRobin, pool)
            .await
            .expect("pool");
        while alpha.global().group_ids("fib").len() < 4 {
            tokio::time::timeout(WAIT, ev.recv())
                .await
                .expect("pool")
                .ok();
        }
        let workers = alpha.global().group::<FibWorker>("fib");
        let mut on: Vec<String> = workers
            .iter()
            .map(|w| w.id().node.name.to_string())
            .collect();
        on.sort();
        println!("pool of {}: {}", workers.len(), on.join(", "));
        // executor.map(fib, inputs), 16 in flight
        let inputs: Vec<u32> = (0..200).map(|i| i % 90).collect();
        let results: Vec<u64> = futures_util::stream::iter(inputs.iter().enumerate())
            .map(|(i, &n)| {
                let w = workers[i % workers.len()].clone();
                async move { w.ask(Fib(n)).await.expect("a worker answers") }
            })
            .buffered(16)
            .collect()
            .await;
        let expected: Vec<u64> = inputs.iter().map(|&n| fib(n)).collect();
        let wrong = results
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        println!("fib(89) = {}", results[89]);
        println!("{} results, {wrong} wrong", results.len());
        if wrong > 0 || on != ["beta", "beta", "gamma", "gamma"] {
            std::process::exit(1);
        }
    })
}
