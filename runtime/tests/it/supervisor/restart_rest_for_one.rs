//! rest_for_one: the failed child and those started after it.

use super::*;

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
