//! The OTP `supervisor` contract, exercised with real actix actors on a
//! paused-time current-thread runtime (intensity windows, backoff and
//! shutdown timeouts advance in virtual time).

mod common;

use arbour::supervision::decision::ChildStatus;
use arbour::{
    AutoShutdown, Backoff, ChildShutdown, ChildSpec, ExitReason, Restart, StartError, Strategy,
    SupervisorError, SupervisorSpec,
};
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn spec3(strategy: Strategy, log: &Log) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .intensity(10)
        .child(ChildSpec::worker("a", Worker::factory("a", log)))
        .child(ChildSpec::worker("b", Worker::factory("b", log)))
        .child(ChildSpec::worker("c", Worker::factory("c", log)))
}

#[test]
fn children_start_in_order_and_stop_in_reverse() {
    run(|node| async move {
        let log = Log::default();
        let sup = spec3(Strategy::OneForOne, &log)
            .start(&node)
            .await
            .expect("start");
        assert_eq!(log.take(), ["start:a", "start:b", "start:c"]);
        let reason = within("shutdown", sup.shutdown()).await;
        assert_eq!(reason, ExitReason::Shutdown);
        assert_eq!(log.take(), ["stop:c", "stop:b", "stop:a"]);
        assert!(!sup.is_alive());
    });
}

#[test]
fn one_for_one_restarts_only_the_failed_child() {
    run(|node| async move {
        let log = Log::default();
        let sup = spec3(Strategy::OneForOne, &log)
            .start(&node)
            .await
            .expect("start");
        log.take();
        let b = sup.child::<Worker>("b").expect("b");
        let exited = b.exited();
        b.tell(Crash);
        assert!(
            matches!(within("b exit", exited).await, ExitReason::Panic(m) if m.contains("b crashed on purpose"))
        );
        assert_eq!(
            within("ask b", b.ask(Which)).await,
            Ok(2),
            "same ref, new instance"
        );
        assert_eq!(
            log.take(),
            ["start:b"],
            "a panicked instance runs no stop hook"
        );
        let a = sup.child::<Worker>("a").expect("a");
        assert_eq!(
            within("ask a", a.ask(Which)).await,
            Ok(1),
            "sibling untouched"
        );
        assert_eq!(node.stats().restarts, 1);
        assert_eq!(node.stats().panics, 1);
    });
}

#[test]
fn one_for_all_restarts_everyone_in_order_after_stopping_in_reverse() {
    run(|node| async move {
        let log = Log::default();
        let sup = spec3(Strategy::OneForAll, &log)
            .start(&node)
            .await
            .expect("start");
        log.take();
        let b = sup.child::<Worker>("b").expect("b");
        b.tell(Crash);
        let c = sup.child::<Worker>("c").expect("c");
        until_instance(&c, 2).await;
        assert_eq!(
            log.take(),
            ["stop:c", "stop:a", "start:a", "start:b", "start:c"]
        );
    });
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    run(|node| async move {
        let log = Log::default();
        let sup = spec3(Strategy::RestForOne, &log)
            .start(&node)
            .await
            .expect("start");
        log.take();
        let b = sup.child::<Worker>("b").expect("b");
        b.tell(Crash);
        let c = sup.child::<Worker>("c").expect("c");
        until_instance(&c, 2).await;
        assert_eq!(log.take(), ["stop:c", "start:b", "start:c"]);
        let a = sup.child::<Worker>("a").expect("a");
        assert_eq!(a.ask(Which).await, Ok(1));
    });
}

