//! A small supervision tree, the way an Erlang programmer would draw it:
//!
//! ```text
//! app (one_for_one)
//! ├── cache            worker, permanent
//! └── pipeline (rest_for_one)
//!     ├── reader       worker, permanent
//!     └── writer       worker, transient
//! ```
//!
//! We crash the reader: the rest_for_one pipeline restarts reader and writer,
//! the cache is untouched, and refs held before the crash still work.
//!
//! `cargo run -p arbour-examples --example supervision_tree`

use actix::prelude::*;
use arbour::{ChildSpec, Node, Restart, SupervisorSpec};

struct Stage {
    name: &'static str,
    generation: u32,
}
impl Actor for Stage {
    type Context = Context<Self>;
    fn started(&mut self, _: &mut Context<Self>) {
        println!("  {} started (generation {})", self.name, self.generation);
    }
}

#[derive(Message)]
#[rtype(result = "String")]
struct Hello;
impl Handler<Hello> for Stage {
    type Result = String;
    fn handle(&mut self, _: Hello, _: &mut Context<Self>) -> String {
        format!("{} (generation {}) says hello", self.name, self.generation)
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Crash;
impl Handler<Crash> for Stage {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("{} hit a bad record", self.name);
    }
}

/// A factory whose instances count up, so restarts are visible.
fn stage(name: &'static str) -> impl Fn() -> Stage + Send + Sync {
    let n = std::sync::atomic::AtomicU32::new(0);
    move || Stage {
        name,
        generation: n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&rt, async {
        let node = Node::builder("example").rng_seed(1).build();
        let pipeline = SupervisorSpec::rest_for_one()
            .intensity(3)
            .child(ChildSpec::worker("reader", stage("reader")))
            .child(ChildSpec::worker("writer", stage("writer")).restart(Restart::Transient));
        println!("starting the tree:");
        let app = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("cache", stage("cache")))
            .child(ChildSpec::supervisor("pipeline", pipeline))
            .start(&node)
            .await
            .expect("the tree starts");

        let pipe = app.child_supervisor("pipeline").expect("pipeline");
        let reader = pipe.child::<Stage>("reader").expect("reader");
        let writer = pipe.child::<Stage>("writer").expect("writer");
        let cache = app.child::<Stage>("cache").expect("cache");

        println!("crashing the reader:");
        let exited = reader.exited();
        reader.tell(Crash);
        println!("  reader exited: {}", exited.await);
        // The supervisor restarts reader, then writer (rest_for_one).
        while writer
            .ask(Hello)
            .await
            .map_or(true, |s| s.contains("generation 1"))
        {
            tokio::task::yield_now().await;
        }
        for r in [&cache, &reader, &writer] {
            println!("  {}", r.ask(Hello).await.expect("served"));
        }
        for c in pipe.which_children().await.expect("which_children") {
            println!("  pipeline child {:<7} {:?} {}", c.id, c.status, c.actor);
        }
        println!("restarts on this node: {}", node.stats().restarts);
        app.shutdown().await;
    });
}
