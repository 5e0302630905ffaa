//! `arbour-node`: what the `arbour` binary runs, as a library, so a user's own
//! node binary (with its own actor kinds compiled in) can call the same code.

pub mod app;
pub mod certs;
pub mod cli;
pub mod cluster_demo;
pub mod demo;
pub mod fib;
pub mod probe;
pub mod serve;
pub mod status;
pub mod up;

pub use app::App;

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
