//! A node binary built from a cluster file: the actor kinds compiled into
//! it, and running one node of the file (`arbour run`), with the
//! deployments it supervises. A user's own binary is a few lines:
//!
//! ```no_run
//! # use actix::prelude::*;
//! # struct MyWorker;
//! # impl Actor for MyWorker { type Context = Context<Self>; }
//! # arbour::remote_actor!(MyWorker {});
//! # impl arbour::cluster::Kind for MyWorker { type Args = (); fn from_args(_: ()) -> Self { MyWorker } }
//! fn main() {
//!     arbour_node::App::new()
//!         .kind::<MyWorker>("my_worker")
//!         .main() // `run`, `up`, `check`, … on this binary's kinds
//! }
//! ```

use anyhow::Context as _;
use arbour::{cluster::Kind, ChildSpec, Node, SupervisorSpec, WorkerPlacement};
use arbour_config::{ClusterFile, Deploy};
use std::sync::Arc;
use std::time::Duration;

type Register = Arc<dyn Fn(&Node) -> Result<(), arbour::NodeError> + Send + Sync>;
type MakeChild = Arc<
    dyn Fn(&Deploy, usize, arbour::cluster::Placement) -> anyhow::Result<ChildSpec> + Send + Sync,
>;

/// One kind compiled into the binary.
#[derive(Clone)]
struct KindEntry {
    name: String,
    register: Register,
    child: MakeChild,
}

/// The actor kinds a node binary offers, and what it does with a cluster
/// file.
#[derive(Clone, Default)]
pub struct App {
    kinds: Vec<KindEntry>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("kinds", &self.kind_names())
            .finish()
    }
}

/// How long a supervising node waits for the nodes its deployment may use
/// to come up before it starts the deployment with those it has.
const GATHER: Duration = Duration::from_secs(10);

impl App {
    /// A binary with no kinds yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `arbour` binary's own: `fib_worker` and `echo`.
    pub fn with_examples(self) -> Self {
        self.kind::<crate::fib::FibWorker>(crate::fib::FIB_WORKER)
            .kind::<arbour_testkit::Echo>(arbour_testkit::ECHO_KIND)
    }

    /// Compiles kind `A` in as `name`: every node of this binary can run
    /// it, and a deployment of the file may name it.
    pub fn kind<A>(mut self, name: &str) -> Self
    where
        A: Kind,
        A::Args: Clone + Sync + serde::de::DeserializeOwned,
    {
        let n = name.to_owned();
        let register: Register = Arc::new(move |node: &Node| node.kind::<A>(&n));
        let child: MakeChild = Arc::new(|d: &Deploy, i: usize, at: arbour::cluster::Placement| {
            let value = d
                .args
                .clone()
                .unwrap_or_else(|| toml::Value::Table(Default::default()));
            let args: A::Args = value.try_into().map_err(|e| {
                anyhow::anyhow!(
                    "deploy {:?}: args do not fit kind {:?}: {e}",
                    d.name,
                    d.kind
                )
            })?;
            let restart = match d.restart {
                arbour_config::Restart::Permanent => arbour::Restart::Permanent,
                arbour_config::Restart::Transient => arbour::Restart::Transient,
                arbour_config::Restart::Temporary => arbour::Restart::Temporary,
            };
            Ok(ChildSpec::remote_in_group::<A>(
                d.name.clone(),
                format!("{}-{i}", d.name),
                at,
                d.kind.clone(),
                args,
            )
            .restart(restart))
        });
        self.kinds.push(KindEntry {
            name: name.to_owned(),
            register,
            child,
        });
        self
    }

    /// Runs the command line (`run`, `up`, `check`, `demo`, …) with this
    /// binary's kinds, and exits.
    pub fn main(&self) -> ! {
        crate::cli::main(self)
    }

    /// The kinds compiled in, in registration order.
    pub fn kind_names(&self) -> Vec<&str> {
        self.kinds.iter().map(|k| k.name.as_str()).collect()
    }

    /// What is wrong with `file` for this binary (beyond what the file
    /// alone shows): kinds it does not have, and arguments that do not fit.
    pub fn check(&self, file: &ClusterFile) -> Vec<String> {
        let mut problems = Vec::new();
        for d in &file.deploy {
            match self.kinds.iter().find(|k| k.name == d.kind) {
                None => problems.push(format!(
                    "{}: deploy {:?}.kind: {:?} is not compiled into this binary (it has: {})",
                    file.path.display(),
                    d.name,
                    d.kind,
                    self.kind_names().join(", ")
                )),
                Some(k) => {
                    if let Err(e) = (k.child)(d, 0, arbour::cluster::Placement::Any) {
                        problems.push(format!("{}: {e}", file.path.display()));
                    }
                }
            }
        }
        problems
    }

