//! The members of a scenario's cluster and what can happen to them: start
//! (or restart as a new life), crash, graceful restart, pause; and the
//! cluster-wide checks (membership and registry convergence).

use crate::{Faults, SimCluster, Trace};
use arbour::platform::NodeRng;
use arbour::Node;
use arbour_testkit::Echo;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// How long membership may take to converge after the faults stop.
pub const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

/// Each node's wall clock is off by up to this much, either way (seeded):
/// nothing in arbour's logic may notice.
const MAX_SKEW_MS: u64 = 120_000;

/// One member's current life.
#[derive(Debug)]
pub struct Member {
    /// Its node.
    pub node: Node,
    /// Its echo, registered as `svc@NAME` (and a member of group `echoes`).
    pub echo: arbour::ActorRef<Echo>,
    /// Set once this life learns the cluster declared it down (its node
    /// then shuts itself down), as `arbour run` learns it.
    pub downed: Rc<std::cell::Cell<bool>>,
}

/// A scenario's cluster: `m0` (never faulted: the workload's client) and
/// the others.
#[derive(Debug)]
pub struct World {
    /// The simulated network and the nodes' seeds.
    pub cluster: SimCluster,
    /// The members running now, by name.
    pub members: BTreeMap<String, Member>,
    /// The run's events.
    pub trace: Trace,
    /// `NameLost` notices: how many each life got for each name.
    pub lost: Rc<RefCell<BTreeMap<(String, String), u32>>>,
    rng: NodeRng,
}

impl World {
    /// An empty cluster on a network with `faults`.
    pub fn new(seed: u64, faults: Faults, trace: Trace) -> Self {
        Self {
            cluster: SimCluster::with_faults(seed, faults),
            members: BTreeMap::new(),
            trace,
            lost: Rc::default(),
            rng: NodeRng::from_seed(seed).derive("world"),
        }
    }

    /// Starts (or restarts, as a newer life) member `name`: a node joining
    /// through the first other member running (`m0` unless it is `m0`), with a seeded clock skew, the `echo` kind, and its
    /// echo registered as `svc@NAME` and in group `echoes`; its membership
    /// events are traced.
    pub async fn start(&mut self, name: &str) {
        let seed = self
            .members
            .keys()
            .find(|n| *n != name)
            .map(|n| (n.clone(), self.addr(n)));
        let skew = (self.rng.next_u64() % (2 * MAX_SKEW_MS)) as i64 - MAX_SKEW_MS as i64;
        let (node, _) = self
            .cluster
            .start_with(name, move |b| {
                let b = b
                    .membership(arbour::cluster::MembershipConfig::default())
                    .clock_skew_ms(skew);
                match seed {
                    Some((n, a)) => b.seed_node(n, a),
                    None => b,
                }
            })
            .await
            .unwrap_or_else(|e| panic!("member {name} starts: {e}"));
        node.kind::<Echo>("echo")
            .unwrap_or_else(|e| panic!("the echo kind on {name}: {e}"));
        let echo = node.spawn(Echo::default());
        node.global()
            .register(&format!("svc@{name}"), &echo)
            .unwrap_or_else(|e| panic!("svc@{name}: {e}"));
        node.global()
            .join("echoes", &echo)
            .unwrap_or_else(|e| panic!("group echoes on {name}: {e}"));
        self.trace
            .record(format!("start {} (clock {skew:+} ms)", node.node_id()));
        let mut events = node.membership().events().expect("membership");
        let (trace, me) = (self.trace.clone(), node.node_id().to_string());
        tokio::task::spawn_local(async move {
            while let Ok(e) = events.recv().await {
                let m = e.member();
                let what = format!("{} {}#{}", e.name(), m.name, m.incarnation);
                trace.record(format!("{me} sees {what}"));
            }
        });
        let mut registry = node.global().events().expect("registry events");
        let (trace, lost, me) = (
            self.trace.clone(),
            self.lost.clone(),
            node.node_id().to_string(),
        );
        tokio::task::spawn_local(async move {
            while let Ok(e) = registry.recv().await {
                if let arbour::cluster::RegistryEvent::NameLost { name, winner, .. } = e {
                    trace.record(format!("{me} lost {name} to {winner}"));
                    *lost.borrow_mut().entry((me.clone(), name)).or_insert(0) += 1;
                }
            }
        });
        let downed = Rc::new(std::cell::Cell::new(false));
        let (membership, flag, trace, me) = (
            node.membership(),
            downed.clone(),
            self.trace.clone(),
            node.node_id().to_string(),
        );
        tokio::task::spawn_local(async move {
            if membership.downed().await {
                trace.record(format!("{me} learns it was declared down"));
                flag.set(true);
            }
        });
        self.members
            .insert(name.to_owned(), Member { node, echo, downed });
    }

