//! The arbour cluster file: one TOML file describes a whole cluster (its
//! name and security, its nodes, how fast failures are detected, and what
//! is deployed where). Every node process is started with the file and its
//! own name.
//!
//! This crate only reads and checks the file; it knows nothing of arbour's
//! runtime, so tools can validate a file without starting anything. Every
//! problem names the file, the field and what was expected, and a file
//! with several problems reports all the ones found after parsing.
//!
//! ```
//! let file = arbour_config::ClusterFile::parse("cluster.toml", r#"
//!     [cluster]
//!     name = "demo"
//!     secret = "change-me"
//!
//!     [[node]]
//!     name = "alpha"
//!     listen = "127.0.0.1:7100"
//!
//!     [[node]]
//!     name = "beta"
//!     listen = "127.0.0.1:7101"
//!     roles = ["worker"]
//!
//!     [[deploy]]
//!     name = "fib"
//!     kind = "fib_worker"
//!     on = { role = "worker" }
//!     instances = 4
//! "#).expect("a valid file");
//! assert_eq!(file.nodes.len(), 2);
//! assert_eq!(file.deploy[0].supervise_on, "alpha");
//! ```

mod split_brain;
pub use split_brain::{
    defaults as split_brain_defaults, detection, SplitBrain, SplitBrainStrategy, UnstableAfter,
};

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a cluster file is not usable: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// Each problem, one line each.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {p}", self.file)?;
        }
        Ok(())
    }
}

/// A node name: what certificates and the network accept (letters, digits,
/// `-`, `_`, `.`; up to 64).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// How nodes prove they belong to the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// Every node derives the same CA from this secret.
    Secret(String),
    /// Certificate files: the CA, and a directory with `NODE.crt` and
    /// `NODE.key` per node (as `arbour certs` writes them). Relative paths
    /// are relative to the file's directory.
    Tls {
        /// The CA certificate(s).
        ca: PathBuf,
        /// The directory of node certificates and keys.
        cert_dir: PathBuf,
    },
}

/// Failure detection tuning (the defaults are arbour's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// `probe_period`.
    pub probe_period: Option<Duration>,
    /// `probe_rtt`.
    pub probe_rtt: Option<Duration>,
    /// `suspect_to_down_after`.
    pub suspect_to_down_after: Option<Duration>,
    /// `remove_down_after`.
    pub remove_down_after: Option<Duration>,
    /// `on_downed`: what a node does once the cluster declared it down.
    pub on_downed: OnDowned,
    /// `drain_timeout`: how long a leaving node waits for what it runs for

    /// `"0s"` leaves at once).
    pub drain_timeout: Option<Duration>,
    /// `max_members`: the most members a node holds (news of more is
    /// dropped, counted; it bounds what made-up members can cost).
    pub max_members: Option<usize>,
}

/// What a node does once the cluster declared it down (`on_downed`; it
/// was paused, starved or cut off long enough for the others to give up
/// on it). Either way its life in the cluster is over: its actors stop
/// and it leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDowned {
    /// `"rejoin"` (the default): `arbour run` starts the node again in
    /// the same process, as a new life, which joins the cluster as any
    /// restarted node does.
    #[default]
    Rejoin,
    /// `"exit"`: the process exits with code 75 (`EX_TEMPFAIL`), for a
    /// service manager to restart (or not) as it is told.
    Exit,
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// Its name (unique).
    pub name: String,
    /// Where it listens (unique); the others join through it.
    pub listen: SocketAddr,
    /// Its roles.
    pub roles: Vec<String>,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
}

/// Where a deployment's instances run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On this node.
    Node(String),
    /// On nodes with this role.
    Role(String),
    /// On any node.
    Any,
}

/// A supervision strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// `one_for_one`.
    OneForOne,
    /// `one_for_all`.
    OneForAll,
    /// `rest_for_one`.
    RestForOne,
}

/// A restart policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted after an abnormal exit.
    Transient,
    /// Never restarted.
    Temporary,
}

