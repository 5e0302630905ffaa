//! `arbour-sim`: whole-cluster scenarios in virtual time, by seed.
//!
//! - `arbour-sim run SCENARIO --seed N [--check-determinism]`
//! - `arbour-sim sweep SCENARIO --seeds A..B` (prints the failing seeds)
//! - `arbour-sim replay SCENARIO --seed N` (the timeline: time, event)
//! - `arbour-sim chaos --seed N --sweep K` (one node's supervision chaos)

use anyhow::{bail, Context as _, Result};
use arbour_sim::cluster_scenarios::{run, Run, Scenario};
use arbour_sim::scenarios::supervision_chaos;
use clap::{Parser, Subcommand};
use std::io::Write as _;

#[derive(Parser)]
#[command(
    name = "arbour-sim",
    about = "Deterministic arbour cluster simulations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario for one seed.
    Run {
        /// lossy-network, crash-storm, rolling-restart, partition-heal,
        /// registry-race, supervisor-escalation, pause or random-faults.
        scenario: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run it twice and fail on any difference (naming the first).
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run a scenario for a range of seeds; print the failing ones.
    Sweep {
        /// The scenario.
        scenario: String,
        /// A..B (B excluded).
        #[arg(long, default_value = "1..100")]
        seeds: String,
    },
    /// Print a seed's run as a timeline.
    Replay {
        /// The scenario.
        scenario: String,
        #[arg(long)]
        seed: u64,
    },
    /// One node's supervision trees under seeded faults (each seed twice).
    Chaos {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        sweep: u64,
        #[arg(long, default_value_t = 200)]
        steps: u32,
    },
}

fn scenario(name: &str) -> Result<Scenario> {
    Scenario::named(name).with_context(|| {
        let all: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        format!("no scenario {name:?} (there are: {})", all.join(", "))
    })
}

fn summary(r: &Run) -> String {
    format!(
        "{} seed {}: {} events, trace {:016x}, {} asks ok, {} failed with a reason, {:.1} s virtual: {}",
        r.scenario.name(),
        r.seed,
        r.trace.len(),
        r.trace.hash(),
        r.asks_ok,
        r.asks_failed,
        r.virtual_time.as_secs_f64(),
        if r.violations.is_empty() { "ok".to_owned() } else { format!("{} VIOLATIONS", r.violations.len()) }
    )
}

fn main() -> std::process::ExitCode {
    // the nodes' logs, if asked for (RUST_LOG=info …), on stderr
    if std::env::var_os("RUST_LOG").is_some() {
        arbour_node::init_logging();
    }
    match run_command(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_command(command: Command) -> Result<()> {
    match command {
        Command::Run {
            scenario: name,
            seed,
            check_determinism,
        } => {
            let s = scenario(&name)?;
            let a = run(s, seed);
            println!("{}", summary(&a));
            for v in &a.violations {
                println!("  violation: {v}");
            }
            if check_determinism {
                let b = run(s, seed);
                let (ea, eb) = (a.trace.events(), b.trace.events());
                if let Some(i) = (0..ea.len().max(eb.len())).find(|i| ea.get(*i) != eb.get(*i)) {
                    println!("  NOT deterministic: first difference at event {i}:");
                    println!("    first run:  {:?}", ea.get(i));
                    println!("    second run: {:?}", eb.get(i));
                    bail!("seed {seed} does not replay");
                }
                println!(
                    "  deterministic: a second run gave the same {} events",
                    ea.len()
                );
            }
            if !a.violations.is_empty() {
                bail!("seed {seed} failed; replay it: arbour-sim replay {name} --seed {seed}");
            }
        }
        Command::Sweep {
            scenario: name,
            seeds,
        } => {
            let s = scenario(&name)?;
            let (lo, hi) = seeds
                .split_once("..")
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                .with_context(|| format!("--seeds {seeds:?} is not A..B"))?;
            let started = std::time::Instant::now();
            let mut failing = Vec::new();
            for seed in lo..hi {
                let r = run(s, seed);
                if !r.violations.is_empty() {
                    eprint!("\r");
                    println!("seed {seed} FAILED: {}", r.violations[0]);
                    failing.push(seed);
                }
                // progress on stderr, so stdout stays a list of failures
                eprint!(
                    "\r{}/{} seeds, {} failing ",
                    seed - lo + 1,
                    hi - lo,
                    failing.len()
                );
                let _ = std::io::stderr().flush();
            }
            eprintln!();
            let mins = started.elapsed().as_secs_f64() / 60.0;
            println!(
                "{} seeds in {:.1} s ({:.0} seeds/min); failing: {:?}",
                hi - lo,
                started.elapsed().as_secs_f64(),
                (hi - lo) as f64 / mins.max(1e-9),
                failing
            );
            if !failing.is_empty() {
                bail!(
                    "{} seed(s) failed; replay one: arbour-sim replay {name} --seed {}",
                    failing.len(),
                    failing[0]
                );
            }
        }
        Command::Replay {
            scenario: name,
            seed,
        } => {
            let r = run(scenario(&name)?, seed);
            for (t, e) in r.trace.events() {
                println!("{:>10.3} s  {e}", t.as_secs_f64());
            }
            println!("{}", summary(&r));
            for v in &r.violations {
                println!("  violation: {v}");
            }
        }
        Command::Chaos { seed, sweep, steps } => {
            let mut failed = 0;
            for seed in seed..seed.saturating_add(sweep) {
                let (a, b) = match (
                    supervision_chaos(seed, steps),
                    supervision_chaos(seed, steps),
                ) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(e), _) | (_, Err(e)) => {
                        println!("FAIL {e}");
                        failed += 1;
                        continue;
                    }
                };
                let same = a.trace.hash() == b.trace.hash();
                println!(
                    "seed {seed}: faults {} restarts {} escalated {} events {} trace {:016x} replay {}",
                    a.faults,
                    a.restarts,
                    a.escalated,
                    a.trace.len(),
                    a.trace.hash(),
                    if same { "identical" } else { "DIFFERENT" }
                );
                if !same {
                    failed += 1;
                }
            }
            if failed > 0 {
                bail!("{failed} seed(s) failed");
            }
        }
    }
    Ok(())
}
