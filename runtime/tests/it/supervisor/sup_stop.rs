//! Stopping: shutdown timeouts, brutal_kill and infinity, a supervisor stopped with a reason.

use super::*;

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