#[test]
fn transient_child_is_restarted_only_after_an_abnormal_exit() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(5)
            .child(ChildSpec::worker("t", Worker::factory("t", &log)).restart(Restart::Transient))
            .start(&node)
            .await
            .expect("start");
        let t = sup.child::<Worker>("t").expect("t");
        let exited = t.exited();
        t.tell(Exit(ExitReason::Error("disk full".into())));
        assert_eq!(
            within("exit", exited).await,
            ExitReason::Error("disk full".into())
        );
        assert_eq!(
            within("ask", t.ask(Which)).await,
            Ok(2),
            "abnormal exit: restarted"
        );

        for normal in [ExitReason::Normal, ExitReason::Shutdown] {
            let exited = t.exited();
            t.tell(Exit(normal.clone()));
            assert_eq!(within("exit", exited).await, normal);
            settle().await;
            let kids = sup.which_children().await.expect("which");
            assert_eq!(
                kids[0].status,
                ChildStatus::Stopped,
                "normal exit: not restarted, spec kept"
            );
            sup.restart_child("t").await.expect("restart_child");
        }
    });
}

#[test]
fn temporary_child_is_never_restarted_and_its_spec_is_dropped() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(
                ChildSpec::worker("tmp", Worker::factory("tmp", &log)).restart(Restart::Temporary),
            )
            .child(ChildSpec::worker("p", Worker::factory("p", &log)))
            .start(&node)
            .await
            .expect("start");
        let tmp = sup.child::<Worker>("tmp").expect("tmp");
        let exited = tmp.exited();
        tmp.tell(Crash);
        within("exit", exited).await;
        settle().await;
        let ids: Vec<String> = sup
            .which_children()
            .await
            .expect("which")
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["p"]);
        assert!(sup.child::<Worker>("tmp").is_none());
        assert_eq!(
            tmp.ask(Which).await,
            Err(arbour::AskError::ActorGone(ExitReason::NoActor))
        );
        assert_eq!(node.stats().restarts, 0);
    });
}

#[test]
fn temporary_sibling_terminated_by_one_for_all_is_not_restarted() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_all()
            .intensity(5)
            .child(ChildSpec::worker("a", Worker::factory("a", &log)))
            .child(
                ChildSpec::worker("tmp", Worker::factory("tmp", &log)).restart(Restart::Temporary),
            )
            .start(&node)
            .await
            .expect("start");
        log.take();
        sup.child::<Worker>("a").expect("a").tell(Crash);
        let a = sup.child::<Worker>("a").expect("a");
        until_instance(&a, 2).await;
        assert_eq!(log.take(), ["stop:tmp", "start:a"]);
        assert_eq!(sup.count_children().await.expect("count").specs, 1);
    });
}

#[test]
fn exceeding_intensity_terminates_children_in_reverse_and_shuts_down() {
    run(|node| async move {
        let log = Log::default();
        let sup = spec3(Strategy::OneForOne, &log)
            .intensity(2)
            .period(Duration::from_secs(5))
            .start(&node)
            .await
            .expect("start");
        let sup_exit = sup.exited();
        let b = sup.child::<Worker>("b").expect("b");
        for n in 1..=2 {
            b.tell(Crash);
            until_instance(&b, n + 1).await;
        }
        log.take();
        b.tell(Crash); // third restart within 5 s: more than intensity 2
        assert_eq!(
            within("supervisor exit", sup_exit).await,
            ExitReason::Shutdown
        );
        assert_eq!(log.take(), ["stop:c", "stop:a"]);
        assert_eq!(node.stats().restarts, 2);
    });
}

#[test]
fn restarts_older_than_the_period_do_not_count() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(1)
            .period(Duration::from_secs(5))
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("w").expect("w");
        for n in 1..=5 {
            w.tell(Crash);
            until_instance(&w, n + 1).await;
            tokio::time::sleep(Duration::from_secs(6)).await; // outside the window
        }
        assert!(sup.is_alive());
        assert_eq!(node.stats().restarts, 5);
    });
}

#[test]
fn intensity_zero_shuts_down_on_the_first_restartable_exit() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(0)
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        let exit = sup.exited();
        sup.child::<Worker>("w").expect("w").tell(Crash);
        assert_eq!(within("exit", exit).await, ExitReason::Shutdown);
    });
}

