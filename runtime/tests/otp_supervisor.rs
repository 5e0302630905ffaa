//! Erlang/OTP's `supervisor` reference manual, rule by rule: each test is
//! named for what the manual says, and checks arbour does the same.

mod common;

use arbour::supervision::decision::ChildStatus;
use arbour::{AutoShutdown, Backoff, ChildSpec, Restart, SupervisorError, SupervisorSpec};
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn worker(id: &str, log: &Log) -> ChildSpec {
    ChildSpec::worker(id, Worker::factory(id, log))
}

/// The template "w" of a `simple_one_for_one` supervisor: child `n` is a
/// worker named `w<n>`.
fn numbered(log: &Log) -> ChildSpec {
    let l = log.clone();
    ChildSpec::template("w", move |n: u32| {
        Ok::<_, String>(Worker::factory(&format!("w{n}"), &l)())
    })
}

async fn ids(sup: &arbour::SupervisorRef) -> Vec<String> {
    let children = within("which_children", sup.which_children()).await;
    children
        .expect("which_children")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

async fn statuses(sup: &arbour::SupervisorRef) -> Vec<(String, ChildStatus)> {
    let children = within("which_children", sup.which_children()).await;
    children
        .expect("which_children")
        .into_iter()
        .map(|c| (c.id, c.status))
        .collect()
}

#[test]
fn which_children_lists_the_newest_child_first() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(10)
            .child(worker("a", &log))
            .child(worker("b", &log))
            .child(worker("c", &log))
            .start(&node)
            .await
            .expect("start");
        assert_eq!(ids(&sup).await, ["c", "b", "a"]);
        // a child restarted in place keeps its position
        let b = sup.child::<Worker>("b").expect("b");
        b.tell(Crash);
        until_instance(&b, 2).await;
        assert_eq!(ids(&sup).await, ["c", "b", "a"]);
        // a child added later comes first; a temporary one added again after
        // it went goes to the front again
        let t = || worker("t", &log).restart(Restart::Temporary);
        sup.start_child(t()).await.expect("t");
        assert_eq!(ids(&sup).await, ["t", "c", "b", "a"]);
        sup.start_child(worker("d", &log)).await.expect("d");
        assert_eq!(ids(&sup).await, ["d", "t", "c", "b", "a"]);
        sup.terminate_child("t").await.expect("terminate t");
        assert_eq!(
            ids(&sup).await,
            ["d", "c", "b", "a"],
            "a temporary child's spec goes"
        );
        sup.start_child(t()).await.expect("t again");
        assert_eq!(ids(&sup).await, ["t", "d", "c", "b", "a"]);
    });
}

#[test]
fn count_children_of_a_simple_one_for_one_supervisor_counts_its_one_spec() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::simple_one_for_one(numbered(&log))
            .start(&node)
            .await
            .expect("start");
        let n = sup.count_children().await.expect("count");
        assert_eq!((n.specs, n.active, n.supervisors, n.workers), (1, 0, 0, 0));
        for i in 0..3 {
            sup.start_dynamic::<Worker, u32>(i).await.expect("child");
        }
        let n = sup.count_children().await.expect("count");
        assert_eq!((n.specs, n.active, n.supervisors, n.workers), (1, 3, 0, 3));
    });
}

#[test]
fn terminating_a_dynamic_child_that_has_already_terminated_returns_ok() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::simple_one_for_one(numbered(&log).restart(Restart::Temporary))
            .start(&node)
            .await
            .expect("start");
        let w = sup.start_dynamic::<Worker, u32>(1).await.expect("child");
        let exited = w.exited();
        w.tell(Exit(arbour::ExitReason::Normal));
        within("exit", exited).await;
        settle().await;
        assert!(ids(&sup).await.is_empty(), "a temporary child's spec goes");
        assert_eq!(sup.terminate_child("w-1").await, Ok(()));
        // an id that never named a dynamic child: OTP's
        // {error, simple_one_for_one}
        assert_eq!(
            sup.terminate_child("w-9").await,
            Err(SupervisorError::WrongStrategy)
        );
    });
}

