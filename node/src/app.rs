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
use std::io::Write as _;
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
            .kind::<crate::probe::Echo>(crate::probe::ECHO_KIND)
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
                    node.local_addr()?
                ));
                print_member_events(&node);
                app.start_deployments(&node, &file, say);
                let _ = eof_rx.await;
                Ok::<_, anyhow::Error>(())
            })
            .context("starting the node")?;
        ran.unwrap_or(Ok(()))
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
