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

use crate::hosting::{Orphans, Started};
use anyhow::Context as _;
use arbour::{cluster::Kind, ActorId, ChildSpec, Node, SupervisorSpec, WorkerPlacement};
use arbour_config::{ClusterFile, Deploy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

type Register = Arc<dyn Fn(&Node) -> Result<(), arbour::NodeError> + Send + Sync>;
type MakeChild = Arc<
    dyn Fn(
            &Deploy,
            usize,
            arbour::cluster::Placement,
            Option<&Orphans>,
        ) -> anyhow::Result<ChildSpec>
        + Send
        + Sync,
>;
/// Stops the members of a group with the given ids; returns how many.
type StopSome = Arc<dyn Fn(&Node, &str, &[ActorId]) -> usize + Send + Sync>;

/// One kind compiled into the binary.
#[derive(Clone)]
struct KindEntry {
    name: String,
    register: Register,
    child: MakeChild,
    stop_some: StopSome,
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
        let child: MakeChild = Arc::new(
            |d: &Deploy, i: usize, at: arbour::cluster::Placement, orphans: Option<&Orphans>| {
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
                let (group, id) = (d.name.clone(), format!("{}-{i}", d.name));
                let spec = match orphans {
                    None => ChildSpec::remote_in_group::<A>(group, id, at, d.kind.clone(), args),
                    Some(o) => {
                        // the child's first start adopts an orphan if one is
                        // left; its later starts spawn
                        let release = o.release().clone();
                        let (o, first) = (o.clone(), Arc::new(AtomicBool::new(true)));
                        let adopt: arbour::supervision::Adopt<A> = Arc::new(move || {
                            if !first.swap(false, Ordering::AcqRel) {
                                return None;
                            }
                            let id = o.take()?;
                            o.node()
                                .global()
                                .group::<A>(o.group())
                                .into_iter()
                                .find(|r| *r.id() == id)
                        });
                        ChildSpec::adopting::<A>(
                            group,
                            id,
                            at,
                            d.kind.clone(),
                            args,
                            adopt,
                            release,
                        )
                    }
                };
                Ok(spec.restart(restart))
            },
        );
        let stop_some: StopSome = Arc::new(|node: &Node, group: &str, ids: &[ActorId]| {
            let mut stopped = 0;
            for r in node.global().group::<A>(group) {
                if ids.contains(r.id()) {
                    r.stop();
                    stopped += 1;
                }
            }
            stopped
        });
        self.kinds.push(KindEntry {
            name: name.to_owned(),
            register,
            child,
            stop_some,
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
                    if let Err(e) = (k.child)(d, 0, arbour::cluster::Placement::Any, None) {
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

    /// Starts, in the background, a host for each deployment of `file` on
    /// `node` (see `hosting`): the node the rule picks supervises it, and
    /// another takes over when that node goes. Each says what happened
    /// through `report` (`arbour run` prints it; the simulator traces it).
    /// Call inside the node's `LocalSet`.
    pub fn start_deployments(
        &self,
        node: &Node,
        file: &ClusterFile,
        report: impl Fn(String) + Clone + 'static,
    ) {
        for d in &file.deploy {
            tokio::task::spawn_local(crate::hosting::host(
                self.clone(),
                node.clone(),
                file.clone(),
                d.clone(),
                report.clone(),
            ));
        }
    }

    /// Starts deployment `d`'s supervisor on `node`: with `gather`, once
    /// the nodes its placement allows have come up (or [`GATHER`] has
    /// passed); its children adopt what runs of `orphans` first. Returns
    /// the supervisor, how many instances it adopted, and how many of the
    /// orphans beyond its count it stopped.
    pub(crate) async fn start_supervisor(
        &self,
        node: &Node,
        file: &ClusterFile,
        d: &Deploy,
        gather: bool,
        orphans: Vec<ActorId>,
    ) -> anyhow::Result<Started> {
        let kind = self
            .kinds
            .iter()
            .find(|k| k.name == d.kind)
            .with_context(|| format!("no kind {:?}", d.kind))?;
        if gather {
            self.gather(node, file, d).await?;
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
        let orphans = Orphans::new(node, &d.name, orphans);
        for i in 0..d.instances {
            spec = spec.child((kind.child)(d, i, at.clone(), Some(&orphans))?);
        }
        let sup = node
            .start_supervisor(WorkerPlacement::RoundRobin, spec)
            .await?;
        let surplus = (kind.stop_some)(node, &d.name, &orphans.rest());
        // the instances join the group on their nodes: wait (briefly) to
        // see them all, to say where they run
        let mut events = node.global().events()?;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while node.global().group_ids(&d.name).len() < d.instances {
                if events.recv().await.is_err() {
                    return;
                }
            }
        })
        .await;
        Ok((sup, orphans.adopted(), surplus, orphans.release().clone()))
    }

    /// Waits until the nodes `d`'s placement allows are members with its
    /// kind, or [`GATHER`] has passed with at least one.
    async fn gather(&self, node: &Node, file: &ClusterFile, d: &Deploy) -> anyhow::Result<()> {
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
                return Ok(());
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
    }
}
