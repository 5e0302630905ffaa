//! `arbour run`: one node of a cluster file, with the deployments it
//! supervises, until SIGINT/SIGTERM; and how a node builder is set up as
//! one node of a file ([`configure`], which the simulator uses too).

use crate::App;
use anyhow::Context as _;
use arbour::Node;
use arbour_config::ClusterFile;
use std::io::Write as _;

impl App {
    /// Runs node `name` of `file` until SIGINT/SIGTERM (or, with
    /// `stdin_eof`, until its standard input closes), then leaves the
    /// cluster gracefully. Prints `node NAME listening ADDR`, a line per
    /// membership change and one per deployment started.
    pub fn run_node(&self, file: &ClusterFile, name: &str, stdin_eof: bool) -> anyhow::Result<()> {
        let problems = self.check(file);
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
        let mut b = configure(file, name, Node::builder(name))?;
        if let Some(w) = file.node(name).and_then(|me| me.workers) {
            b = b.workers(w);
        }
        let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
        if stdin_eof {
            std::thread::spawn(move || {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    line.clear();
                }
                let _ = eof_tx.send(());
            });
        } else {
            std::mem::forget(eof_tx);
        }
        let (app, file) = (self.clone(), file.clone());
        let ran = b
            .run(move |node| async move {
                app.register_kinds(&node)?;
                say(format!(
                    "node {} listening {}",
                    node.node_id().name,
                    node.net().local_addr()?
                ));
                print_member_events(&node);
                app.start_deployments(&node, &file, say);
                let _ = eof_rx.await;
                Ok::<_, anyhow::Error>(())
            })
            .context("starting the node")?;
        ran.unwrap_or(Ok(()))
    }
}

/// `b` set up as node `name` of `file`: its cluster name, listen address,
/// security, failure detection, roles, and every other node of the file as
/// a seed. (`arbour run` builds its node so; the simulator too, over a
/// simulated socket.)
pub fn configure(
    file: &ClusterFile,
    name: &str,
    b: arbour::NodeBuilder,
) -> anyhow::Result<arbour::NodeBuilder> {
    let me = file
        .node(name)
        .with_context(|| format!("{}: no node {name:?} in the file", file.path.display()))?;
    let mut b = b
        .cluster_name(&file.name)
        .listen(me.listen)
        .membership(membership(&file.membership));
    b = match &file.security {
        arbour_config::Security::Secret(s) => b.secret(s),
        arbour_config::Security::Tls { ca, cert_dir } => b.tls_files(
            ca,
            cert_dir.join(format!("{}.crt", me.name)),
            cert_dir.join(format!("{}.key", me.name)),
        ),
    };
    for r in &me.roles {
        b = b.role(r);
    }
    for other in file.nodes.iter().filter(|n| n.name != me.name) {
        b = b.seed_node(&other.name, other.listen);
    }
    Ok(b)
}

/// The file's failure-detection tuning over arbour's defaults.
pub fn membership(m: &arbour_config::Membership) -> arbour::cluster::MembershipConfig {
    let d = arbour::cluster::MembershipConfig::default();
    arbour::cluster::MembershipConfig {
        probe_period: m.probe_period.unwrap_or(d.probe_period),
        probe_rtt: m.probe_rtt.unwrap_or(d.probe_rtt),
        suspect_to_down_after: m.suspect_to_down_after.unwrap_or(d.suspect_to_down_after),
        remove_down_after: m.remove_down_after.unwrap_or(d.remove_down_after),
    }
}

/// A line on stdout, flushed (parents read it as it comes).
pub(crate) fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Prints `member up|suspect|down|left|replaced|forgotten NAME INCARNATION`
/// for each membership change of `node`.
pub(crate) fn print_member_events(node: &Node) {
    if let Some(mut events) = node.membership().events() {
        tokio::task::spawn_local(async move {
            while let Ok(e) = events.recv().await {
                let m = e.member();
                say(format!("member {} {} {}", e.name(), m.name, m.incarnation));
            }
        });
    }
}
