//! The Fibonacci worker, the one both demos use: an actor kind
//! (`fib_worker`) the demo's cluster deploys (the reference book's
//! `concurrent.futures` example done with actors on several nodes), and
//! the pool `arbour chaos` crashes at random.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

/// The kind name the `arbour` binary registers [`FibWorker`] under.
pub const FIB_WORKER: &str = "fib_worker";

/// Computes Fibonacci numbers for any node of the cluster.
#[derive(Debug, Default)]
pub struct FibWorker {
    done: u64,
}

impl Actor for FibWorker {
    type Context = Context<Self>;
}

/// Ask: `fib(n)` modulo 2^64.
#[derive(Debug)]
#[arbour::message(tag = "arbour.examples.fib.v1", reply = u64)]
pub struct Fib(pub u32);

/// Ask: how many tasks this instance has done.
#[derive(Debug)]
#[arbour::message(tag = "arbour.examples.fib_done.v1", reply = u64)]
pub struct Done;

arbour::remote_actor!(FibWorker { Fib, Done });

impl Handler<Fib> for FibWorker {
    type Result = u64;
    fn handle(&mut self, Fib(n): Fib, _: &mut Context<Self>) -> u64 {
        self.done += 1;
        fib(n)
    }
}

/// Makes the worker panic (the chaos monkey's tool; local only).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Crash;

impl Handler<Crash> for FibWorker {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!(
            "chaos monkey crashed a fib worker after {} tasks",
            self.done
        );
    }
}

/// Iterative Fibonacci, wrapping on overflow.
pub fn fib(n: u32) -> u64 {
    (0..n)
        .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
        .0
}

impl Handler<Done> for FibWorker {
    type Result = u64;
    fn handle(&mut self, _: Done, _: &mut Context<Self>) -> u64 {
        self.done
    }
}

/// A fib worker's start arguments (none yet; a table in the cluster file).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FibArgs {}

impl arbour::cluster::Kind for FibWorker {
    type Args = FibArgs;
    fn from_args(_: FibArgs) -> Self {
        FibWorker::default()
    }
}