#[test]
fn escalation_climbs_three_levels() {
    run(|node| async move {
        let log = Log::default();
        let leaf = SupervisorSpec::one_for_one()
            .name("leaf")
            .intensity(0)
            .child(ChildSpec::worker("w", Worker::factory("w", &log)));
        let mid = SupervisorSpec::one_for_one()
            .name("mid")
            .intensity(1)
            .child(ChildSpec::supervisor("leaf", leaf));
        let top = SupervisorSpec::one_for_one()
            .name("top")
            .intensity(1)
            .child(ChildSpec::supervisor("mid", mid))
            .start(&node)
            .await
            .expect("start");
        let top_exit = top.exited();
        let worker = || {
            top.child_supervisor("mid")
                .and_then(|m| m.child_supervisor("leaf"))
                .and_then(|l| l.child::<Worker>("w"))
        };
        let mut crashes = 0;
        let reason = within("top exit", async {
            loop {
                tokio::select! {
                    r = &mut Box::pin(top.exited()) => break r,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {
                        if let Some(w) = worker() {
                            if w.is_alive() {
                                crashes += 1;
                                w.tell(Crash);
                            }
                        }
                    }
                }
            }
        })
        .await;
        assert_eq!(reason, ExitReason::Shutdown);
        assert_eq!(within("top exit", top_exit).await, ExitReason::Shutdown);
        // leaf dies on every crash; mid survives one leaf restart; top survives
        // one mid restart: 1 + 1 (mid restart) ... = 4 crashes to bring top down.
        assert_eq!(
            crashes, 4,
            "crashes needed to escalate through three levels"
        );
        let starts = log.snapshot().iter().filter(|e| *e == "start:w").count();
        assert_eq!(starts, 4);
    });
}

#[test]
fn a_failed_restart_is_retried_and_counts_toward_intensity() {
    run(|node| async move {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let log = Log::default();
        let make = Worker::factory("flaky", &log);
        let sup = SupervisorSpec::one_for_one()
            .intensity(5)
            .child(ChildSpec::try_worker("flaky", move || {
                // 1st start works, restarts 1 and 2 fail, then it works again
                match c.fetch_add(1, Ordering::SeqCst) {
                    1 | 2 => Err("database not ready"),
                    _ => Ok(make()),
                }
            }))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("flaky").expect("flaky");
        let exited = w.exited();
        w.tell(Crash);
        within("crash", exited).await;
        until_alive(&w).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(sup.is_alive());

        // Now every restart fails: the retries exhaust intensity 5.
        let sup2 = SupervisorSpec::one_for_one()
            .intensity(3)
            .child(ChildSpec::try_worker("never", {
                let first = Arc::new(AtomicU32::new(0));
                let log = log.clone();
                move || {
                    if first.fetch_add(1, Ordering::SeqCst) == 0 {
                        Ok(Worker::factory("never", &log)())
                    } else {
                        Err("still broken")
                    }
                }
            }))
            .start(&node)
            .await
            .expect("start");
        let exit2 = sup2.exited();
        sup2.child::<Worker>("never").expect("never").tell(Crash);
        assert_eq!(within("escalate", exit2).await, ExitReason::Shutdown);
    });
}

#[test]
fn a_ref_keeps_working_across_many_restarts() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(1000)
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("w").expect("w");
        let id = w.id().clone();
        for n in 1..=200u32 {
            assert_eq!(within("ask", w.ask(Which)).await, Ok(n));
            let exited = w.exited();
            w.tell(Crash);
            within("exit", exited).await;
            until_alive(&w).await;
        }
        assert_eq!(w.id(), &id);
        assert_eq!(node.stats().restarts, 200);
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
            matches!(&reason, ExitReason::Panic(m) if m.contains("common/mod.rs:")),
            "location recorded: {reason:?}"
        );
        assert_eq!(within("ask", w.ask(Which)).await, Ok(2));
    });
}

#[test]
fn shutdown_timeout_kills_a_child_that_will_not_stop() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(
                ChildSpec::worker("stubborn", Worker::factory("stubborn", &log))
                    .shutdown(ChildShutdown::Timeout(Duration::from_secs(2))),
            )
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("stubborn").expect("w");
        w.ask(BeStubborn).await.expect("stubborn");
        let exited = w.exited();
        let t0 = tokio::time::Instant::now();
        sup.terminate_child("stubborn").await.expect("terminate");
        assert_eq!(within("exit", exited).await, ExitReason::Killed);
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    });
}

