//! `arbour`: run the local demo, serve a probe node, make certificates.

use anyhow::Context as _;
use arbour::Security;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
    /// then serves until stdin closes or SIGINT/SIGTERM, and shuts down
    /// gracefully (its peers are told goodbye).
    Serve {
        /// The node's name.
        #[arg(long, default_value = "alpha")]
        name: String,
        /// The cluster's name.
        #[arg(long, default_value = "arbour")]
        cluster: String,
        /// The cluster secret (mutual TLS from a derived CA).
        #[arg(long, required_unless_present = "ca", conflicts_with_all = ["ca", "cert", "key"])]
        secret: Option<String>,
        /// The cluster's CA certificate (mutual TLS from files; see `arbour certs`).
        #[arg(long, requires_all = ["cert", "key"])]
        ca: Option<PathBuf>,
        /// This node's certificate.
        #[arg(long, requires = "ca")]
        cert: Option<PathBuf>,
        /// This node's private key.
        #[arg(long, requires = "ca")]
        key: Option<PathBuf>,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// A peer to dial (and redial), as NAME=ADDRESS; repeatable.
        #[arg(long, value_parser = parse_peer)]
        peer: Vec<(String, std::net::SocketAddr)>,
        /// Worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Milliseconds of silence after which a peer counts as lost
        /// (default 3000); the keep-alive probe runs at a quarter of it.
        #[arg(long = "idle-timeout-ms")]
        idle_timeout_ms: Option<u64>,
        /// Claim another protocol version (for version-skew tests).
        #[arg(long = "protocol-version", hide = true)]
        protocol_version: Option<u16>,
        /// Take part in cluster membership (SWIM); prints a line per change:
        /// `member up|down|left|replaced NAME INCARNATION`.
        #[arg(long)]
        membership: bool,
        /// A seed node to join the cluster through, as NAME=ADDRESS
        /// (repeatable; implies --membership).
        #[arg(long = "join", value_parser = parse_peer)]
        join: Vec<(String, std::net::SocketAddr)>,
    },
    /// Make a cluster CA and node certificates for mutual TLS from files:
    /// DIR/ca.crt, DIR/ca.key (keep it off the nodes), DIR/<node>.crt and
    /// DIR/<node>.key. Run again on the same DIR to add nodes.
    Certs {
        /// The cluster's name.
        #[arg(long, default_value = "arbour")]
        cluster: String,
        /// The directory to write to.
        #[arg(long)]
        out: PathBuf,
        /// Replace existing node certificates.
        #[arg(long)]
        force: bool,
        /// The nodes to make certificates for.
        #[arg(required = true)]
        nodes: Vec<String>,
    },
}

/// `NAME=ADDRESS`, as `--peer` takes it.
fn parse_peer(s: &str) -> Result<(String, std::net::SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=ADDRESS"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not an address: {e}"))?;
    Ok((name.to_owned(), addr))
}

fn main() {
    arbour_node::init_logging();
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
            ca,
            cert,
            key,
            listen,
            peer,
            workers,
            idle_timeout_ms,
            protocol_version,
            membership,
            join,
        } => {
            let security = match (secret, ca, cert, key) {
                (Some(secret), ..) => Security::Secret(secret),
                (None, Some(ca), Some(cert), Some(key)) => Security::Files { ca, cert, key },
                _ => anyhow::bail!("give --secret, or --ca with --cert and --key"),
            };
            arbour_node::serve::run(arbour_node::serve::ServeOptions {
                name,
                cluster,
                security,
                listen,
                peers: peer,
                workers,
                idle_timeout: idle_timeout_ms.map(std::time::Duration::from_millis),
                protocol_version,
                membership: membership || !join.is_empty(),
                seeds: join,
            })
        }
        Command::Certs {
            cluster,
            out,
            force,
            nodes,
        } => {
            let written = arbour_node::certs::make(&cluster, &out, &nodes, force)?;
            if !written.new_ca {
                println!("reusing the CA in {}", out.display());
            }
            for file in &written.files {
                println!("wrote {}", file.display());
            }
            let ca = out.join("ca.crt");
            println!(
                "run a node with: arbour serve --cluster {cluster} --name {n} --ca {} --cert {} --key {}",
                ca.display(),
                out.join(format!("{}.crt", nodes[0])).display(),
                out.join(format!("{}.key", nodes[0])).display(),
                n = nodes[0],
            );
            Ok(())
        }
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