    /// Crashes member `name`: every task of its node dropped at once.
    /// Returns whether another member knew that life as a member (a life
    /// that crashed before it joined is noticed only by its connections'
    /// idle timeout).
    pub async fn crash(&mut self, name: &str) -> bool {
        let Some(m) = self.members.remove(name) else {
            return false;
        };
        let life = m.node.node_id().incarnation;
        let known = self.members.values().any(|o| {
            o.node
                .membership()
                .members()
                .iter()
                .any(|x| x.name == name && x.incarnation == life)
        });
        self.trace.record(format!("crash {}", m.node.node_id()));
        m.node.crash().await;
        known
    }

    /// Shuts member `name` down gracefully (it leaves the cluster).
    pub async fn shutdown(&mut self, name: &str) {
        if let Some(m) = self.members.remove(name) {
            self.trace.record(format!("shutdown {}", m.node.node_id()));
            m.node.shutdown().await;
        }
    }

    /// Pauses member `name` for `d` (none of its tasks runs), then resumes it.
    pub async fn pause(&self, name: &str, d: Duration) {
        let Some(m) = self.members.get(name) else {
            return;
        };
        self.trace.record(format!(
            "pause {} for {} ms",
            m.node.node_id(),
            d.as_millis()
        ));
        m.node.pause();
        tokio::time::sleep(d).await;
        m.node.resume();
        self.trace.record(format!("resume {}", m.node.node_id()));
    }

