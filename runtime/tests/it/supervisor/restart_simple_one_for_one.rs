//! simple_one_for_one: dynamic children from one template, named by ref.

use super::*;

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
fn a_template_that_returns_ignore_starts_no_child_and_the_start_succeeds() {
    // OTP's sup_start_ignore_*_child_start_child_simple: start_child
    // returns {ok, undefined}, and nothing is added
    run(|node| async move {
        let log = Log::default();
        let l = log.clone();
        let sup = SupervisorSpec::simple_one_for_one(ChildSpec::template_or_ignore(
            "w",
            move |n: u32| {
                Ok::<_, String>(
                    n.is_multiple_of(2)
                        .then(|| Worker::factory(&format!("w{n}"), &l)()),
                )
            },
        ))
        .start(&node)
        .await
        .expect("start");
        let ignored = sup
            .start_dynamic::<Worker, u32>(1)
            .await
            .expect("ignore is ok");
        assert!(
            !ignored.is_alive(),
            "an ignored start gives a ref to no actor"
        );
        let two = sup.start_dynamic::<Worker, u32>(2).await.expect("two");
        assert!(two.is_alive());
        let counts = sup.count_children().await.expect("count");
        assert_eq!((counts.specs, counts.active), (1, 1));
        assert_eq!(ids(&sup).await.len(), 1, "only the started child is listed");
        assert_eq!(log.take(), ["start:w2"]);
    });
}

#[test]
fn a_dynamic_child_whose_restart_is_ignored_is_removed() {
    // OTP's simple_one_for_one_restart_ignore
    run(|node| async move {
        let log = Log::default();
        let (l, starts) = (log.clone(), Arc::new(AtomicU32::new(0)));
        let sup = SupervisorSpec::simple_one_for_one(ChildSpec::template_or_ignore(
            "w",
            move |n: u32| {
                let first = starts.fetch_add(1, Ordering::SeqCst) == 0;
                Ok::<_, String>(first.then(|| Worker::factory(&format!("w{n}"), &l)()))
            },
        ))
        .intensity(5)
        .start(&node)
        .await
        .expect("start");
        let w = sup.start_dynamic::<Worker, u32>(1).await.expect("one");
        let exited = w.exited();
        w.tell(Crash);
        within("crash", exited).await;
        within("the restart is ignored and the child removed", async {
            while !ids(&sup).await.is_empty() {
                settle().await;
            }
        })
        .await;
        let counts = sup.count_children().await.expect("count");
        assert_eq!((counts.specs, counts.active), (1, 0));
        assert!(sup.is_alive(), "an ignored restart is no failure");
    });
}