#[test]
fn brutal_kill_does_not_wait_and_infinity_waits() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .child(
                ChildSpec::worker("k", Worker::factory("k", &log))
                    .shutdown(ChildShutdown::BrutalKill),
            )
            .child(
                ChildSpec::worker("i", Worker::factory("i", &log))
                    .shutdown(ChildShutdown::Infinity),
            )
            .start(&node)
            .await
            .expect("start");
        let k = sup.child::<Worker>("k").expect("k");
        k.ask(BeStubborn).await.expect("stubborn");
        let exited = k.exited();
        let t0 = tokio::time::Instant::now();
        sup.terminate_child("k").await.expect("terminate");
        assert_eq!(within("exit", exited).await, ExitReason::Killed);
        assert_eq!(t0.elapsed(), Duration::ZERO);

        let i = sup.child::<Worker>("i").expect("i");
        let exited = i.exited();
        sup.terminate_child("i").await.expect("terminate");
        assert_eq!(within("exit", exited).await, ExitReason::Shutdown);
        assert!(log.snapshot().contains(&"stop:i".to_owned()));
    });
}

#[test]
fn a_failing_start_stops_the_started_children_in_reverse_and_names_the_culprit() {
    run(|node| async move {
        let log = Log::default();
        let r = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("a", Worker::factory("a", &log)))
            .child(ChildSpec::worker("b", Worker::factory("b", &log)))
            .child(ChildSpec::try_worker("c", || Err::<Worker, _>("no config")))
            .child(ChildSpec::worker("d", Worker::factory("d", &log)))
            .start(&node)
            .await;
        assert_eq!(
            r.err(),
            Some(SupervisorError::StartChild {
                id: "c".into(),
                reason: StartError::Failed("no config".into())
            })
        );
        settle().await;
        assert_eq!(log.take(), ["start:a", "start:b", "stop:b", "stop:a"]);
    });
}

#[test]
fn a_start_function_that_panics_is_a_start_failure() {
    run(|node| async move {
        let r = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("p", || -> Worker {
                panic!("bad factory")
            }))
            .start(&node)
            .await;
        assert!(
            matches!(r, Err(SupervisorError::StartChild { ref id, reason: StartError::Panicked(ref m) }) if id == "p" && m.contains("bad factory")),
            "{r:?}"
        );
        // the thread and other actors are fine
        let log = Log::default();
        let ok = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        assert_eq!(ok.child::<Worker>("w").expect("w").ask(Which).await, Ok(1));
    });
}

#[test]
fn invalid_specs_are_rejected_with_clear_errors() {
    run(|node| async move {
        let log = Log::default();
        let w = |id: &str| ChildSpec::worker(id, Worker::factory(id, &log));
        let e = SupervisorSpec::one_for_one()
            .period(Duration::ZERO)
            .start(&node)
            .await
            .err();
        assert_eq!(e, Some(SupervisorError::ZeroPeriod));
        let e = SupervisorSpec::one_for_one()
            .child(w("x"))
            .child(w("x"))
            .start(&node)
            .await
            .err();
        assert_eq!(e, Some(SupervisorError::DuplicateChild("x".into())));
        let e = SupervisorSpec::one_for_one()
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(w("s").significant(true))
            .start(&node)
            .await
            .err();
        assert_eq!(e, Some(SupervisorError::SignificantPermanent("s".into())));
        let e = SupervisorSpec::one_for_one()
            .child(w("s").restart(Restart::Transient).significant(true))
            .start(&node)
            .await
            .err();
        assert_eq!(
            e,
            Some(SupervisorError::SignificantWithoutAutoShutdown("s".into()))
        );
        let e = SupervisorSpec::new(Strategy::SimpleOneForOne)
            .child(w("x"))
            .start(&node)
            .await
            .err();
        assert_eq!(e, Some(SupervisorError::BadSimpleOneForOne));
        assert_eq!(log.take(), Vec::<String>::new(), "nothing started");
    });
}

