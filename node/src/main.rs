//! `arbour`: run the local demo (more commands arrive with the network layer).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "arbour", version, about = "arbour actor runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local demo: supervised fib worker pools on every worker thread,
    /// a client, and a chaos monkey crashing workers.
    Demo {
        /// How long the client runs, in seconds.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Fib workers per worker thread.
        #[arg(long, default_value_t = 4)]
        pool: usize,
        /// One injected crash per this many tasks on average (0: none).
        #[arg(long, default_value_t = 500)]
        crash_every: u64,
        /// Seed of the node's RNG.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Run one node that exposes a probe actor as "echo" (for trying the
    /// network and for the integration tests). Prints `listening <addr>`,
    /// then serves until stdin closes.
    Serve {
        /// The node's name.
        #[arg(long, default_value = "alpha")]
        name: String,
        /// The cluster's name.
        #[arg(long, default_value = "arbour")]
        cluster: String,
        /// The cluster secret (mutual TLS).
        #[arg(long)]
        secret: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

fn main() {
    arbour::init_logging();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            name,
            cluster,
            secret,
            listen,
        } => arbour_node::serve::run(&name, &cluster, &secret, listen),
        Command::Demo {
            seconds,
            workers,
            pool,
            crash_every,
            seed,
        } => {
            if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
                anyhow::bail!("--seconds must be in (0, 3600], got {seconds}");
            }
            if pool == 0 {
                anyhow::bail!("--pool must be at least 1");
            }
            let mut cfg = arbour_node::demo::DemoConfig {
                pool,
                duration: Duration::from_secs_f64(seconds),
                crash_every,
                seed,
                ..Default::default()
            };
            if let Some(w) = workers {
                if w == 0 {
                    anyhow::bail!("--workers must be at least 1");
                }
                cfg.workers = w;
            }
            let r = arbour_node::demo::run(&cfg).context("demo failed")?;
            println!("demo.tasks_ok {} tasks", r.ok);
            println!("demo.tasks_lost_to_crash {} tasks", r.crashed + r.gone);
            println!("demo.crashes_injected {} crashes", r.crashes_injected);
            println!("demo.restarts {} restarts", r.restarts);
            println!("demo.wrong_answers {} tasks", r.wrong);
            println!("demo.other_errors {} tasks", r.other_errors);
            if r.wrong > 0 || r.other_errors > 0 || r.ok == 0 {
                anyhow::bail!("demo saw wrong answers or unexpected errors");
            }
            Ok(())
        }
    }
}
