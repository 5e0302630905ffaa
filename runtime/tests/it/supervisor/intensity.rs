//! Restart intensity and escalation: too many restarts in a period shut the supervisor down, and its parent decides; trees rebuild.

use super::*;

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
