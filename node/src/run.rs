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
        let mut rejoining = false;
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
                if rejoining {
                    // a life that follows one the cluster downed joins the
                    // cluster before it serves: on a partition's losing
                    // side it must not start a second copy of what the
                    // other side runs
                    let me = node.node_id().name.to_string();
                    say(format!("node {me} waiting for {} of the file's nodes before starting its deployments", admitted_at(&this_file)));
                    wait_until_admitted(&node, &this_file).await;
                    say(format!("node {me} admitted"));
                }
                app.start_deployments(&node, &this_file, say);
                let _ = eof.wait_for(|closed| *closed).await;
                Ok::<_, anyhow::Error>(())
            });
            match ran {
                Ok(out) => return out.unwrap_or(Ok(())).map(|()| 0),
                Err(arbour::NodeError::Downed) => match file.membership.on_downed {
                    arbour_config::OnDowned::Rejoin => {
                        say(format!("node {name} downed: rejoining as a new life"));
                        rejoining = true;
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
        .membership(membership(file));
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
    if let Some(d) = file.membership.drain_timeout {
        b = b.drain_timeout(d);
    }
    for other in file.nodes.iter().filter(|n| n.name != me.name) {
        b = b.seed_node(&other.name, other.listen);
    }
    Ok(b)
}

/// How many of the file's nodes a rejoining life must see alive (itself
/// included) before it serves: what the split-brain resolver would keep
/// with the rest unreachable. Keep-majority: more than half (half, if the
/// lowest name is among them: see [`wait_until_admitted`]); static quorum:
/// the quorum; keep-oldest, whose oldest member a new life cannot know:
/// more than half; down-all: every node.
pub fn admitted_at(file: &ClusterFile) -> usize {
    let n = file.nodes.len();
    match file.split_brain.strategy {
        arbour_config::SplitBrainStrategy::KeepMajority
        | arbour_config::SplitBrainStrategy::KeepOldest { .. } => n / 2 + 1,
        arbour_config::SplitBrainStrategy::StaticQuorum(q) => q,
        arbour_config::SplitBrainStrategy::DownAll => n,
    }
}

/// Waits until `node` sees [`admitted_at`] of the file's nodes alive
/// (itself included), or, under keep-majority, exactly half of them with
/// the file's lowest node name among them.
async fn wait_until_admitted(node: &Node, file: &ClusterFile) {
    let Some(mut events) = node.membership().events() else {
        return;
    };
    while !sees_quorum(node, file) {
        if events.recv().await.is_err() {
            return;
        }
    }
}

/// Whether `node` sees [`admitted_at`] of the file's nodes alive (itself
/// included), or, under keep-majority, exactly half of them with the
/// file's lowest node name among them.
pub(crate) fn sees_quorum(node: &Node, file: &ClusterFile) -> bool {
    let lowest = file.nodes.iter().map(|n| n.name.as_str()).min();
    let me = node.node_id().name.to_string();
    let alive: std::collections::BTreeSet<String> = node
        .membership()
        .members()
        .into_iter()
        .map(|m| m.name)
        .chain([me])
        .filter(|n| file.node(n).is_some())
        .collect();
    let tie = file.split_brain.strategy == arbour_config::SplitBrainStrategy::KeepMajority
        && alive.len() * 2 == file.nodes.len()
        && lowest.is_some_and(|l| alive.contains(l));
    alive.len() >= admitted_at(file) || tie
}

/// The file's failure-detection tuning and split-brain resolver over
/// arbour's defaults.
pub fn membership(file: &ClusterFile) -> arbour::cluster::MembershipConfig {
    let (m, d) = (
        &file.membership,
        arbour::cluster::MembershipConfig::default(),
    );
    use arbour::cluster::{Strategy, WhenUnstable};
    use arbour_config::SplitBrainStrategy as S;
    arbour::cluster::MembershipConfig {
        probe_period: m.probe_period.unwrap_or(d.probe_period),
        probe_rtt: m.probe_rtt.unwrap_or(d.probe_rtt),
        suspect_to_down_after: m.suspect_to_down_after.unwrap_or(d.suspect_to_down_after),
        remove_down_after: m.remove_down_after.unwrap_or(d.remove_down_after),
        max_members: m.max_members.unwrap_or(d.max_members),
        split_brain: arbour::cluster::SplitBrain {
            strategy: match file.split_brain.strategy {
                S::KeepMajority => Strategy::KeepMajority,
                S::StaticQuorum(q) => Strategy::StaticQuorum(q),
                S::KeepOldest { down_if_alone } => Strategy::KeepOldest { down_if_alone },
                S::DownAll => Strategy::DownAll,
            },
            stable_after: file.split_brain.stable_after,
            when_unstable: match file.split_brain.down_all_when_unstable {
                Some(arbour_config::UnstableAfter::Default) => WhenUnstable::DownAll,
                Some(arbour_config::UnstableAfter::After(d)) => WhenUnstable::DownAllAfter(d),
                None => WhenUnstable::Wait,
            },
        },
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

#[cfg(test)]
mod tests {
    /// `arbour check` judges `stable_after` against failure detection with
    /// the runtime's defaults, which the config crate cannot read: they
    /// must be the same.
    #[test]
    fn the_checker_knows_the_runtime_failure_detection_defaults() {
        let d = arbour::cluster::MembershipConfig::default();
        assert_eq!(
            d.probe_period,
            arbour_config::split_brain_defaults::PROBE_PERIOD
        );
        assert_eq!(d.probe_rtt, arbour_config::split_brain_defaults::PROBE_RTT);
        assert_eq!(
            d.suspect_to_down_after,
            arbour_config::split_brain_defaults::SUSPECT_TO_DOWN_AFTER
        );
    }
}
