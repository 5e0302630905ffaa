//! Shared test actors and the paused-time harness for the supervision tests.
#![allow(dead_code, missing_debug_implementations)]

use actix::prelude::*;
use arbour::{ContextExt, ExitReason, Node};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs a test on a current-thread runtime with paused tokio time inside a
/// `LocalSet`: no actix `System`, no OS clock.
pub fn run<F, Fut>(f: F) -> Fut::Output
where
    F: FnOnce(Node) -> Fut,
    Fut: Future,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let node = Node::builder("test").rng_seed(1).incarnation(1).build();
    tokio::task::LocalSet::new().block_on(&rt, f(node))
}

/// Awaits `f` within [`VIRTUAL_LIMIT`](arbour_tests::VIRTUAL_LIMIT) of
/// virtual time (these tests run under paused time), or fails the test.
pub async fn within<T>(what: &str, f: impl std::future::IntoFuture<Output = T>) -> T {
    arbour_tests::bounded_for(arbour_tests::VIRTUAL_LIMIT, what, f).await
}

/// Returns once nothing else can run: under paused time a timer fires only
/// when every task is idle (tokio then advances the clock to it), so this
/// is a real quiescence point, not a guess at how many yields are enough.
/// It moves virtual time by 1 ms.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// An ordered record of lifecycle events across actors.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().expect("log").push(s.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
    pub fn snapshot(&self) -> Vec<String> {
        self.0.lock().expect("log").clone()
    }
}

/// A worker that logs `start:<name>` / `stop:<name>` and obeys test messages.
pub struct Worker {
    pub name: String,
    pub log: Log,
    pub instance: u32,
    /// If set, `stopping` refuses to stop (to test shutdown timeouts).
    pub stubborn: bool,
}

impl Worker {
    /// A factory for a child spec: each call is a new instance, numbered.
    pub fn factory(name: &str, log: &Log) -> impl Fn() -> Worker + Send + Sync + 'static {
        let name = name.to_owned();
        let log = log.clone();
        let counter = Arc::new(AtomicU32::new(0));
        move || Worker {
            name: name.clone(),
            log: log.clone(),
            instance: counter.fetch_add(1, Ordering::SeqCst) + 1,
            stubborn: false,
        }
    }
}

impl Actor for Worker {
    type Context = Context<Self>;
    fn started(&mut self, _: &mut Context<Self>) {
        self.log.push(format!("start:{}", self.name));
    }
    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if self.stubborn {
            return Running::Continue;
        }
        Running::Stop
    }
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push(format!("stop:{}", self.name));
    }
}

/// Replies with the instance number.
#[derive(Debug, Message)]
#[rtype(result = "u32")]
pub struct Which;
impl Handler<Which> for Worker {
    type Result = u32;
    fn handle(&mut self, _: Which, _: &mut Context<Self>) -> u32 {
        self.instance
    }
}

/// Panics in the handler.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;
impl Handler<Crash> for Worker {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("{} crashed on purpose", self.name);
    }
}

/// Panics inside an async handler, after an await.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CrashLater;
impl Handler<CrashLater> for Worker {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: CrashLater, _: &mut Context<Self>) -> Self::Result {
        Box::pin(
            async { tokio::time::sleep(Duration::from_millis(10)).await }
                .into_actor(self)
                .map(|_, act, _| panic!("{} crashed in an async handler", act.name)),
        )
    }
}

/// Stops with the given reason.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Exit(pub ExitReason);
impl Handler<Exit> for Worker {
    type Result = ();
    fn handle(&mut self, Exit(r): Exit, ctx: &mut Context<Self>) {
        ctx.stop_with(r);
    }
}

/// Makes `stopping` refuse to stop from now on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BeStubborn;
impl Handler<BeStubborn> for Worker {
    type Result = ();
    fn handle(&mut self, _: BeStubborn, _: &mut Context<Self>) {
        self.stubborn = true;
    }
}

/// Sleeps (virtual time) before replying.
#[derive(Message)]
#[rtype(result = "u32")]
pub struct Slow(pub Duration);
impl Handler<Slow> for Worker {
    type Result = ResponseActFuture<Self, u32>;
    fn handle(&mut self, Slow(d): Slow, _: &mut Context<Self>) -> Self::Result {
        Box::pin(
            async move { tokio::time::sleep(d).await }
                .into_actor(self)
                .map(|_, act, _| act.instance),
        )
    }
}

/// Waits (bounded, virtual time) until `w` answers as instance `n`.
pub async fn until_instance(w: &arbour::ActorRef<Worker>, n: u32) {
    within(&format!("instance {n}"), async {
        while w.ask(Which).await != Ok(n) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// Waits (bounded, virtual time) until an instance runs behind `r`.
pub async fn until_alive<A: Actor<Context = Context<A>>>(r: &arbour::ActorRef<A>) {
    within("a running instance", async {
        while !r.is_alive() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