#[test]
fn runtime_api_follows_otp_error_cases() {
    run(|node| async move {
        let log = Log::default();
        let w = |id: &str| ChildSpec::worker(id, Worker::factory(id, &log));
        let sup = SupervisorSpec::one_for_one()
            .child(w("a"))
            .start(&node)
            .await
            .expect("start");
        assert_eq!(
            sup.start_child(w("a")).await,
            Err(SupervisorError::AlreadyStarted("a".into()))
        );
        sup.start_child(w("b")).await.expect("start b");
        assert_eq!(
            sup.restart_child("b").await,
            Err(SupervisorError::Running("b".into()))
        );
        assert_eq!(
            sup.delete_child("b").await,
            Err(SupervisorError::Running("b".into()))
        );
        sup.terminate_child("b").await.expect("terminate b");
        assert_eq!(
            sup.start_child(w("b")).await,
            Err(SupervisorError::AlreadyPresent("b".into()))
        );
        let counts = sup.count_children().await.expect("count");
        assert_eq!(
            (
                counts.specs,
                counts.active,
                counts.workers,
                counts.supervisors
            ),
            (2, 1, 2, 0)
        );
        sup.restart_child("b").await.expect("restart b");
        assert_eq!(sup.child::<Worker>("b").expect("b").ask(Which).await, Ok(2));
        sup.terminate_child("b").await.expect("terminate b");
        sup.delete_child("b").await.expect("delete b");
        assert_eq!(
            sup.delete_child("b").await,
            Err(SupervisorError::NotFound("b".into()))
        );
        assert_eq!(
            sup.terminate_child("zz").await,
            Err(SupervisorError::NotFound("zz".into()))
        );
        let which = sup.which_children().await.expect("which");
        assert_eq!(which.len(), 1);
        assert_eq!(which[0].id, "a");
        assert_eq!(which[0].status, ChildStatus::Running);
        let e = sup
            .start_child(ChildSpec::try_worker("bad", || Err::<Worker, _>("nope")))
            .await;
        assert!(matches!(e, Err(SupervisorError::StartChild { .. })));
        assert_eq!(
            sup.count_children().await.expect("count").specs,
            1,
            "failed start_child keeps no spec"
        );
    });
}

#[test]
fn simple_one_for_one_starts_dynamic_children_from_a_template() {
    run(|node| async move {
        let log = Log::default();
        let l = log.clone();
        let sup =
            SupervisorSpec::simple_one_for_one(ChildSpec::template("conn", move |name: String| {
                Ok::<_, String>(Worker {
                    name,
                    log: l.clone(),
                    instance: 1,
                    stubborn: false,
                })
            }))
            .intensity(5)
            .start(&node)
            .await
            .expect("start");
        assert_eq!(
            sup.count_children().await.expect("count").specs,
            1,
            "the template"
        );
        let x = sup
            .start_dynamic::<Worker, String>("x".into())
            .await
            .expect("x");
        let y = sup
            .start_dynamic::<Worker, String>("y".into())
            .await
            .expect("y");
        assert_eq!(log.take(), ["start:x", "start:y"]);
        let exited = x.exited();
        x.tell(Crash);
        within("exit", exited).await;
        until_alive(&x).await;
        assert_eq!(log.take(), ["start:x"], "restarted from the same arguments");
        assert_eq!(
            sup.start_dynamic::<Worker, u32>(5).await.err(),
            Some(SupervisorError::WrongArgs)
        );
        assert_eq!(
            sup.restart_child("conn-1").await,
            Err(SupervisorError::WrongStrategy)
        );
        sup.terminate_child("conn-2").await.expect("terminate y");
        assert!(!y.is_alive());
        assert_eq!(
            sup.count_children().await.expect("count").specs,
            1,
            "terminated dynamic child is removed"
        );
        within("shutdown", sup.shutdown()).await;
        assert_eq!(log.take(), ["stop:y", "stop:x"]);
    });
}

