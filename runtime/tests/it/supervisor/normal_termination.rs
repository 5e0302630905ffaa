//! Restart types: which exits a permanent, transient or temporary child is restarted after.

use super::*;

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
