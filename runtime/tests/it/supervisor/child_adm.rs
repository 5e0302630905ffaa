//! The runtime API: start_child, terminate_child, restart_child, delete_child, which_children, which_child, get_childspec, count_children, exits.

use super::*;

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