#[test]
fn simple_one_for_one_with_auto_shutdown_is_a_bad_combination() {
    for auto in [AutoShutdown::AnySignificant, AutoShutdown::AllSignificant] {
        let spec = SupervisorSpec::simple_one_for_one(ChildSpec::template("w", |n: u32| {
            Ok::<_, String>(Worker::factory(&format!("w{n}"), &Log::default())())
        }))
        .auto_shutdown(auto);
        assert!(
            matches!(spec.validate(), Err(SupervisorError::BadCombination(ref m)) if m.contains("simple_one_for_one")),
            "{auto:?}: {:?}",
            spec.validate()
        );
    }
}

#[test]
fn a_significant_child_without_auto_shutdown_is_refused_before_a_significant_permanent_one() {
    let log = Log::default();
    let spec = SupervisorSpec::one_for_one().child(worker("p", &log).significant(true));
    assert_eq!(
        spec.validate(),
        Err(SupervisorError::SignificantWithoutAutoShutdown("p".into())),
        "OTP checks auto_shutdown first"
    );
    let spec = SupervisorSpec::one_for_one()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(worker("p", &log).significant(true));
    assert_eq!(
        spec.validate(),
        Err(SupervisorError::SignificantPermanent("p".into()))
    );
}

#[test]
fn a_temporary_childs_start_arguments_are_dropped_once_it_has_started() {
    run(|node| async move {
        let log = Log::default();
        let arg = Arc::new(());
        let make = |restart| {
            let l = log.clone();
            ChildSpec::template("w", move |_arg: Arc<()>| {
                Ok::<_, String>(Worker::factory("w", &l)())
            })
            .restart(restart)
        };
        let temporary = SupervisorSpec::simple_one_for_one(make(Restart::Temporary))
            .start(&node)
            .await
            .expect("start");
        for _ in 0..100 {
            temporary
                .start_dynamic::<Worker, Arc<()>>(arg.clone())
                .await
                .expect("child");
        }
        assert_eq!(
            Arc::strong_count(&arg),
            1,
            "nothing kept per temporary child"
        );
        // a permanent child keeps its arguments: a restart needs them
        let permanent = SupervisorSpec::simple_one_for_one(make(Restart::Permanent))
            .start(&node)
            .await
            .expect("start");
        for _ in 0..100 {
            permanent
                .start_dynamic::<Worker, Arc<()>>(arg.clone())
                .await
                .expect("child");
        }
        assert_eq!(Arc::strong_count(&arg), 101);
        drop(permanent);
        // a static temporary child keeps nothing either
        let a = Arc::new(());
        let (kept, l) = (a.clone(), log.clone());
        let sup = SupervisorSpec::one_for_one()
            .child(
                ChildSpec::worker("t", move || {
                    let _arg = &kept;
                    Worker::factory("t", &l)()
                })
                .restart(Restart::Temporary),
            )
            .start(&node)
            .await
            .expect("start");
        assert_eq!(Arc::strong_count(&a), 1);
        drop(sup);
    });
}

/// c1, c2, c3 under `rest_for_one`; c2 crashes and every restart of c2
/// fails. Only c2 is restarting; c3 is not running. `terminate_child(c2)`
/// ends the restart loop, and c3 stays not running.
#[test]
fn a_rest_for_one_restart_loop_marks_only_the_failing_child_restarting() {
    for backoff in [None, Some(Duration::from_millis(500))] {
        run(|node| async move {
            let log = Log::default();
            let broken = Arc::new(AtomicBool::new(false));
            let b = broken.clone();
            let l = log.clone();
            let mut spec = SupervisorSpec::rest_for_one()
                .intensity(1_000)
                .period(Duration::from_secs(3600))
                .child(worker("c1", &log))
                .child(ChildSpec::try_worker("c2", move || {
                    if b.load(Ordering::SeqCst) {
                        Err("c2 cannot start")
                    } else {
                        Ok(Worker::factory("c2", &l)())
                    }
                }))
                .child(worker("c3", &log));
            // retries of a failed start are paced by the backoff; with
            // none, every retry of the loop is its own supervisor turn
            spec = spec.backoff(Backoff {
                min: backoff.unwrap_or(Duration::from_millis(1)),
                max: Duration::from_secs(1),
                jitter: 0.0,
                reset_after: Duration::from_secs(3600),
            });
            let sup = spec.start(&node).await.expect("start");
            broken.store(true, Ordering::SeqCst);
            let c2 = sup.child::<Worker>("c2").expect("c2");
            let exited = c2.exited();
            c2.tell(Crash);
            within("c2 exits", exited).await;
            settle().await;
            let st = statuses(&sup).await;
            assert_eq!(
                st,
                [
                    ("c3".to_string(), ChildStatus::Stopped),
                    ("c2".to_string(), ChildStatus::Restarting),
                    ("c1".to_string(), ChildStatus::Running),
                ],
                "backoff {backoff:?}"
            );
            within("terminate c2", sup.terminate_child("c2"))
                .await
                .expect("terminate");
            // let any pending (delayed) start come due
            tokio::time::sleep(Duration::from_secs(5)).await;
            let st = statuses(&sup).await;
            assert_eq!(
                st,
                [
                    ("c3".to_string(), ChildStatus::Stopped),
                    ("c2".to_string(), ChildStatus::Stopped),
                    ("c1".to_string(), ChildStatus::Running),
                ],
                "backoff {backoff:?}"
            );
            assert!(sup.is_alive());
        });
    }
}

