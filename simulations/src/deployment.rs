//! A cluster file in the simulator: the same [`ClusterFile`] `arbour run`
//! reads and the same [`App`] (the binary's actor kinds, a user's own
//! included), each node of the file on the simulated network at the
//! address the file gives it, each supervising its deployments as it would
//! in production. See `examples/fib_pool_crash_storm.rs`.

use crate::{SimCluster, Trace};
use anyhow::Context as _;
use arbour::Node;
use arbour_config::ClusterFile;
use arbour_node::App;
use std::collections::BTreeMap;

/// The nodes of one cluster file, running in the simulator.
#[derive(Debug)]
pub struct SimDeployment {
    /// The network and the nodes' seeds.
    pub cluster: SimCluster,
    /// The file.
    pub file: ClusterFile,
    /// The nodes running now, by name.
    pub nodes: BTreeMap<String, Node>,
    /// The run's events: starts, crashes, membership changes, and what the
    /// deployments report.
    pub trace: Trace,
    app: App,
}

impl SimDeployment {
    /// `file`'s cluster with `app`'s kinds, on `cluster`'s network.
    pub fn new(cluster: SimCluster, file: ClusterFile, app: App) -> Self {
        Self {
            cluster,
            file,
            nodes: BTreeMap::new(),
            trace: Trace::default(),
            app,
        }
    }

    /// Starts (or restarts, as a newer life) node `name` of the file, with
    /// every kind, supervising the deployments the file gives it.
    pub async fn start(&mut self, name: &str) -> anyhow::Result<Node> {
        let me = self
            .file
            .node(name)
            .with_context(|| format!("no node {name:?} in the file"))?
            .clone();
        // the file's settings, on the simulator's builder (its socket, seed
        // and life); checked first, so the closure cannot fail
        arbour_node::configure(&self.file, name, Node::builder(name))?;
        let file = self.file.clone();
        let (node, _) = self
            .cluster
            .start_at(name, Some(me.listen), move |b| {
                arbour_node::configure(&file, &me.name, b)
                    .unwrap_or_else(|e| unreachable!("checked above: {e}"))
            })
            .await?;
        self.app.register_kinds(&node)?;
        self.trace.record(format!("start {}", node.node_id()));
        let mut events = node.membership().events().context("membership")?;
        let (trace, me) = (self.trace.clone(), node.node_id().to_string());
        tokio::task::spawn_local(async move {
            while let Ok(e) = events.recv().await {
                let m = e.member();
                trace.record(format!(
                    "{me} sees {} {}#{}",
                    e.name(),
                    m.name,
                    m.incarnation
                ));
            }
        });
        let (trace, me) = (self.trace.clone(), node.node_id().to_string());
        self.app.start_deployments(&node, &self.file, move |line| {
            trace.record(format!("{me}: {line}"))
        });
        self.nodes.insert(name.to_owned(), node.clone());
        Ok(node)
    }

    /// Starts every node of the file, in its order.
    pub async fn start_all(&mut self) -> anyhow::Result<()> {
        let names: Vec<String> = self.file.nodes.iter().map(|n| n.name.clone()).collect();
        for n in names {
            self.start(&n).await?;
        }
        Ok(())
    }

    /// Crashes node `name`: every task of it dropped at once.
    pub async fn crash(&mut self, name: &str) {
        if let Some(n) = self.nodes.remove(name) {
            self.trace.record(format!("crash {}", n.node_id()));
            n.crash().await;
        }
    }

    /// Crashes every node (the run's end).
    pub async fn crash_all(&mut self) {
        for (_, n) in std::mem::take(&mut self.nodes) {
            n.crash().await;
        }
    }
}
