//! `arbour-sim`: run a scenario for one seed, or sweep many seeds; each seed is
//! run twice and its two traces must hash the same.

use anyhow::{bail, Result};
use arbour_sim::scenarios::supervision_chaos;
use clap::Parser;

#[derive(Parser)]
#[command(name = "arbour-sim", about = "Deterministic arbour simulations")]
struct Cli {
    /// First seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of consecutive seeds to run.
    #[arg(long, default_value_t = 1)]
    sweep: u64,
    /// Faults per run.
    #[arg(long, default_value_t = 200)]
    steps: u32,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut failed = 0;
    for seed in cli.seed..cli.seed.saturating_add(cli.sweep) {
        let (a, b) = match (
            supervision_chaos(seed, cli.steps),
            supervision_chaos(seed, cli.steps),
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
    Ok(())
}
