//! auto_shutdown: significant children end their supervisor.

use super::*;

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
