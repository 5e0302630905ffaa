//! one_for_all: everyone stops in reverse and starts again in order.

use super::*;

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
