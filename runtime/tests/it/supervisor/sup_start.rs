//! Starting a supervisor: children start in order; a child that fails (or panics, or says ignore) to start; init; flags and specs that OTP refuses.

use super::*;

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
                if m.contains("init panicked: init blew up") && m.contains("supervisor/sup_start.rs:")),
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
