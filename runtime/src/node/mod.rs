//! The `Node` handle: one node's identity, actors, names and supervisors,
//! wired together (DESIGN.md §1). Transport and membership join it later.

use crate::actor::Host;
use crate::platform;
use crate::registry::Registry;
use std::sync::Arc;

/// One arbour node. Cheap to clone. Dereferences to its [`Host`] (spawning,
/// ids, RNG, counters).
///
/// ```
/// let node = arbour::Node::builder("alpha").seed(42).incarnation(1).build();
/// assert_eq!(node.node_id().to_string(), "alpha#1");
/// ```
#[derive(Clone, Debug)]
pub struct Node {
    host: Host,
    registry: Arc<Registry>,
}

impl std::ops::Deref for Node {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl AsRef<Host> for Node {
    fn as_ref(&self) -> &Host {
        &self.host
    }
}

impl Node {
    /// Starts describing a node called `name`.
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            seed: None,
            incarnation: None,
        }
    }

    /// The node's local name registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The node's actor host.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// Builds a [`Node`].
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    name: String,
    seed: Option<u64>,
    incarnation: Option<u64>,
}

impl NodeBuilder {
    /// Seeds the node's RNG (default: derived from the incarnation).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the incarnation (default: wall-clock milliseconds at build).
    pub fn incarnation(mut self, n: u64) -> Self {
        self.incarnation = Some(n);
        self
    }

    /// Builds the node.
    pub fn build(self) -> Node {
        let incarnation = self.incarnation.unwrap_or_else(platform::fresh_incarnation);
        let seed = self.seed.unwrap_or(incarnation);
        Node {
            host: Host::new(&self.name, incarnation, seed),
            registry: Arc::new(Registry::default()),
        }
    }
}

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