#[test]
fn auto_shutdown_any_significant() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(ChildSpec::worker("a", Worker::factory("a", &log)))
            .child(
                ChildSpec::worker("job", Worker::factory("job", &log))
                    .restart(Restart::Transient)
                    .significant(true),
            )
            .start(&node)
            .await
            .expect("start");
        let exit = sup.exited();
        // terminating a significant child through the API is not "on its own"
        sup.terminate_child("job").await.expect("terminate");
        settle().await;
        assert!(sup.is_alive());
        sup.restart_child("job").await.expect("restart");
        sup.child::<Worker>("job")
            .expect("job")
            .tell(Exit(ExitReason::Normal));
        assert_eq!(within("auto shutdown", exit).await, ExitReason::Shutdown);
    });
}

#[test]
fn auto_shutdown_all_significant_waits_for_the_last() {
    run(|node| async move {
        let log = Log::default();
        let job = |id: &str| {
            ChildSpec::worker(id, Worker::factory(id, &log))
                .restart(Restart::Temporary)
                .significant(true)
        };
        let sup = SupervisorSpec::one_for_one()
            .auto_shutdown(AutoShutdown::AllSignificant)
            .child(job("j1"))
            .child(job("j2"))
            .start(&node)
            .await
            .expect("start");
        let exit = sup.exited();
        let j1 = sup.child::<Worker>("j1").expect("j1");
        let e1 = j1.exited();
        j1.tell(Crash);
        within("j1", e1).await;
        settle().await;
        assert!(sup.is_alive(), "one significant child is still running");
        sup.child::<Worker>("j2")
            .expect("j2")
            .tell(Exit(ExitReason::Normal));
        assert_eq!(within("auto shutdown", exit).await, ExitReason::Shutdown);
    });
}

#[test]
fn backoff_delays_restarts_exponentially() {
    run(|node| async move {
        let log = Log::default();
        let sup = SupervisorSpec::one_for_one()
            .intensity(10)
            .period(Duration::from_secs(60))
            .backoff(Backoff {
                min: Duration::from_millis(100),
                max: Duration::from_secs(1),
                jitter: 0.0,
                reset_after: Duration::from_secs(30),
            })
            .child(ChildSpec::worker("w", Worker::factory("w", &log)))
            .start(&node)
            .await
            .expect("start");
        let w = sup.child::<Worker>("w").expect("w");
        let mut delays = Vec::new();
        for _ in 0..5 {
            let exited = w.exited();
            w.tell(Crash);
            within("exit", exited).await;
            let t0 = tokio::time::Instant::now();
            until_alive(&w).await;
            delays.push(t0.elapsed().as_millis() / 10 * 10);
        }
        assert_eq!(delays, [100, 200, 400, 800, 1000]);
    });
}

#[test]
fn a_panicking_supervisor_child_is_restarted_and_its_subtree_rebuilt() {
    run(|node| async move {
        let log = Log::default();
        let inner = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("w1", Worker::factory("w1", &log)))
            .child(ChildSpec::worker("w2", Worker::factory("w2", &log)));
        let top = SupervisorSpec::one_for_one()
            .intensity(3)
            .child(ChildSpec::supervisor("inner", inner))
            .start(&node)
            .await
            .expect("start");
        let inner_ref = top.child_supervisor("inner").expect("inner");
        let w1 = inner_ref.child::<Worker>("w1").expect("w1");
        let (inner_exit, w1_exit) = (inner_ref.exited(), w1.exited());
        inner_ref.actor().kill();
        assert_eq!(within("inner killed", inner_exit).await, ExitReason::Killed);
        assert_eq!(
            within("w1 killed with it", w1_exit).await,
            ExitReason::Killed
        );
        within("rebuilt", async {
            while inner_ref
                .child::<Worker>("w2")
                .is_none_or(|w| !w.is_alive())
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        // killed supervisor's children were killed with it (no orphans) and rebuilt
        let starts = log
            .snapshot()
            .iter()
            .filter(|e| e.starts_with("start:"))
            .count();
        assert_eq!(starts, 4);
        assert!(inner_ref.is_alive());
    });
}
