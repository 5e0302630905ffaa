//! `arbour-node`: what the `arbour` binary runs, as a library, so a user's
//! own node binary (with its own actor kinds compiled in) is the same
//! program: `App::new().kind::<MyWorker>("my_worker").main()`.
//!
//! The library's face is [`App`], [`configure`] (a node builder set up as
//! one node of a cluster file, as `arbour run` makes it), [`init_logging`],
//! the Fibonacci worker the demos use ([`fib`]) and the demo's cluster
//! file ([`DEMO_FILE`]). The subcommands live in files of their names.

mod app;
mod certs;
mod chaos;
mod cli;
mod demo;
pub mod fib;
mod hosting;
mod rebalance;
mod run;
mod serve;
mod status;
mod up;

pub use app::App;
pub use demo::DEFAULT_FILE as DEMO_FILE;
pub use hosting::fence_name;
pub use run::configure;

/// Installs the default log subscriber: `tracing` to stderr, UTC RFC 3339
/// timestamps, filter from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
