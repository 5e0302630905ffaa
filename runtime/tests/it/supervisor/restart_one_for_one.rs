//! one_for_one: only the failed child restarts; its ref keeps working; a failed restart is retried; backoff.

use super::*;

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
