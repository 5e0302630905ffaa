//! Every built-in whole-cluster scenario passes for its first 50 seeds,
//! and replays exactly by seed (the determinism check, on 5 seeds of
//! each). More seeds: `arbour-sim sweep SCENARIO --seeds 1..1001`.
//! Scenarios run in parallel threads, each on its own simulated cluster.

use arbour_sim::cluster_scenarios::{run, Scenario};

const SEEDS: std::ops::RangeInclusive<u64> = 1..=50;
const REPLAYED: std::ops::RangeInclusive<u64> = 1..=5;

fn passes(scenario: Scenario) {
    let mut failing = Vec::new();
    for seed in SEEDS {
        let r = run(scenario, seed);
        assert!(
            r.asks_ok > 0,
            "{} seed {seed}: the workload ran",
            scenario.name()
        );
        if !r.violations.is_empty() {
            failing.push((seed, r.violations));
        }
    }
    assert!(
        failing.is_empty(),
        "{}: {} of {} seeds fail; the first: seed {} {:?}\nreplay: arbour-sim replay {} --seed {}",
        scenario.name(),
        failing.len(),
        SEEDS.count(),
        failing[0].0,
        failing[0].1,
        scenario.name(),
        failing[0].0,
    );
}

fn replays(scenario: Scenario) {
    for seed in REPLAYED {
        let (a, b) = (run(scenario, seed), run(scenario, seed));
        let (ea, eb) = (a.trace.events(), b.trace.events());
        if let Some(i) = (0..ea.len().max(eb.len())).find(|i| ea.get(*i) != eb.get(*i)) {
            panic!(
                "{} seed {seed} does not replay: event {i} was {:?}, then {:?}",
                scenario.name(),
                ea.get(i),
                eb.get(i)
            );
        }
        assert_eq!(a.trace.hash(), b.trace.hash());
    }
}

macro_rules! scenario_tests {
    ($($name:ident, $replay:ident: $scenario:expr;)*) => {$(
        #[test]
        fn $name() {
            passes($scenario);
        }
        #[test]
        fn $replay() {
            replays($scenario);
        }
    )*};
}

scenario_tests! {
    lossy_network_passes_50_seeds, lossy_network_replays_by_seed: Scenario::LossyNetwork;
    crash_storm_passes_50_seeds, crash_storm_replays_by_seed: Scenario::CrashStorm;
    rolling_restart_passes_50_seeds, rolling_restart_replays_by_seed: Scenario::RollingRestart;
    partition_heal_passes_50_seeds, partition_heal_replays_by_seed: Scenario::PartitionHeal;
    registry_race_passes_50_seeds, registry_race_replays_by_seed: Scenario::RegistryRace;
    supervisor_escalation_passes_50_seeds, supervisor_escalation_replays_by_seed: Scenario::SupervisorEscalation;
    pause_passes_50_seeds, pause_replays_by_seed: Scenario::Pause;
    random_faults_passes_50_seeds, random_faults_replays_by_seed: Scenario::RandomFaults;
    split_brain_passes_50_seeds, split_brain_replays_by_seed: Scenario::SplitBrain;
}

#[test]
fn every_scenario_is_tested() {
    assert_eq!(
        Scenario::ALL.len(),
        9,
        "a new scenario needs its two tests above"
    );
}