/// A deployment: a supervisor (on `supervise_on`) whose `instances`
/// children of kind `kind` run where `on` says.
#[derive(Clone, Debug, PartialEq)]
pub struct Deploy {
    /// Its name: the supervisor is registered under it, and its instances
    /// are the members of the process group of that name.
    pub name: String,
    /// The actor kind (compiled into the node binary).
    pub kind: String,
    /// Where the instances run.
    pub on: Placement,
    /// How many.
    pub instances: usize,
    /// Their restart policy.
    pub restart: Restart,
    /// The supervisor's strategy.
    pub strategy: Strategy,
    /// Restarts allowed within `period`.
    pub intensity: u32,
    /// The intensity window.
    pub period: Duration,
    /// The supervisor's restart backoff (initial, max), if any: restarts
    /// after the first wait exponentially longer, up to max.
    pub backoff: Option<(Duration, Duration)>,
    /// The node the supervisor runs on while it is a member (default: the
    /// first node); otherwise the oldest member runs it.
    pub supervise_on: String,
    /// The start arguments, as TOML (the kind decodes them).
    pub args: Option<toml::Value>,
}

/// A whole cluster file, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The cluster's name.
    pub name: String,
    /// How nodes prove membership.
    pub security: Security,
    /// Failure detection tuning.
    pub membership: Membership,
    /// Which side of a partition goes on (`[cluster.split_brain]`).
    pub split_brain: SplitBrain,
    /// The nodes, in file order.
    pub nodes: Vec<NodeEntry>,
    /// The deployments, in file order.
    pub deploy: Vec<Deploy>,
}

// the file as written, before checking
type S<T> = toml::Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    cluster: Option<S<RawCluster>>,
    #[serde(default)]
    node: Vec<S<RawNode>>,
    #[serde(default)]
    deploy: Vec<S<RawDeploy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Option<S<String>>,
    secret: Option<S<String>>,
    tls: Option<S<RawTls>>,
    membership: Option<RawMembership>,
    split_brain: Option<S<split_brain::RawSplitBrain>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: Option<S<String>>,
    cert_dir: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembership {
    probe_period: Option<S<String>>,
    probe_rtt: Option<S<String>>,
    suspect_to_down_after: Option<S<String>>,
    remove_down_after: Option<S<String>>,
    on_downed: Option<S<String>>,
    drain_timeout: Option<S<String>>,
    max_members: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Option<S<String>>,
    listen: Option<S<String>>,
    #[serde(default)]
    roles: Vec<S<String>>,
    workers: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    name: Option<S<String>>,
    kind: Option<S<String>>,
    on: Option<S<toml::Value>>,
    instances: Option<S<i64>>,
    restart: Option<S<String>>,
    supervisor: Option<S<RawSupervisor>>,
    supervise_on: Option<S<String>>,
    args: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupervisor {
    strategy: Option<S<String>>,
    intensity: Option<S<i64>>,
    period: Option<S<String>>,
    backoff: Option<S<RawBackoff>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackoff {
    initial: Option<S<String>>,
    max: Option<S<String>>,
}

/// Collects problems while checking; each is placed at a line and column.
struct Check<'t> {
    text: &'t str,
    problems: Vec<String>,
}

impl Check<'_> {
    /// "line L, column C" of byte offset `at`.
    fn at(&self, at: usize) -> String {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {col}")
    }

    fn fail(&mut self, at: usize, p: impl Into<String>) {
        let p = format!("{}: {}", self.at(at), p.into());
        self.problems.push(p);
    }

    /// A field's value, or a problem placed at its table (`at`).
    fn required<T>(&mut self, v: Option<S<T>>, at: usize, field: &str, what: &str) -> Option<S<T>> {
        if v.is_none() {
            self.fail(at, format!("{field}: missing (expected {what})"));
        }
        v
    }

    fn duration(&mut self, v: Option<S<String>>, field: &str) -> Option<Duration> {
        let v = v?;
        let (at, s) = (v.span().start, v.into_inner());
        match humantime::parse_duration(&s) {
            Ok(d) if d > Duration::ZERO => Some(d),
            Ok(_) => {
                self.fail(
                    at,
                    format!("{field}: {s:?} is zero (expected a positive duration)"),
                );
                None
            }
            Err(_) => {
                self.fail(
                    at,
                    format!("{field}: {s:?} is not a duration (expected a number and a unit, like \"500ms\" or \"10s\")"),
                );
                None
            }
        }
    }
}