#[test]
fn a_start_function_may_return_ignore() {
    run(|node| async move {
        let log = Log::default();
        let ready = Arc::new(AtomicBool::new(false));
        let (r, l) = (ready.clone(), log.clone());
        let sup = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker_or_ignore("p", move || {
                Ok::<_, String>(r.load(Ordering::SeqCst).then(|| Worker::factory("p", &l)()))
            }))
            .start(&node)
            .await
            .expect("an ignored child does not fail the start");
        // a permanent child that was ignored keeps its spec, not running
        assert_eq!(
            statuses(&sup).await,
            [("p".to_string(), ChildStatus::Stopped)]
        );
        ready.store(true, Ordering::SeqCst);
        sup.restart_child("p").await.expect("restart");
        assert_eq!(
            statuses(&sup).await,
            [("p".to_string(), ChildStatus::Running)]
        );
        // an ignored temporary child keeps nothing; start_child still succeeds
        let t = ChildSpec::worker_or_ignore("t", || Ok::<Option<Worker>, String>(None))
            .restart(Restart::Temporary);
        assert_eq!(sup.start_child(t).await, Ok(()));
        assert_eq!(ids(&sup).await, ["p"]);
        assert_eq!(log.take(), ["start:p"]);
    });
}

#[test]
fn a_supervisor_stopped_with_a_reason_exits_with_that_reason() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(worker("a", &log))
            .child(worker("b", &log))
            .start(&node)
            .await
            .expect("start");
        log.take();
        let reason = within("stop", sup.stop(arbour::ExitReason::Normal)).await;
        assert_eq!(reason, arbour::ExitReason::Normal);
        assert_eq!(log.take(), ["stop:b", "stop:a"]);
    });
}

#[test]
fn shutdown_with_info_is_treated_exactly_as_shutdown() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(worker("w", &log).restart(Restart::Transient))
            .child(
                worker("s", &log)
                    .restart(Restart::Transient)
                    .significant(true),
            )
            .start(&node)
            .await
            .expect("start");
        log.take();
        let info = arbour::ExitReason::ShutdownWith("drained".into());
        assert!(info.is_normal());
        // a transient child is not restarted after it
        let w = sup.child::<Worker>("w").expect("w");
        let exited = w.exited();
        w.tell(Exit(info.clone()));
        assert_eq!(within("w exits", exited).await, info);
        settle().await;
        assert_eq!(
            statuses(&sup).await[1],
            ("w".to_string(), ChildStatus::Stopped)
        );
        // a significant child's exit with it shuts the supervisor down
        let down = sup.exited();
        sup.child::<Worker>("s").expect("s").tell(Exit(info));
        assert_eq!(
            within("auto shutdown", down).await,
            arbour::ExitReason::Shutdown
        );
        assert!(
            log.take().iter().all(|l| !l.starts_with("start:")),
            "nothing restarted"
        );
    });
}

