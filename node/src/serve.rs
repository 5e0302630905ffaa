//! `arbour serve`: one node exposing a probe [`Echo`] as "echo" (and dialing
//! any peers it is given; as a cluster member, also registering it as
//! "echo@NAME", in the group "echoes", and Echo as the kind "echo"), until its standard input closes (so a parent
//! process that dies takes it along) or it gets SIGINT/SIGTERM/SIGHUP; either way
//! it shuts down gracefully, telling its peers goodbye.

use anyhow::Context as _;
use arbour::{net::Security, Node};
use arbour_testkit::Echo;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// What `arbour serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The node's name.
    pub name: String,
    /// The cluster's name.
    pub cluster: String,
    /// How the node proves it belongs to the cluster.
    pub security: Security,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Peers to dial at start.
    pub peers: Vec<(String, SocketAddr)>,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// How long a silent peer lives before it counts as lost (default 3 s).
    pub idle_timeout: Option<Duration>,
    /// Another protocol version to claim (version-skew tests only).
    pub protocol_version: Option<u16>,
    /// Take part in cluster membership (implied by `seeds`).
    pub membership: bool,
    /// Seed nodes to join the cluster through.
    pub seeds: Vec<(String, SocketAddr)>,
}

/// Runs the node until stdin reaches end of file or a termination signal.
pub fn run(opts: ServeOptions) -> anyhow::Result<()> {
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
        let _ = eof_tx.send(());
    });
    let mut builder = Node::builder(&opts.name)
        .cluster_name(&opts.cluster)
        .security(opts.security)
        .listen(opts.listen);
    for (peer, addr) in opts.peers {
        builder = builder.peer(peer, addr);
    }
    if let Some(n) = opts.workers {
        builder = builder.workers(n);
    }
    if let Some(v) = opts.protocol_version {
        builder = builder.protocol_version(v);
    }
    if let Some(d) = opts.idle_timeout {
        builder = builder.idle_timeout(d).keep_alive(d / 4);
    }
    let opts_membership = opts.membership || !opts.seeds.is_empty();
    if opts.membership {
        builder = builder.membership(arbour::cluster::MembershipConfig::default());
    }
    for (seed, addr) in opts.seeds {
        builder = builder.seed_node(seed, addr);
    }
    let served = builder
        .run(move |node| async move {
            let echo = node.spawn(Echo::default());
            node.expose(arbour_testkit::ECHO, &echo)
                .context("exposing echo")?;
            if opts_membership {
                // the cluster finds it too: by name, in a group, and as a kind
                node.kind::<Echo>(arbour_testkit::ECHO_KIND)?;
                node.global().register(
                    &format!("{}@{}", arbour_testkit::ECHO, node.node_id().name),
                    &echo,
                )?;
                node.global().join(arbour_testkit::ECHOES, &echo)?;
            }
            println!("listening {}", node.net().local_addr()?);
            std::io::stdout().flush()?;
            // membership changes, a line each (as `arbour run` prints them)
            crate::run::print_member_events(&node);
            let _ = eof_rx.await;
            Ok::<_, anyhow::Error>(())
        })
        .context("starting the node")?;
    served.unwrap_or(Ok(()))
}
