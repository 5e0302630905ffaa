//! `ActorRef` semantics: tell/ask outcomes, full mailboxes, monitors, names,
//! and dispatch of wire-tagged messages (paused time, no actix `System`).

use crate::common::*;
use actix::prelude::*;
use arbour::{
    AskError, ChildSpec, Down, ExitReason, MessageTable, SpawnOptions, SupervisorSpec, TellError,
};
use serde::{Deserialize, Serialize};
use std::future::IntoFuture;
use std::time::Duration;

fn worker(node: &arbour::Node, name: &str, log: &Log) -> arbour::ActorRef<Worker> {
    node.spawn(Worker::factory(name, log)())
}

#[test]
fn ask_times_out_and_the_late_reply_is_dropped() {
    run(|node| async move {
        let w = worker(&node, "w", &Log::default());
        let r = w
            .ask(Slow(Duration::from_secs(10)))
            .timeout(Duration::from_secs(1))
            .await;
        assert_eq!(r, Err(AskError::Timeout(Duration::from_secs(1))));
        // the actor finishes the slow reply into the void and keeps serving
        assert_eq!(within("ask", w.ask(Which)).await, Ok(1));
    });
}

#[test]
fn default_ask_timeout_is_five_seconds() {
    run(|node| async move {
        let w = worker(&node, "w", &Log::default());
        let t0 = tokio::time::Instant::now();
        let r = w.ask(Slow(Duration::from_secs(60))).await;
        assert_eq!(r, Err(AskError::Timeout(Duration::from_secs(5))));
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
    });
}

#[test]
fn asks_pending_on_a_panicking_actor_fail_with_panicked() {
    run(|node| async move {
        let w = worker(&node, "w", &Log::default());
        let queued = w.ask(Which).into_future();
        let crash = w.ask(Crash).into_future();
        // Crash is handled after Which; a second Which queued behind Crash is lost.
        let lost = w.ask(Which).into_future();
        assert_eq!(within("which", queued).await, Ok(1));
        assert!(
            matches!(within("crash", crash).await, Err(AskError::Panicked(m)) if m.contains("crashed on purpose"))
        );
        assert!(matches!(
            within("lost", lost).await,
            Err(AskError::Panicked(_))
        ));
        assert_eq!(
            w.ask(Which).await,
            Err(AskError::ActorGone(ExitReason::NoActor))
        );
        assert_eq!(node.stats().panics, 1);
    });
}