#[test]
fn which_child_and_get_childspec_take_an_id_or_a_ref() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(worker("a", &log))
            .child(worker("b", &log).restart(Restart::Transient))
            .start(&node)
            .await
            .expect("start");
        let b = sup.child::<Worker>("b").expect("b");
        let by_id = sup.which_child("b").await.expect("by id");
        let by_ref = sup.which_child(&b).await.expect("by ref");
        assert_eq!(by_id, by_ref);
        assert_eq!((by_id.id.as_str(), &by_id.actor), ("b", b.id()));
        let spec = sup.get_childspec(&b).await.expect("spec");
        assert_eq!(spec.id, "b");
        assert_eq!(spec.restart, Restart::Transient);
        assert!(!spec.significant);
        assert_eq!(
            sup.get_childspec("zz").await,
            Err(SupervisorError::NotFound("zz".into()))
        );
    });
}

#[test]
fn a_dynamic_child_is_terminated_by_its_ref() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::simple_one_for_one(numbered(&log))
            .start(&node)
            .await
            .expect("start");
        let one = sup.start_dynamic::<Worker, u32>(1).await.expect("one");
        let two = sup.start_dynamic::<Worker, u32>(2).await.expect("two");
        sup.terminate_child(&one).await.expect("terminate by ref");
        assert!(!one.is_alive() && two.is_alive());
        assert_eq!(sup.count_children().await.expect("count").active, 1);
        // again: it has already terminated, which is ok
        assert_eq!(sup.terminate_child(&one).await, Ok(()));
        // a live actor that is not a child of this supervisor is not found
        let stranger = node.spawn(Worker::factory("x", &log)());
        assert!(matches!(
            sup.terminate_child(&stranger).await,
            Err(SupervisorError::NotFound(_))
        ));
    });
}

#[test]
fn a_simple_one_for_one_template_may_make_supervisors() {
    run(|node| async move {
        let log = Log::default();
        let l = log.clone();
        let pools = SupervisorSpec::simple_one_for_one(ChildSpec::supervisor_template(
            "pool",
            move |name: String| {
                SupervisorSpec::one_for_one().child(worker(&format!("{name}-w"), &l))
            },
        ))
        .start(&node)
        .await
        .expect("start");
        let a = pools
            .start_dynamic_supervisor("a".to_string())
            .await
            .expect("pool a");
        let b = pools
            .start_dynamic_supervisor("b".to_string())
            .await
            .expect("pool b");
        assert_eq!(log.take(), ["start:a-w", "start:b-w"]);
        let n = pools.count_children().await.expect("count");
        assert_eq!((n.specs, n.active, n.supervisors, n.workers), (1, 2, 2, 0));
        // each is a supervisor of its own
        assert!(a.child::<Worker>("a-w").is_some() && b.child::<Worker>("b-w").is_some());
        assert_eq!(
            pools
                .start_dynamic::<Worker, String>("c".into())
                .await
                .err(),
            Some(SupervisorError::WrongArgs),
            "a supervisor template's child is a supervisor"
        );
    });
}

#[test]
fn a_supervisors_init_may_fail_or_return_ignore_and_the_caller_is_told_which() {
    run(|node| async move {
        let log = Log::default();
        let failed =
            SupervisorSpec::start_init(&node, || Err::<Option<SupervisorSpec>, _>("no config"));
        assert_eq!(
            failed.await.err(),
            Some(SupervisorError::Init("no config".into()))
        );
        let ignored = SupervisorSpec::start_init(&node, || Ok::<_, String>(None)).await;
        assert!(matches!(ignored, Ok(None)));
        let l = log.clone();
        let started = SupervisorSpec::start_init(&node, move || {
            Ok::<_, String>(Some(SupervisorSpec::one_for_one().child(worker("w", &l))))
        })
        .await;
        assert!(matches!(started, Ok(Some(_))));
        // nested: an ignoring child supervisor stays stopped, keeping its
        // spec; a failing one fails its parent's start
        let parent = SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor_init("quiet", || {
                Ok::<Option<SupervisorSpec>, String>(None)
            }))
            .start(&node)
            .await
            .expect("parent");
        assert_eq!(
            statuses(&parent).await,
            [("quiet".to_string(), ChildStatus::Stopped)]
        );
        let broken = SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor_init("broken", || {
                Err::<Option<SupervisorSpec>, _>("bad flags")
            }))
            .start(&node)
            .await;
        assert!(
            matches!(&broken, Err(SupervisorError::StartChild { id, .. }) if id == "broken"),
            "{broken:?}"
        );
    });
}

