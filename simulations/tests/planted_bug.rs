//! The simulator can fail: with a bug planted in the registry (it keeps a
//! gone node's names), a crash-storm sweep finds a seed that breaks the
//! registry invariant. Alone in its test binary: the switch is global.

use arbour_sim::cluster_scenarios::{run, Scenario};
use std::sync::atomic::Ordering;

#[test]
fn a_registry_that_keeps_a_gone_nodes_names_is_found_by_a_sweep() {
    arbour::registry::planted::KEEP_NAMES_OF_GONE_NODES.store(true, Ordering::Relaxed);
    let found = (1..=200u64).find_map(|seed| {
        let r = run(Scenario::CrashStorm, seed);
        (!r.violations.is_empty()).then_some((seed, r.violations))
    });
    arbour::registry::planted::KEEP_NAMES_OF_GONE_NODES.store(false, Ordering::Relaxed);
    let (seed, violations) = found.expect("the sweep finds the planted bug within 200 seeds");
    eprintln!("found at seed {seed}: {}", violations[0]);
    assert!(
        violations.iter().any(|v| v.contains("still names")),
        "a registry invariant broke: {violations:?}"
    );
}
