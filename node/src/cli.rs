//! The `arbour` command line, for the `arbour` binary and for a user's own
//! node binary alike ([`App::main`](crate::App::main)): run a node of a
//! cluster file, bring a whole file up locally, check a file, the demo, a
//! probe node, certificates.

use anyhow::Context as _;
use arbour::net::Security;
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
    /// The demo: a local 3-node cluster (three processes) from an embedded
    /// cluster file, a supervised Fibonacci pool on two of them, a job run
    /// through it while one worker node's process is killed; the pool
    /// moves to the survivor and every result is checked.
    Demo {
        /// Fibonacci tasks in the job.
        #[arg(long, default_value_t = 3000)]
        tasks: u32,
        /// Print the embedded cluster file and exit (to look at it, or to
        /// `arbour up` it yourself once its ports are filled in).
        #[arg(long)]
        print_config: bool,
        /// Also print `demo.<figure> <value> <unit>` lines (for tests and
        /// benchmarks).
        #[arg(long)]
        figures: bool,
    },
    /// Run one node of a cluster file, with the deployments it supervises,
    /// until SIGINT/SIGTERM/SIGHUP; then it leaves the cluster gracefully.
    Run {
        /// The cluster file.
        #[arg(long)]
        config: PathBuf,
        /// Which node of it this is.
        #[arg(long)]
        node: String,
        /// Also stop when standard input closes (how `arbour up` runs its
        /// children, so none outlives it).
        #[arg(long)]
        stdin_eof: bool,
    },
    /// Start every node of a cluster file as local processes, until Ctrl-C.
    Up {
        /// The cluster file.
        config: PathBuf,
    },
    /// Show the running cluster of a file: each node's state, incarnation
    /// and restarts, and where each deployment's instances run (asked
    /// with the file's credentials, without joining).
    Status {
        /// The cluster file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print a client credential for the secret-mode cluster of a file: a
    /// client given it (`NodeBuilder::client_credential`) connects, asks
    /// and looks up, and cannot act as a member (it holds no secret).
    Credential {
        /// The cluster file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a cluster file (and that this binary has its kinds); prints
    /// every problem, exits 1 on any.
    Check {
        /// The cluster file.
        config: PathBuf,
    },
    /// One node with supervised fib pools on every worker thread, a client,
    /// and a chaos monkey crashing workers.
    Chaos {
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
    /// then serves until stdin closes or SIGINT/SIGTERM/SIGHUP, and shuts down
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
        /// Make clients' certificates: they may ask, tell and look up what
        /// nodes expose, and the nodes refuse them membership, registry
        /// writes and spawns.
        #[arg(long)]
        client: bool,
        /// The nodes (or clients) to make certificates for.
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

/// Parses the command line and runs it with `app`'s kinds; exits the
/// process with 0, 1 (`check` found problems), 2 (an error) or 75 (`run`:
/// the cluster declared the node down and the file says `on_downed =
/// "exit"`).
pub fn main(app: &crate::App) -> ! {
    let cli = Cli::parse();
    // the demo is for a person: its logs (and its nodes') go to a file
    if !matches!(cli.command, Command::Demo { .. }) {
        crate::init_logging();
    }
    match run(app, cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn run(app: &crate::App, cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run {
            config,
            node,
            stdin_eof,
        } => {
            let file = arbour_config::ClusterFile::load(&config)?;
            app.run_node(&file, &node, stdin_eof)
        }
        Command::Up { config } => {
            let file = load_checked(app, &config)?;
            let exe = std::env::current_exe().context("finding this binary")?;
            crate::up::up(&exe, &file)?;
            Ok(0)
        }
        Command::Status { config } => {
            let file = arbour_config::ClusterFile::load(&config)?;
            print!("{}", crate::status::report(&file)?);
            Ok(0)
        }
        Command::Credential { config } => {
            let file = arbour_config::ClusterFile::load(&config)?;
            match &file.security {
                arbour_config::Security::Secret(secret) => {
                    println!("{}", arbour::net::ClusterCa::client_credential(&file.name, secret)?);
                    Ok(0)
                }
                arbour_config::Security::Tls { .. } => anyhow::bail!(
                    "{}: the cluster uses certificate files: make a client's with `arbour certs --client NAME`",
                    config.display()
                ),
            }
        }
        Command::Check { config } => match arbour_config::ClusterFile::load(&config) {
            Err(e) => {
                println!("{e}");
                Ok(1)
            }
            Ok(file) => {
                let problems = app.check(&file);
                for p in &problems {
                    println!("{p}");
                }
                if problems.is_empty() {
                    println!(
                        "{}: ok: cluster {}, {} nodes, {} deployments",
                        config.display(),
                        file.name,
                        file.nodes.len(),
                        file.deploy.len()
                    );
                    Ok(0)
                } else {
                    Ok(1)
                }
            }
        },
        Command::Demo {
            tasks,
            print_config,
            figures,
        } => {
            if print_config {
                print!("{}", crate::demo::DEFAULT_FILE);
                return Ok(0);
            }
            anyhow::ensure!(tasks > 0, "--tasks must be at least 1");
            let exe = std::env::current_exe().context("finding this binary")?;
            let r = crate::demo::run(&exe, tasks)?;
            r.summary();
            if figures {
                println!();
                r.print();
            }
            anyhow::ensure!(r.passed(), "the demo saw wrong answers or failed tasks");
            Ok(0)
        }
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
            crate::serve::run(crate::serve::ServeOptions {
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
            })?;
            Ok(0)
        }
        Command::Certs {
            cluster,
            out,
            force,
            client,
            nodes,
        } => {
            let role = if client {
                arbour::net::PeerRole::Client
            } else {
                arbour::net::PeerRole::Member
            };
            let written = crate::certs::make(&cluster, &out, &nodes, force, role)?;
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
            Ok(0)
        }
        Command::Chaos {
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
            let mut cfg = crate::chaos::DemoConfig {
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
            let r = crate::chaos::run(&cfg).context("the chaos run failed")?;
            println!("chaos.tasks_ok {} tasks", r.ok);
            println!("chaos.tasks_lost_to_crash {} tasks", r.crashed + r.gone);
            println!("chaos.crashes_injected {} crashes", r.crashes_injected);
            println!("chaos.restarts {} restarts", r.restarts);
            println!("chaos.wrong_answers {} tasks", r.wrong);
            println!("chaos.other_errors {} tasks", r.other_errors);
            if r.wrong > 0 || r.other_errors > 0 || r.ok == 0 {
                anyhow::bail!("the chaos run saw wrong answers or unexpected errors");
            }
            Ok(0)
        }
    }
}

/// Loads `path` and checks it against `app`'s kinds.
fn load_checked(
    app: &crate::App,
    path: &std::path::Path,
) -> anyhow::Result<arbour_config::ClusterFile> {
    let file = arbour_config::ClusterFile::load(path)?;
    let problems = app.check(&file);
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(file)
}
