//! The Fibonacci worker as an actor kind (`fib_worker`): what the demo's
//! cluster deploys, and the reference book's `concurrent.futures` example
//! done with actors on several nodes.

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
        crate::demo::fib(n)
    }
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
