//! `arbour run`: one node of a cluster file, with the deployments it
//! supervises, until SIGINT/SIGTERM/SIGHUP; and how a node builder is set up as
//! one node of a file ([`configure`], which the simulator uses too).

use crate::App;
use anyhow::Context as _;
use arbour::Node;
use arbour_config::ClusterFile;
use std::io::Write as _;

/// The exit code of `arbour run` for a node the cluster declared down
/// when its file says `on_downed = "exit"` (`EX_TEMPFAIL`: a service
/// manager may start it again, and it then rejoins as a new life).
pub const EXIT_DOWNED: i32 = 75;

impl App {
    /// Runs node `name` of `file` until SIGINT/SIGTERM/SIGHUP (or, with
    /// `stdin_eof`, until its standard input closes), then leaves the
    /// cluster gracefully; returns the process's exit code. Prints `node
    /// NAME listening ADDR`, a line per membership change and one per
    /// deployment started.
    ///
    /// If the cluster declares the node down (it was paused, starved or
    /// cut off), the node shuts down and, as the file's `on_downed` says,
    /// starts again in this process as a new life (`"rejoin"`, the
    /// default; it prints `node NAME downed: rejoining as a new life`) or
    /// returns [`EXIT_DOWNED`] (`"exit"`).
    pub fn run_node(&self, file: &ClusterFile, name: &str, stdin_eof: bool) -> anyhow::Result<i32> {
        let problems = self.check(file);
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
        let mut b = configure(file, name, Node::builder(name))?;
        if let Some(w) = file.node(name).and_then(|me| me.workers) {
            b = b.workers(w);
        }
        let (eof_tx, eof_rx) = tokio::sync::watch::channel(false);
        if stdin_eof {
            std::thread::spawn(move || {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    line.clear();
                }
                let _ = eof_tx.send(true);
            });
        } else {
            std::mem::forget(eof_tx);
        }
        let mut last_life = 0;
        loop {
            // a new life is always a larger incarnation than the last
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let life = now_ms.max(last_life + 1);
            last_life = life;
            let (app, this_file, mut eof) = (self.clone(), file.clone(), eof_rx.clone());
            let ran = b.clone().incarnation(life).run(move |node| async move {
                app.register_kinds(&node)?;
                say(format!(
                    "node {} listening {}",
                    node.node_id().name,
                    node.net().local_addr()?
                ));
                print_member_events(&node);
                app.start_deployments(&node, &this_file, say);
                let _ = eof.wait_for(|closed| *closed).await;
                Ok::<_, anyhow::Error>(())
            });
            match ran {
                Ok(out) => return out.unwrap_or(Ok(())).map(|()| 0),
                Err(arbour::NodeError::Downed) => match file.membership.on_downed {
                    arbour_config::OnDowned::Rejoin => {
                        say(format!("node {name} downed: rejoining as a new life"));
                    }
                    arbour_config::OnDowned::Exit => {
                        say(format!("node {name} downed: exiting ({EXIT_DOWNED})"));
                        return Ok(EXIT_DOWNED);
                    }
                },
                Err(e) => return Err(anyhow::Error::new(e).context("starting the node")),
            }
        }
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
