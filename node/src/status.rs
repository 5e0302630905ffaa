//! `arbour status --config F`: the running cluster as its nodes see it,
//! asked with the file's credentials by a node that does not join (it is
//! not a member, so it changes nothing): each node's state and
//! incarnation, its restarts, and each deployment's instances by node.

use anyhow::Context as _;
use arbour::Node;
use arbour_config::{ClusterFile, Security};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How long each node has to answer.
const ASK: Duration = Duration::from_secs(3);

/// The status report, as text.
pub fn report(file: &ClusterFile) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let me = format!("status-{}", std::process::id());
        let b = Node::builder(&me).cluster_name(&file.name);
        let b = match &file.security {
            // a client: it asks, and takes no part in the cluster
            Security::Secret(s) => b.secret_as_client(s),
            Security::Tls { ca, cert_dir } => {
                let (cert, key) = (cert_dir.join("status.crt"), cert_dir.join("status.key"));
                anyhow::ensure!(
                    cert.exists() && key.exists(),
                    "status with certificate files needs {} and {} (make them with: arbour certs --client --cluster {} --out {} status)",
                    cert.display(),
                    key.display(),
                    file.name,
                    cert_dir.display()
                );
                b.tls_files(ca, cert, key)
            }
        };
        let node = b.start().await.context("starting the status node")?;
        let mut registry = node.global().events()?;
        let asks = file.nodes.iter().map(|n| {
            let node = node.clone();
            async move {
                let _ = tokio::time::timeout(ASK, node.net().connect(&n.name, n.listen)).await;
                (n.name.clone(), node.status_of(&n.name, ASK).await)
            }
        });
        let answers: Vec<_> = futures_util::future::join_all(asks).await;
        // the registry parts arrive with the connections: let them settle
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), registry.recv()).await {}
        let mut out = String::new();
        let reachable = answers.iter().filter(|(_, a)| a.is_ok()).count();
        let _ = writeln!(out, "cluster {}: {reachable} of {} nodes answer", file.name, file.nodes.len());
        let _ = writeln!(out, "{:<12} {:<12} {:<16} restarts", "node", "state", "incarnation");
        // what the members that answer remember of one that does not: the
        // latest life wins (a left life followed by a downed one is down)
        let mut gone: BTreeMap<String, (u64, &str)> = BTreeMap::new();
        for s in answers.iter().filter_map(|(_, a)| a.as_ref().ok()) {
            let lives = s.down.iter().map(|n| (n, "down")).chain(s.left.iter().map(|n| (n, "left")));
            for (n, state) in lives {
                let e = gone.entry(n.name.to_string()).or_insert((n.incarnation, state));
                if n.incarnation > e.0 {
                    *e = (n.incarnation, state);
                }
            }
        }
        for (name, answer) in &answers {
            let line = match answer {
                Ok(s) => format!(
                    "{name:<12} {:<12} {:<16} {}",
                    "up",
                    s.node.incarnation,
                    s.restarts
                ),
                Err(e) => match gone.get(name) {
                    Some((inc, "left")) => format!("{name:<12} {:<12} {inc:<16} -   (it left the cluster)", "left"),
                    Some((inc, state)) => format!("{name:<12} {state:<12} {inc:<16} -   ({e})"),
                    None => format!("{name:<12} {:<12} {:<16} -   ({e})", "unreachable", "-"),
                },
            };
            let _ = writeln!(out, "{line}");
        }
        for d in &file.deploy {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            let ids = node.global().group_ids(&d.name);
            for id in &ids {
                *by.entry(id.node.name.to_string()).or_default() += 1;
            }
            let spread: Vec<String> = by.iter().map(|(n, c)| format!("{n}={c}")).collect();
            // the node holding the deployment's fence supervises it now
            let fence = crate::hosting::fence_name(&d.name);
            let holder = node
                .global()
                .whereis_id(&fence)
                .map_or_else(|| "no node".to_owned(), |id| id.node.name.to_string());
            let _ = writeln!(
                out,
                "deploy {} ({}): {} of {} instances ({}), supervised on {}",
                d.name,
                d.kind,
                ids.len(),
                d.instances,
                spread.join(" "),
                holder
            );
        }
        node.shutdown().await;
        Ok(out)
    })
}