#[test]
fn a_full_mailbox_is_the_callers_choice() {
    run(|node| async move {
        let w = node.spawn_with(
            SpawnOptions { mailbox: 4 },
            Worker::factory("w", &Log::default())(),
        );
        // Nothing runs until we yield, so the mailbox fills.
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..10 {
            match w.try_tell(Which) {
                Ok(()) => accepted += 1,
                Err(TellError::MailboxFull(Which)) => refused += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!((4..=5).contains(&accepted), "bounded: accepted {accepted}");
        assert_eq!(accepted + refused, 10);
        assert_eq!(
            w.ask(Which).await,
            Err(AskError::MailboxFull),
            "ask fails fast by default"
        );
        // waiting for room succeeds once the actor drains its mailbox
        assert_eq!(within("ask", w.ask(Which).wait_if_full()).await, Ok(1));
        within("tell_when_room", w.tell_when_room(Which))
            .await
            .expect("send waits for room");
    });
}

#[test]
fn tell_to_a_dead_actor_is_a_counted_dead_letter() {
    run(|node| async move {
        let w = worker(&node, "w", &Log::default());
        let exited = w.exited();
        w.tell(Exit(ExitReason::Normal));
        assert_eq!(within("exit", exited).await, ExitReason::Normal);
        w.tell(Which);
        assert!(matches!(w.try_tell(Which), Err(TellError::ActorGone(_))));
        assert_eq!(node.stats().dead_letters, 1);
        assert!(!w.is_alive());
    });
}

#[test]
fn tells_from_one_sender_arrive_in_order() {
    #[derive(Default)]
    struct Seq(Vec<u32>);
    impl Actor for Seq {
        type Context = Context<Self>;
    }
    #[derive(Debug, Message)]
    #[rtype(result = "()")]
    struct N(u32);
    impl Handler<N> for Seq {
        type Result = ();
        fn handle(&mut self, N(n): N, _: &mut Context<Self>) {
            self.0.push(n);
        }
    }
    #[derive(Message)]
    #[rtype(result = "Vec<u32>")]
    struct Get;
    impl Handler<Get> for Seq {
        type Result = MessageResult<Get>;
        fn handle(&mut self, _: Get, _: &mut Context<Self>) -> Self::Result {
            MessageResult(std::mem::take(&mut self.0))
        }
    }
    run(|node| async move {
        let s = node.spawn(Seq::default());
        for n in 0..10_000 {
            within("tell_when_room", s.tell_when_room(N(n)))
                .await
                .expect("queued");
        }
        let got = within("get", s.ask(Get).wait_if_full()).await.expect("get");
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn monitors_deliver_down_with_the_reason() {
    struct Watcher(Log);
    impl Actor for Watcher {
        type Context = Context<Self>;
    }
    impl Handler<Down> for Watcher {
        type Result = ();
        fn handle(&mut self, d: Down, _: &mut Context<Self>) {
            self.0.push(format!("down:{}:{}", d.id.local, d.reason));
        }
    }
    run(|node| async move {
        let log = Log::default();
        let watcher = Watcher(log.clone()).start();
        let w = worker(&node, "w", &Log::default());
        let local = w.id().local;
        let _m = w.monitor(watcher.clone().recipient());
        let cancelled = w.monitor(watcher.clone().recipient());
        assert!(w.demonitor(cancelled));
        w.tell(Crash);
        within("down", async {
            while log.snapshot().is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        settle().await;
        let got = log.take();
        assert_eq!(got.len(), 1, "demonitored monitor does not fire: {got:?}");
        assert!(
            got[0].starts_with(&format!("down:{local}:panic: w crashed on purpose")),
            "{got:?}"
        );
        // monitoring a dead actor gives NoActor at once (Erlang's noproc)
        let _late = w.monitor(watcher.recipient());
        within("noproc", async {
            while log.snapshot().is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert_eq!(log.take(), [format!("down:{local}:no actor")]);
    });
}

#[test]
fn a_registered_child_stays_reachable_by_name_across_restarts() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(5)
            .child(ChildSpec::worker("db", Worker::factory("db", &log)))
            .start(&node)
            .await
            .expect("start");
        let db = sup.child::<Worker>("db").expect("db");
        node.registry().register("db", &db).expect("register");
        let other = worker(&node, "x", &log);
        assert!(
            node.registry().register("db", &other).is_err(),
            "name taken"
        );
        let exited = db.exited();
        db.tell(Crash);
        within("crash", exited).await;
        let found = node
            .registry()
            .whereis::<Worker>("db")
            .expect("still registered");
        assert_eq!(within("ask", found.ask(Which).wait_if_full()).await, Ok(2));
        assert!(
            node.registry().whereis::<Seqless>("db").is_none(),
            "wrong type"
        );
        within("shutdown", sup.shutdown()).await;
        assert!(
            node.registry().whereis::<Worker>("db").is_none(),
            "freed when the child is gone"
        );
        assert_eq!(node.registry().registered(), Vec::<String>::new());
    });
}

struct Seqless;
impl Actor for Seqless {
    type Context = Context<Self>;
}

// ---- wire-tagged messages, dispatched locally today ----

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
struct Fib(u32);
arbour::remote_message!(Fib => "tests.fib.v1");

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "()")]
struct Note(String);
arbour::remote_message!(Note => "tests.note.v1");

#[derive(Default)]
struct FibWorker {
    notes: Vec<String>,
}
impl Actor for FibWorker {
    type Context = Context<Self>;
}
impl Handler<Fib> for FibWorker {
    type Result = u64;
    fn handle(&mut self, Fib(n): Fib, _: &mut Context<Self>) -> u64 {
        (0..n)
            .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
            .0
    }
}
impl Handler<Note> for FibWorker {
    type Result = ();
    fn handle(&mut self, Note(s): Note, _: &mut Context<Self>) {
        self.notes.push(s);
    }
}
arbour::remote_actor!(FibWorker { Fib, Note });

#[test]
fn wire_tagged_messages_dispatch_to_handlers_and_bad_input_is_an_error() {
    run(|node| async move {
        let table = MessageTable::<FibWorker>::for_actor().expect("table");
        let mut tags: Vec<_> = table.tags().collect();
        tags.sort();
        assert_eq!(tags, ["tests.fib.v1", "tests.note.v1"]);
        let w = node.spawn(FibWorker::default());
        let payload = arbour::wire::encode(&Fib(20)).expect("encode");
        let reply = table
            .dispatch_ask(&w, "tests.fib.v1", &payload, Duration::from_secs(1))
            .expect("dispatch");
        let bytes = within("reply", reply).await.expect("reply");
        assert_eq!(arbour::wire::decode::<u64>(&bytes), Ok(6765));
        table
            .dispatch_tell(
                &w,
                "tests.note.v1",
                &arbour::wire::encode(&Note("hi".into())).expect("encode"),
            )
            .expect("tell");

        let unknown = table
            .dispatch_ask(&w, "tests.nope.v1", &payload, Duration::from_secs(1))
            .err();
        assert_eq!(
            unknown.map(AskError::from),
            Some(AskError::UnknownMessage("tests.nope.v1".into()))
        );
        let garbage = table
            .dispatch_ask(
                &w,
                "tests.fib.v1",
                &[0xc1, 0xff, 0x00],
                Duration::from_secs(1),
            )
            .err();
        assert!(matches!(
            garbage.map(AskError::from),
            Some(AskError::Decode(_))
        ));
        let wrong_shape = arbour::wire::encode(&("not", "a", "fib")).expect("encode");
        assert!(table
            .dispatch_tell(&w, "tests.fib.v1", &wrong_shape)
            .is_err());
        // the actor still serves
        assert_eq!(within("ask", w.ask(Fib(10))).await, Ok(55));
    });
}

#[test]
fn duplicate_wire_tags_are_rejected() {
    #[derive(Message, Serialize, Deserialize)]
    #[rtype(result = "()")]
    struct Other;
    arbour::remote_message!(Other => "tests.fib.v1");
    struct Dup;
    impl Actor for Dup {
        type Context = Context<Self>;
    }
    impl Handler<Fib> for Dup {
        type Result = u64;
        fn handle(&mut self, _: Fib, _: &mut Context<Self>) -> u64 {
            0
        }
    }
    impl Handler<Other> for Dup {
        type Result = ();
        fn handle(&mut self, _: Other, _: &mut Context<Self>) {}
    }
    arbour::remote_actor!(Dup { Fib, Other });
    assert_eq!(
        MessageTable::<Dup>::for_actor().err(),
        Some(arbour::actor::DispatchError::DuplicateTag("tests.fib.v1"))
    );
}

#[test]
fn dropping_every_ref_does_not_stop_an_actor_as_in_erlang() {
    run(|node| async move {
        let log = Log::default();
        let w = worker(&node, "w", &log);
        let exited = w.exited();
        node.registry().register("w", &w).expect("register");
        drop(w);
        // no ref left outside the registry: the actor keeps running
        let still = tokio::time::timeout(Duration::from_secs(10), exited).await;
        assert!(
            still.is_err(),
            "the actor stopped when its refs were dropped"
        );
        let w = node
            .registry()
            .whereis::<Worker>("w")
            .expect("still registered");
        assert_eq!(within("ask", w.ask(Which)).await, Ok(1));
        let exited = w.exited();
        w.stop();
        assert_eq!(within("stop", exited).await, ExitReason::Shutdown);
        assert_eq!(log.take(), ["start:w", "stop:w"]);
    });
}

/// Counts the tells it handles, in order.
#[derive(Default)]
struct Counter {
    seen: u64,
    out_of_order: u64,
    /// Where to leave `seen` when the actor stops.
    on_stop: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}
impl Actor for Counter {
    type Context = Context<Self>;
    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(out) = &self.on_stop {
            out.store(self.seen, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
#[derive(Message)]
#[rtype(result = "()")]
struct Seq(u64);
impl Handler<Seq> for Counter {
    type Result = ();
    fn handle(&mut self, Seq(n): Seq, _: &mut Context<Self>) {
        if n != self.seen {
            self.out_of_order += 1;
        }
        self.seen += 1;
    }
}
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
struct Seen;
impl Handler<Seen> for Counter {
    type Result = MessageResult<Seen>;
    fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.seen, self.out_of_order))
    }
}

#[test]
fn a_plain_tell_is_queued_past_the_mailbox_capacity() {
    run(|node| async move {
        let bounded = node.spawn_with(SpawnOptions { mailbox: 8 }, Counter::default());
        let unbounded = node.spawn_with(SpawnOptions::UNBOUNDED, Counter::default());
        // nothing runs until we yield: 5,000 tells pile up in each mailbox
        for n in 0..5_000 {
            bounded.tell(Seq(n));
            unbounded.tell(Seq(n));
        }
        // the capacity still tells a sender that can wait or take it back
        // (actix lets one sender past the capacity before it parks it)
        let mut taken = 0;
        while bounded.try_tell(Seq(5_000 + taken)).is_ok() {
            taken += 1;
            assert!(taken <= 1, "try_tell past a full mailbox");
        }
        assert!(unbounded.try_tell(Seq(5_000)).is_ok());
        let seen = within("ask", bounded.ask(Seen).wait_if_full()).await;
        assert_eq!(seen, Ok((5_000 + taken, 0)), "every tell handled, in order");
        assert_eq!(within("ask", unbounded.ask(Seen)).await, Ok((5_001, 0)));
        let stats = node.stats();
        assert_eq!((stats.mailbox_full_drops, stats.outbound_drops), (0, 0));
    });
}

#[test]
fn a_stop_is_handled_after_the_tells_sent_before_it() {
    run(|node| async move {
        let last = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = node.spawn(Counter {
            on_stop: Some(last.clone()),
            ..Counter::default()
        });
        for n in 0..10_000 {
            c.tell(Seq(n));
        }
        let exited = c.exited();
        c.stop();
        assert_eq!(within("stop", exited).await, ExitReason::Shutdown);
        assert_eq!(
            last.load(std::sync::atomic::Ordering::SeqCst),
            10_000,
            "every tell sent before the stop was handled"
        );
    });
}

#[test]
fn the_table_encodes_by_type_and_decodes_replies_as_a_remote_ask_will() {
    run(|node| async move {
        let table = MessageTable::<FibWorker>::for_actor().expect("table");
        let w = node.spawn(FibWorker::default());
        // the sending side: message → (tag, bytes)
        let (tag, payload) = table
            .encode(Fib(30))
            .expect("Fib is accepted from the wire");
        assert_eq!(tag, "tests.fib.v1");
        // the receiving side: (tag, bytes) → handler → reply bytes
        let reply = table
            .dispatch_ask(&w, tag, &payload, Duration::from_secs(1))
            .expect("dispatch");
        let bytes = within("reply", reply).await.expect("reply");
        // back at the sender: reply bytes → M::Result
        assert_eq!(table.decode_reply::<Fib>(&bytes), Ok(832_040));
        // a message the actor does not list is refused by type
        #[derive(Message, Serialize, Deserialize)]
        #[rtype(result = "()")]
        struct Undeclared;
        assert!(
            matches!(table.encode(Undeclared), Err(AskError::UnknownMessage(t)) if t.contains("Undeclared"))
        );
        assert!(matches!(
            table.decode_reply::<Fib>(&[0xc1]),
            Err(AskError::Decode(_))
        ));
    });
}

/// A node without workers of its own has one place to put actors; asking
/// for another worker says so instead of putting it here anyway.
#[test]
fn a_placement_on_a_worker_the_node_does_not_have_is_an_error() {
    run(|node| async move {
        let here = node
            .spawn_on_worker(arbour::WorkerPlacement::Worker(0), Counter::default)
            .await;
        assert!(here.expect("worker 0 is this thread").is_alive());
        let r = node
            .spawn_on_worker(arbour::WorkerPlacement::Worker(3), Counter::default)
            .await;
        assert!(
            matches!(
                &r,
                Err(arbour::NodeError::Workers(
                    arbour::WorkersError::NoSuchWorker(3, 1)
                ))
            ),
            "{r:?}"
        );
        let r = node
            .start_supervisor(
                arbour::WorkerPlacement::Worker(1),
                SupervisorSpec::one_for_one(),
            )
            .await;
        assert!(
            matches!(r, Err(arbour::SupervisorError::Placement(_))),
            "{r:?}"
        );
    });
}