impl ClusterFile {
    /// Reads and checks the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            problems: vec![format!("cannot read the file: {e}")],
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, read from `path` (relative certificate paths are
    /// resolved against its directory, and must exist).
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Self, ConfigError> {
        let path = path.as_ref().to_path_buf();
        let file = path.display().to_string();
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![parse_problem(text, &e)],
        })?;
        let mut c = Check {
            text,
            problems: Vec::new(),
        };
        let out = Self::check(&path, raw, &mut c);
        match out {
            Some(f) if c.problems.is_empty() => Ok(f),
            _ => Err(ConfigError {
                file,
                problems: c.problems,
            }),
        }
    }

    fn check(path: &Path, raw: RawFile, c: &mut Check<'_>) -> Option<Self> {
        let Some(cluster) = raw.cluster else {
            c.fail(
                0,
                "[cluster]: missing (expected a [cluster] table with a name)",
            );
            let _ = Self::check_nodes(raw.node, c);
            return None;
        };
        let table = cluster.span().start;
        let cl = cluster.into_inner();
        let name = c.required(cl.name, table, "cluster.name", "the cluster's name");
        if let Some(n) = &name {
            if !valid_name(n.get_ref()) {
                c.fail(
                    n.span().start,
                    format!(
                        "cluster.name: {:?} is not a valid name (expected letters, digits, '-', '_' or '.', at most 64)",
                        n.get_ref()
                    ),
                );
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let security = match (cl.secret, cl.tls) {
            (Some(s), Some(_)) => {
                c.fail(
                    s.span().start,
                    "cluster: both secret and [cluster.tls] (expected one of them)",
                );
                None
            }
            (None, None) => {
                c.fail(
                    table,
                    "cluster: no security (expected secret = \"...\" or a [cluster.tls] table)",
                );
                None
            }
            (Some(s), None) if s.get_ref().is_empty() => {
                c.fail(
                    s.span().start,
                    "cluster.secret: empty (expected a shared secret)",
                );
                None
            }
            (Some(s), None) => Some(Security::Secret(s.into_inner())),
            (None, Some(t)) => {
                let at = t.span().start;
                let t = t.into_inner();
                let ca = c.required(t.ca, at, "cluster.tls.ca", "the CA certificate's path");
                let cert_dir = c.required(
                    t.cert_dir,
                    at,
                    "cluster.tls.cert_dir",
                    "the directory of node certificates",
                );
                match (ca, cert_dir) {
                    (Some(ca), Some(d)) => {
                        let (ca_at, d_at) = (ca.span().start, d.span().start);
                        let (ca, d) = (dir.join(ca.into_inner()), dir.join(d.into_inner()));
                        if !ca.is_file() {
                            c.fail(ca_at, format!("cluster.tls.ca: {} does not exist (expected the CA certificate, e.g. from `arbour certs`)", ca.display()));
                        }
                        if !d.is_dir() {
                            c.fail(d_at, format!("cluster.tls.cert_dir: {} is not a directory (expected the directory `arbour certs --out` wrote)", d.display()));
                        }
                        Some(Security::Tls { ca, cert_dir: d })
                    }
                    _ => None,
                }
            }
        };
        let membership = cl.membership.map_or_else(Membership::default, |m| {
            let (pp, pr) = (
                m.probe_period.as_ref().map(|v| v.span().start),
                m.probe_rtt.as_ref().map(|v| v.span().start),
            );
            let out = Membership {
                probe_period: c.duration(m.probe_period, "cluster.membership.probe_period"),
                probe_rtt: c.duration(m.probe_rtt, "cluster.membership.probe_rtt"),
                suspect_to_down_after: c.duration(m.suspect_to_down_after, "cluster.membership.suspect_to_down_after"),
                remove_down_after: c.duration(m.remove_down_after, "cluster.membership.remove_down_after"),
                drain_timeout: c.duration(m.drain_timeout, "cluster.membership.drain_timeout"),
                max_members: match m.max_members {
                    None => None,
                    Some(v) if (3..=1_000_000).contains(v.get_ref()) => usize::try_from(*v.get_ref()).ok(),
                    Some(v) => {
                        c.fail(
                            v.span().start,
                            format!("cluster.membership.max_members: {} (expected 3 to 1000000)", v.get_ref()),
                        );
                        None
                    }
                },
                on_downed: match m.on_downed {
                    None => OnDowned::Rejoin,
                    Some(v) => match v.get_ref().as_str() {
                        "rejoin" => OnDowned::Rejoin,
                        "exit" => OnDowned::Exit,
                        other => {
                            c.fail(
                                v.span().start,
                                format!("cluster.membership.on_downed: {other:?} (expected \"rejoin\" or \"exit\")"),
                            );
                            OnDowned::Rejoin
                        }
                    },
                },
            };
            if let (Some(p), Some(r), Some(at)) = (out.probe_period, out.probe_rtt, pr.or(pp)) {
                if r >= p {
                    c.fail(
                        at,
                        format!("cluster.membership.probe_rtt: {r:?} is not shorter than probe_period {p:?} (expected a shorter one)"),
                    );
                }
            }
            out
        });
        let nodes = Self::check_nodes(raw.node, c);
        if let Some(Security::Tls { cert_dir, .. }) = &security {
            for (n, at) in &nodes {
                for ext in ["crt", "key"] {
                    let f = cert_dir.join(format!("{}.{ext}", n.name));
                    if cert_dir.is_dir() && !f.is_file() {
                        c.fail(
                            *at,
                            format!(
                                "node {:?}: {} is missing from the certificate directory (expected {}.crt and {}.key: arbour certs --out {} {})",
                                n.name,
                                f.display(),
                                n.name,
                                n.name,
                                cert_dir.display(),
                                n.name
                            ),
                        );
                    }
                }
            }
        }
        let nodes: Vec<NodeEntry> = nodes.into_iter().map(|(n, _)| n).collect();
        let split_brain = SplitBrain::check(cl.split_brain, nodes.len(), &membership, c);
        let deploy = Self::check_deploys(raw.deploy, &nodes, c);
        Some(Self {
            path: path.to_path_buf(),
            name: name?.into_inner(),
            security: security?,
            membership,
            split_brain,
            nodes,
            deploy,
        })
    }

    /// The nodes, each with where its table starts.
    fn check_nodes(raw: Vec<S<RawNode>>, c: &mut Check<'_>) -> Vec<(NodeEntry, usize)> {
        if raw.is_empty() {
            c.fail(c.text.len(), "[[node]]: none (expected at least one node)");
        }
        let (mut names, mut addrs) = (BTreeSet::new(), BTreeSet::new());
        let mut nodes = Vec::new();
        for (i, n) in raw.into_iter().enumerate() {
            let table = n.span().start;
            let n = n.into_inner();
            let at = format!("node[{i}]");
            let name = c.required(n.name, table, &format!("{at}.name"), "the node's name");
            if let Some(name) = &name {
                let (pos, v) = (name.span().start, name.get_ref());
                if !valid_name(v) {
                    c.fail(pos, format!("{at}.name: {v:?} is not a valid node name (expected letters, digits, '-', '_' or '.', at most 64)"));
                } else if !names.insert(v.clone()) {
                    c.fail(
                        pos,
                        format!("{at}.name: {v:?} is used by another node (expected unique names)"),
                    );
                }
            }
            let label = name
                .as_ref()
                .map_or(at.clone(), |n| format!("node {:?}", n.get_ref()));
            let listen = c.required(
                n.listen,
                table,
                &format!("{label}.listen"),
                "an address like \"127.0.0.1:7100\"",
            );
            let listen = listen.and_then(|l| {
                let (pos, l) = (l.span().start, l.into_inner());
                match l.parse::<SocketAddr>() {
                    Ok(a) if a.port() == 0 => {
                        c.fail(pos, format!("{label}.listen: {l:?} has port 0 (expected a fixed port: the other nodes join through it)"));
                        None
                    }
                    Ok(a) => {
                        if !addrs.insert(a) {
                            c.fail(pos, format!("{label}.listen: {l:?} is used by another node (expected unique addresses)"));
                        }
                        Some(a)
                    }
                    Err(_) => {
                        c.fail(pos, format!("{label}.listen: {l:?} is not an address (expected IP:PORT, like \"127.0.0.1:7100\")"));
                        None
                    }
                }
            });
            let mut roles = Vec::new();
            for r in n.roles {
                if !valid_name(r.get_ref()) {
                    c.fail(
                        r.span().start,
                        format!("{label}.roles: {:?} is not a valid role name", r.get_ref()),
                    );
                }
                roles.push(r.into_inner());
            }
            let workers = match n.workers {
                None => None,
                Some(w) if (1..=1024).contains(w.get_ref()) => usize::try_from(*w.get_ref()).ok(),
                Some(w) => {
                    c.fail(
                        w.span().start,
                        format!("{label}.workers: {} (expected 1 to 1024)", w.get_ref()),
                    );
                    None
                }
            };
            if let (Some(name), Some(listen)) = (name, listen) {
                nodes.push((
                    NodeEntry {
                        name: name.into_inner(),
                        listen,
                        roles,
                        workers,
                    },
                    table,
                ));
            }
        }
        nodes
    }

    fn check_deploys(
        raw: Vec<S<RawDeploy>>,
        nodes: &[NodeEntry],
        c: &mut Check<'_>,
    ) -> Vec<Deploy> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, d) in raw.into_iter().enumerate() {
            let table = d.span().start;
            let d = d.into_inner();
            let at = format!("deploy[{i}]");
            let name = c.required(
                d.name,
                table,
                &format!("{at}.name"),
                "the deployment's name",
            );
            if let Some(n) = &name {
                let (pos, v) = (n.span().start, n.get_ref());
                if !valid_name(v) {
                    c.fail(pos, format!("{at}.name: {v:?} is not a valid name"));
                } else if !names.insert(v.clone()) {
                    c.fail(pos, format!("{at}.name: {v:?} is used by another deployment (expected unique names)"));
                }
            }
            let label = name
                .as_ref()
                .map_or(at.clone(), |n| format!("deploy {:?}", n.get_ref()));
            let kind = c
                .required(
                    d.kind,
                    table,
                    &format!("{label}.kind"),
                    "an actor kind compiled into the node binary",
                )
                .map(S::into_inner);
            let on = match d.on {
                None => Some(Placement::Any),
                Some(v) => {
                    let pos = v.span().start;
                    placement(v.get_ref(), nodes, &format!("{label}.on"), pos, c)
                }
            };
            let instances = match d.instances {
                None => Some(1),
                Some(n) if (1..=100_000).contains(n.get_ref()) => {
                    usize::try_from(*n.get_ref()).ok()
                }
                Some(n) => {
                    c.fail(
                        n.span().start,
                        format!("{label}.instances: {} (expected 1 to 100000)", n.get_ref()),
                    );
                    None
                }
            };
            let restart = match d.restart {
                None => Some(Restart::Permanent),
                Some(r) => match r.get_ref().as_str() {
                    "permanent" => Some(Restart::Permanent),
                    "transient" => Some(Restart::Transient),
                    "temporary" => Some(Restart::Temporary),
                    other => {
                        c.fail(
                            r.span().start,
                            format!("{label}.restart: {other:?} (expected \"permanent\", \"transient\" or \"temporary\")"),
                        );
                        None
                    }
                },
            };
            let sup = d.supervisor.map(S::into_inner).unwrap_or(RawSupervisor {
                strategy: None,
                intensity: None,
                period: None,
                backoff: None,
            });
            let strategy = match sup.strategy {
                None => Some(Strategy::OneForOne),
                Some(st) => match st.get_ref().as_str() {
                    "one_for_one" => Some(Strategy::OneForOne),
                    "one_for_all" => Some(Strategy::OneForAll),
                    "rest_for_one" => Some(Strategy::RestForOne),
                    other => {
                        c.fail(
                            st.span().start,
                            format!("{label}.supervisor.strategy: {other:?} (expected \"one_for_one\", \"one_for_all\" or \"rest_for_one\")"),
                        );
                        None
                    }
                },
            };
            let intensity = match sup.intensity {
                None => Some(3),
                Some(n) if (0..=1_000_000).contains(n.get_ref()) => {
                    u32::try_from(*n.get_ref()).ok()
                }
                Some(n) => {
                    c.fail(
                        n.span().start,
                        format!(
                            "{label}.supervisor.intensity: {} (expected 0 to 1000000)",
                            n.get_ref()
                        ),
                    );
                    None
                }
            };
            let period = match sup.period {
                None => Some(Duration::from_secs(5)),
                p => c.duration(p, &format!("{label}.supervisor.period")),
            };
            let backoff = match sup.backoff {
                None => Some(None),
                Some(b) => {
                    let pos = b.span().start;
                    let b = b.into_inner();
                    let initial =
                        c.duration(b.initial, &format!("{label}.supervisor.backoff.initial"));
                    let max = c.duration(b.max, &format!("{label}.supervisor.backoff.max"));
                    match (initial, max) {
                        (Some(i), Some(m)) if i <= m => Some(Some((i, m))),
                        (Some(i), Some(m)) => {
                            c.fail(pos, format!("{label}.supervisor.backoff: initial {i:?} is longer than max {m:?} (expected initial <= max)"));
                            None
                        }
                        (None, _) | (_, None) => {
                            c.fail(pos, format!("{label}.supervisor.backoff: expected both initial and max, like {{ initial = \"100ms\", max = \"5s\" }}"));
                            None
                        }
                    }
                }
            };
            let supervise_on = match d.supervise_on {
                Some(n) if nodes.iter().any(|x| x.name == *n.get_ref()) => Some(n.into_inner()),
                Some(n) => {
                    c.fail(
                        n.span().start,
                        format!(
                            "{label}.supervise_on: no node {:?} in the file",
                            n.get_ref()
                        ),
                    );
                    None
                }
                None => nodes.first().map(|n| n.name.clone()),
            };
            if let (
                Some(name),
                Some(kind),
                Some(on),
                Some(instances),
                Some(restart),
                Some(strategy),
                Some(intensity),
                Some(period),
                Some(backoff),
                Some(supervise_on),
            ) = (
                name,
                kind,
                on,
                instances,
                restart,
                strategy,
                intensity,
                period,
                backoff,
                supervise_on,
            ) {
                out.push(Deploy {
                    name: name.into_inner(),
                    kind,
                    on,
                    instances,
                    restart,
                    strategy,
                    intensity,
                    period,
                    backoff,
                    supervise_on,
                    args: d.args,
                });
            }
        }
        out
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The kinds the deployments name, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.deploy.iter().map(|d| d.kind.as_str()).collect();
        set.into_iter().collect()
    }
}

fn placement(
    v: &toml::Value,
    nodes: &[NodeEntry],
    field: &str,
    at: usize,
    c: &mut Check<'_>,
) -> Option<Placement> {
    let expected = "expected \"any\", { node = \"NAME\" } or { role = \"ROLE\" }";
    match v {
        toml::Value::String(s) if s == "any" => Some(Placement::Any),
        toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
            Some((k, toml::Value::String(n))) if k == "node" => {
                if nodes.iter().any(|x| &x.name == n) {
                    Some(Placement::Node(n.clone()))
                } else {
                    c.fail(at, format!("{field}: no node {n:?} in the file"));
                    None
                }
            }
            Some((k, toml::Value::String(r))) if k == "role" => {
                if nodes.iter().any(|x| x.roles.contains(r)) {
                    Some(Placement::Role(r.clone()))
                } else {
                    c.fail(at, format!("{field}: no node has role {r:?}"));
                    None
                }
            }
            _ => {
                c.fail(at, format!("{field}: {v} ({expected})"));
                None
            }
        },
        other => {
            c.fail(at, format!("{field}: {other} ({expected})"));
            None
        }
    }
}

/// A TOML error as one line: where (line and column), and what.
fn parse_problem(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}