/// A monitor is per instance and fires once; `exits()` follows the child
/// behind a supervised ref through its restarts, from any task.
#[test]
fn exits_reports_every_exit_of_a_supervised_child_until_it_is_gone() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(10)
            .child(worker("w", &log).restart(Restart::Transient))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("w").expect("w");
        let mut exits = w.exits();
        let watcher = tokio::task::spawn_local(async move {
            let mut seen = Vec::new();
            while let Some(reason) = exits.next().await {
                seen.push(reason);
            }
            seen
        });
        for n in 2..=3 {
            w.tell(Crash);
            until_instance(&w, n).await;
        }
        w.tell(Exit(arbour::ExitReason::Normal));
        settle().await;
        sup.delete_child("w").await.expect("delete");
        let seen = within("the exits", watcher).await.expect("watcher");
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(matches!(seen[0], arbour::ExitReason::Panic(_)));
        assert!(matches!(seen[1], arbour::ExitReason::Panic(_)));
        assert_eq!(seen[2], arbour::ExitReason::Normal);
    });
}

#[test]
fn a_crashing_init_is_an_error_for_the_caller_who_lives_on() {
    // OTP: start_link returns {error, {Reason, Stack}} and the caller lives
    run(|node| async move {
        let crashed =
            SupervisorSpec::start_init(&node, || -> Result<Option<SupervisorSpec>, String> {
                panic!("init blew up")
            })
            .await;
        assert!(
            matches!(&crashed, Err(SupervisorError::Init(m))
                if m.contains("init panicked: init blew up") && m.contains("otp_supervisor.rs:")),
            "{crashed:?}"
        );
        // the caller (this task) goes on, and so does the node
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(worker("after", &log))
            .start(&node)
            .await
            .expect("a later start");
        assert!(sup.is_alive());
    });
}

#[test]
fn simple_one_for_one_children_are_named_by_ref_not_by_id() {
    // OTP: terminate_child and which_child with an id on a
    // simple_one_for_one supervisor are {error, simple_one_for_one}
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::simple_one_for_one(numbered(&log))
            .start(&node)
            .await
            .expect("start");
        let one = sup.start_dynamic::<Worker, u32>(1).await.expect("one");
        for id in ["w", "child1", "w-9"] {
            assert_eq!(
                sup.terminate_child(id).await,
                Err(SupervisorError::WrongStrategy),
                "terminate_child({id:?})"
            );
            assert_eq!(
                sup.which_child(id).await.err(),
                Some(SupervisorError::WrongStrategy),
                "which_child({id:?})"
            );
        }
        assert!(one.is_alive(), "no id stopped the child");
        // by ref, as in OTP
        let info = sup.which_child(&one).await.expect("which by ref");
        assert_eq!(&info.actor, one.id());
        // arbour's own TEMPLATE-N id of a dynamic child is accepted
        assert_eq!(
            sup.which_child("w-1").await.expect("by its id").actor,
            *one.id()
        );
        sup.terminate_child(&one).await.expect("terminate by ref");
        assert!(!one.is_alive());
    });
}

#[test]
fn a_static_child_may_be_terminated_by_its_ref_an_extension_of_otp() {
    // OTP answers {error, not_found} (a pid changes at every restart, so
    // static children are named by id); an arbour ref survives restarts
    // and names the child as its id does, so arbour accepts it: the child
    // stops, its spec stays, and restart_child starts it again behind the
    // same ref
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(worker("a", &log))
            .child(worker("b", &log))
            .start(&node)
            .await
            .expect("start");
        let b = sup.child::<Worker>("b").expect("b");
        sup.terminate_child(&b).await.expect("terminate by ref");
        assert!(!b.is_alive());
        assert_eq!(
            statuses(&sup).await,
            [
                ("b".to_string(), ChildStatus::Stopped),
                ("a".to_string(), ChildStatus::Running)
            ]
        );
        sup.restart_child("b").await.expect("restart");
        until_alive(&b).await;
        assert_eq!(within("b answers", b.ask(Which)).await, Ok(2));
        // a ref that is no child of this supervisor is not found
        let stranger = node.spawn(Worker::factory("x", &log)());
        assert!(matches!(
            sup.terminate_child(&stranger).await,
            Err(SupervisorError::NotFound(_))
        ));
    });
}
