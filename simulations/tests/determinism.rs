//! The determinism rule for the supervision layer: a seed replays exactly.

use arbour_sim::scenarios::supervision_chaos;

#[test]
fn the_same_seed_replays_the_same_trace() {
    let a = supervision_chaos(7, 150).expect("run 1");
    let b = supervision_chaos(7, 150).expect("run 2");
    assert!(
        a.faults > 0 && a.restarts > 0,
        "the scenario did something: {a:?}"
    );
    assert_eq!(a.trace.events(), b.trace.events());
    assert_eq!(a.trace.hash(), b.trace.hash());
}

#[test]
fn different_seeds_give_different_runs() {
    let a = supervision_chaos(1, 100).expect("seed 1");
    let b = supervision_chaos(2, 100).expect("seed 2");
    assert_ne!(a.trace.hash(), b.trace.hash());
}

#[test]
fn invariants_hold_over_a_sweep_of_seeds() {
    for seed in 100..120 {
        if let Err(e) = supervision_chaos(seed, 120) {
            panic!("{e}");
        }
    }
}