    /// Where member `name` listens.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.cluster
            .addr_of(name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    /// The names of the members, `m0` excluded (the ones faults may hit).
    pub fn faultable(&self) -> Vec<String> {
        self.members
            .keys()
            .filter(|n| *n != "m0")
            .cloned()
            .collect()
    }

    /// Members a majority of the others have declared down in their
    /// current life (a check's view: a member cut off alone sees everyone
    /// down, and its view is one of many).
    pub fn declared_down(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(name, m)| {
                let me = m.node.node_id().incarnation;
                let votes = self
                    .members
                    .iter()
                    .filter(|(other, o)| {
                        other != name
                            && o.node
                                .membership()
                                .down()
                                .iter()
                                .any(|x| x.name == **name && x.incarnation == me)
                    })
                    .count();
                2 * votes > self.members.len() - 1
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Members that know their life is over: the cluster declared them
    /// down and they heard it (a notice on a connection, the members'
    /// word asked over a fresh handshake, or the split-brain resolver
    /// downing their side). Each shut its node down on its own.
    pub fn downed(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.downed.get())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Starts again, as new lives, the members that learned they were
    /// declared down, as `arbour run` does (`on_downed = "rejoin"`, the
    /// default; no operator), until membership converges (within
    /// [`CONVERGE_WITHIN`]); the problem otherwise.
    pub async fn settle(&mut self, what: &str) -> Option<String> {
        let deadline = tokio::time::Instant::now() + CONVERGE_WITHIN;
        loop {
            for name in self.downed() {
                // what a user asks of the node, shut down or not yet
                if !self.members[&name].node.membership().is_downed() {
                    return Some(format!(
                        "{name} learned it was declared down, but its node's membership() says it is not"
                    ));
                }
                self.trace
                    .record(format!("{name} downed: rejoins as a new life"));
                let _ = self.crash(&name).await;
                self.start(&name).await;
            }
            if self.converged() {
                return None;
            }
            if tokio::time::Instant::now() >= deadline {
                return Some(format!(
                    "membership did not converge {what} within {CONVERGE_WITHIN:?}: {}",
                    self.views()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether every member sees exactly the others' current lives.
    pub fn converged(&self) -> bool {
        self.members
            .iter()
            .all(|(name, m)| self.seen_by(m) == self.want(name))
    }

    fn seen_by(&self, m: &Member) -> Vec<(String, u64)> {
        let mut seen: Vec<(String, u64)> = m
            .node
            .membership()
            .members()
            .into_iter()
            .map(|x| (x.name, x.incarnation))
            .collect();
        seen.sort();
        seen
    }

    fn want(&self, except: &str) -> Vec<(String, u64)> {
        self.members
            .iter()
            .filter(|(n, _)| *n != except)
            .map(|(n, x)| (n.clone(), x.node.node_id().incarnation))
            .collect()
    }

    /// Each member's view, for a violation's text.
    fn views(&self) -> String {
        let views: Vec<String> = self
            .members
            .iter()
            .map(|(n, m)| format!("{n} sees {:?}", self.seen_by(m)))
            .collect();
        views.join("; ")
    }

    /// The registry problems: on each member, what `svc@NAME` should name
    /// and does not, and names of lives that are gone.
    pub fn registry_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (at, m) in &self.members {
            for (name, x) in &self.members {
                let key = format!("svc@{name}");
                let got = m.node.global().whereis_id(&key);
                if got.as_ref() != Some(x.echo.id()) {
                    out.push(format!("on {at}, {key} names {got:?}, not {}", x.echo.id()));
                }
            }
            for (key, id) in m.node.global().names() {
                let Some(owner) = key.strip_prefix("svc@") else {
                    continue;
                };
                if self.members.get(owner).is_none_or(|x| x.echo.id() != &id) {
                    out.push(format!("on {at}, {key} names {id}, a life that is gone"));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Waits (10 s at most) until the registry problems are gone.
    pub async fn registry_settled(&self) -> Vec<String> {
        let settled = crate::eventually(Duration::from_secs(10), Duration::from_millis(50), || {
            let problems = self.registry_problems();
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems)
            }
        });
        settled.await.err().unwrap_or_default()
    }

    /// Waits until every member has declared `name` down, then until none
    /// resolves `svc@NAME`: within 2 s, or for a life no member `known`
    /// (it crashed before it joined), within its connections' idle timeout
    /// and a second; the problem, if either does not happen.
    pub async fn gone_everywhere(&self, name: &str, known: bool) -> Option<String> {
        let every = Duration::from_millis(20);
        let declared = crate::eventually(Duration::from_secs(10), every, || {
            let seen = self
                .members
                .values()
                .any(|m| m.node.membership().members().iter().any(|x| x.name == name));
            if seen {
                Err(format!(
                    "{name} was not declared down everywhere within 10 s"
                ))
            } else {
                Ok(())
            }
        });
        if let Err(e) = declared.await {
            return Some(e);
        }
        let key = format!("svc@{name}");
        let within = if known {
            Duration::from_secs(2)
        } else {
            arbour::transport::Liveness::for_members().idle_timeout + Duration::from_secs(1)
        };
        let vanished = crate::eventually(within, every, || {
            let holders: Vec<&String> = self
                .members
                .iter()
                .filter(|(_, m)| m.node.global().whereis_id(&key).is_some())
                .map(|(n, _)| n)
                .collect();
            if holders.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{name} is down, but {key} still names its actor on {holders:?} after {within:?}"
                ))
            }
        });
        vanished.await.err()
    }

    /// Crashes every member (the run's end).
    pub async fn crash_all(&mut self) {
        for (_, m) in std::mem::take(&mut self.members) {
            m.node.crash().await;
        }
    }
}
