//! A panic in any handler form actix offers is the actor's panic: the asker
//! is told `Panicked` with the text, the exit reason is `Panic` with the
//! location, and the supervisor restarts the child. actix runs two forms
//! (`ResponseFuture`, `Response::fut`) as tasks beside the actor; arbour
//! polls them with the actor, so they are covered too.

use super::*;
use actix::prelude::*;
use arbour::{AskError, ChildSpec, ExitReason, SupervisorSpec};
use std::future::IntoFuture;
use std::time::Duration;

/// A worker with one handler of each form, each of which panics.
struct Forms {
    instance: u32,
}

impl Actor for Forms {
    type Context = Context<Self>;
}

fn forms() -> impl Fn() -> Forms + Send + Sync + 'static {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    move || Forms {
        instance: n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Instance;
impl Handler<Instance> for Forms {
    type Result = u32;
    fn handle(&mut self, _: Instance, _: &mut Context<Self>) -> u32 {
        self.instance
    }
}

async fn later() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Plain;
impl Handler<Plain> for Forms {
    type Result = u32;
    fn handle(&mut self, _: Plain, _: &mut Context<Self>) -> u32 {
        panic!("sync form panicked")
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Deferred;
impl Handler<Deferred> for Forms {
    type Result = ResponseFuture<u32>;
    fn handle(&mut self, _: Deferred, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async {
            later().await;
            panic!("ResponseFuture form panicked")
        })
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct FutureAtOnce;
impl Handler<FutureAtOnce> for Forms {
    type Result = ResponseFuture<u32>;
    fn handle(&mut self, _: FutureAtOnce, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async { panic!("ResponseFuture form panicked at its first poll") })
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct ActFuture;
impl Handler<ActFuture> for Forms {
    type Result = ResponseActFuture<Self, u32>;
    fn handle(&mut self, _: ActFuture, _: &mut Context<Self>) -> Self::Result {
        Box::pin(
            later()
                .into_actor(self)
                .map(|_, _, _| panic!("ResponseActFuture form panicked")),
        )
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Atomic;
impl Handler<Atomic> for Forms {
    type Result = AtomicResponse<Self, u32>;
    fn handle(&mut self, _: Atomic, _: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(
            later()
                .into_actor(self)
                .map(|_, _, _| panic!("AtomicResponse form panicked")),
        ))
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Boxed;
impl Handler<Boxed> for Forms {
    type Result = Response<u32>;
    fn handle(&mut self, _: Boxed, _: &mut Context<Self>) -> Self::Result {
        Response::fut(async {
            later().await;
            panic!("Response::fut form panicked")
        })
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Either;
impl Handler<Either> for Forms {
    type Result = ActorResponse<Self, u32>;
    fn handle(&mut self, _: Either, _: &mut Context<Self>) -> Self::Result {
        ActorResponse::r#async(
            later()
                .into_actor(self)
                .map(|_, _, _| panic!("ActorResponse form panicked")),
        )
    }
}

/// Asks `msg` of a supervised `Forms`; checks the asker's error (when the
/// panic ends the ask), the exit reason and the restart.
async fn panics_and_restarts<M>(node: arbour::Node, msg: M, text: &str, asker_sees_it: bool)
where
    Forms: Handler<M>,
    M: Message<Result = u32> + Send + 'static,
{
    let sup = SupervisorSpec::one_for_one()
        .intensity(5)
        .child(ChildSpec::worker("f", forms()))
        .start(&node)
        .await
        .expect("start");
    let f = sup.child::<Forms>("f").expect("child");
    assert_eq!(
        within("first instance", f.ask::<Instance>(Instance)).await,
        Ok(1)
    );
    let exited = f.exited();
    let r = within("ask", f.ask(msg)).await;
    if asker_sees_it {
        assert!(
            matches!(&r, Err(AskError::Panicked(m)) if m.contains(text)),
            "the asker is told of the panic ({text}): {r:?}"
        );
    }
    let reason = within("exit", exited).await;
    assert!(
        matches!(&reason, ExitReason::Panic(m) if m.contains(text) && m.contains("supervisor/panics.rs:")),
        "exit reason with text and location ({text}): {reason:?}"
    );
    assert_eq!(
        within("restarted", f.ask::<Instance>(Instance)).await,
        Ok(2),
        "the supervisor restarted it"
    );
    assert_eq!(
        sup.count_children().await.expect("count").active,
        1,
        "the pool is whole again"
    );
}

#[test]
fn a_sync_handler_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, Plain, "sync form panicked", true));
}

#[test]
fn a_response_future_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, Deferred, "ResponseFuture form panicked", true));
}

#[test]
fn a_response_future_panic_at_its_first_poll_is_the_actors() {
    run(|node| panics_and_restarts(node, FutureAtOnce, "at its first poll", true));
}

#[test]
fn a_response_act_future_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, ActFuture, "ResponseActFuture form panicked", true));
}

#[test]
fn an_atomic_response_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, Atomic, "AtomicResponse form panicked", true));
}

#[test]
fn a_boxed_response_future_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, Boxed, "Response::fut form panicked", true));
}

#[test]
fn an_actor_response_future_panic_is_the_actors() {
    run(|node| panics_and_restarts(node, Either, "ActorResponse form panicked", true));
}

/// What a handler spawned outlives the actor when it stops normally (as in
/// actix), and its reply still arrives.
#[derive(Message)]
#[rtype(result = "u32")]
struct ReplyThenStop;
impl Handler<ReplyThenStop> for Forms {
    type Result = ResponseFuture<u32>;
    fn handle(&mut self, _: ReplyThenStop, ctx: &mut Context<Self>) -> Self::Result {
        ctx.stop();
        Box::pin(async {
            later().await;
            7
        })
    }
}

#[test]
fn a_response_future_still_replies_after_its_actor_stopped() {
    run(|node| async move {
        let f = node.spawn(Forms { instance: 1 });
        let exited = f.exited();
        let (reason, reply) = within("exit and reply", async {
            tokio::join!(exited, f.ask(ReplyThenStop).into_future())
        })
        .await;
        assert_eq!(reason, ExitReason::Normal);
        assert_eq!(reply, Ok(7));
    });
}

#[test]
fn panics_in_async_handlers_are_caught_too() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("w").expect("w");
        let exited = w.exited();
        let r = within("ask", w.ask(CrashLater)).await;
        assert!(
            matches!(r, Err(arbour::AskError::Panicked(ref m)) if m.contains("async handler")),
            "{r:?}"
        );
        let reason = within("exit", exited).await;
        assert!(
            matches!(&reason, ExitReason::Panic(m) if m.contains("it/common.rs:")),
            "location recorded: {reason:?}"
        );
        assert_eq!(within("ask", w.ask(Which)).await, Ok(2));
    });
}