    /// Registers every kind of this binary on `node`.
    pub fn register_kinds(&self, node: &Node) -> Result<(), arbour::NodeError> {
        for k in &self.kinds {
            (k.register)(node)?;
        }
        Ok(())
    }

    /// Starts, in the background, the deployments of `file` that `node`
    /// supervises; each says what happened through `report` (`arbour run`
    /// prints it; the simulator traces it). Call inside the node's
    /// `LocalSet`.
    pub fn start_deployments(
        &self,
        node: &Node,
        file: &ClusterFile,
        report: impl Fn(String) + Clone + 'static,
    ) {
        for d in file
            .deploy
            .iter()
            .filter(|d| d.supervise_on == *node.node_id().name)
        {
            let (app, node, d, file, report) = (
                self.clone(),
                node.clone(),
                d.clone(),
                file.clone(),
                report.clone(),
            );
            tokio::task::spawn_local(async move {
                if let Err(e) = app.deploy(&node, &file, &d, &report).await {
                    tracing::error!(deploy = %d.name, "deployment failed: {e:#}");
                    report(format!("deploy {} failed: {e:#}", d.name));
                }
            });
        }
    }

    /// Starts deployment `d`'s supervisor on `node`, once the nodes its
    /// placement allows have come up (or [`GATHER`] has passed).
    async fn deploy(
        &self,
        node: &Node,
        file: &ClusterFile,
        d: &Deploy,
        report: &impl Fn(String),
    ) -> anyhow::Result<()> {
        let kind = self
            .kinds
            .iter()
            .find(|k| k.name == d.kind)
            .with_context(|| format!("no kind {:?}", d.kind))?;
        let fits: Vec<&str> = file
            .nodes
            .iter()
            .filter(|n| match &d.on {
                arbour_config::Placement::Node(x) => n.name == *x,
                arbour_config::Placement::Role(r) => n.roles.contains(r),
                arbour_config::Placement::Any => true,
            })
            .map(|n| n.name.as_str())
            .collect();
        let mut events = node.global().events()?;
        let mut members = node.membership().events().context("membership")?;
        // the node's clock (virtual under the simulator), not the OS's
        let started = tokio::time::Instant::now();
        loop {
            // a node counts once it is a member and has the kind
            let have = node.global().nodes_with_kind(&d.kind);
            let live = node.membership().members();
            let ready = fits
                .iter()
                .filter(|f| have.iter().any(|n| &*n.name == **f))
                .filter(|f| **f == &*node.node_id().name || live.iter().any(|m| m.name == **f))
                .count();
            if ready == fits.len() || (ready > 0 && started.elapsed() >= GATHER) {
                break;
            }
            let left = GATHER
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(50));
            let _ = tokio::time::timeout(left, async {
                tokio::select! {
                    _ = events.recv() => {}
                    _ = members.recv() => {}
                }
            })
            .await;
        }
        let at = match &d.on {
            arbour_config::Placement::Node(n) => arbour::cluster::Placement::Node(n.clone()),
            arbour_config::Placement::Role(r) => arbour::cluster::Placement::Role(r.clone()),
            arbour_config::Placement::Any => arbour::cluster::Placement::Any,
        };
        let strategy = match d.strategy {
            arbour_config::Strategy::OneForOne => arbour::Strategy::OneForOne,
            arbour_config::Strategy::OneForAll => arbour::Strategy::OneForAll,
            arbour_config::Strategy::RestForOne => arbour::Strategy::RestForOne,
        };
        let mut spec = SupervisorSpec::new(strategy)
            .name(d.name.clone())
            .intensity(d.intensity)
            .period(d.period);
        if let Some((initial, max)) = d.backoff {
            spec = spec.backoff(arbour::supervision::Backoff::exponential(initial, max));
        }
        for i in 0..d.instances {
            spec = spec.child((kind.child)(d, i, at.clone())?);
        }
        let sup = node
            .start_supervisor(WorkerPlacement::RoundRobin, spec)
            .await?;
        // the instances join the group on their nodes: wait (briefly) to
        // see them all, to say where they run
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while node.global().group_ids(&d.name).len() < d.instances {
                if events.recv().await.is_err() {
                    return;
                }
            }
        })
        .await;
        let mut spread: std::collections::BTreeMap<String, usize> = Default::default();
        for id in node.global().group_ids(&d.name) {
            *spread.entry(id.node.name.to_string()).or_default() += 1;
        }
        let spread: Vec<String> = spread.iter().map(|(n, c)| format!("{n}={c}")).collect();
        report(format!(
            "deploy {} started: {} instances of {} ({})",
            d.name,
            d.instances,
            d.kind,
            spread.join(" ")
        ));
        // the supervisor runs until the node shuts down; say if it gives up
        let reason = sup.exited().await;
        report(format!("deploy {} supervisor exited: {reason}", d.name));
        Ok(())
    }
}
