//! Evening a deployment's spread when a node joins or returns: the
//! supervising node moves one instance at a time from the node its
//! placement allows with the most instances to the one with the fewest,
//! until no two differ by more than one. Each move is stop-after-start
//! ([`Node::move_child`]: the replacement runs before the original stops),
//! so the deployment never runs fewer than its configured instances, and
//! the supervisor counts no restart. Only one move is in flight at a time,
//! each bounded by [`MOVE_BOUND`].

use arbour::{ActorId, Node};
use arbour_config::{ClusterFile, Deploy, Placement};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long after a node joined or returned the spread is looked at:
/// the node's registry part (its kinds) arrives with its connections.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

/// How long one move may take before the next is tried anyway.
const MOVE_BOUND: Duration = Duration::from_secs(10);

/// How often a move in flight is looked at.
const STEP: Duration = Duration::from_millis(200);

/// The move that evens a spread: from the allowed node with the most
/// instances to the one with the fewest (ties: the lowest name), when
/// they differ by two or more. `counts`: instances by node; `allowed`:
/// the nodes the placement allows now.
pub(crate) fn next_move(
    counts: &BTreeMap<String, usize>,
    allowed: &[String],
) -> Option<(String, String)> {
    let count = |n: &String| counts.get(n).copied().unwrap_or(0);
    let from = allowed
        .iter()
        .max_by(|a, b| count(a).cmp(&count(b)).then_with(|| b.cmp(a)))?;
    let to = allowed
        .iter()
        .min_by(|a, b| count(a).cmp(&count(b)).then_with(|| a.cmp(b)))?;
    (count(from) >= count(to) + 2).then(|| (from.clone(), to.clone()))
}

/// The nodes `d`'s placement allows that are alive (as `node` sees them)
/// and have its kind, by name.
fn allowed(node: &Node, file: &ClusterFile, d: &Deploy) -> Vec<String> {
    let alive: Vec<String> = node
        .membership()
        .oldest_first()
        .into_iter()
        .map(|n| n.name.to_string())
        .collect();
    let with_kind: Vec<String> = node
        .global()
        .nodes_with_kind(&d.kind)
        .into_iter()
        .map(|n| n.name.to_string())
        .collect();
    let mut v: Vec<String> = file
        .nodes
        .iter()
        .filter(|n| match &d.on {
            Placement::Any => true,
            Placement::Role(r) => n.roles.iter().any(|x| x == r),
            Placement::Node(only) => n.name == *only,
        })
        .map(|n| n.name.clone())
        .filter(|n| alive.contains(n) && with_kind.contains(n))
        .collect();
    v.sort();
    v
}

/// A supervising node's rebalancer for one deployment: when it is due,
/// one step ([`Rebalancer::step`]).
#[derive(Debug, Default)]
pub(crate) struct Rebalancer {
    /// When to look next, if at all.
    pub(crate) due: Option<Instant>,
    /// The instance moving now, and until when it may.
    moving: Option<(ActorId, Instant)>,
    /// Moves made since the spread was last even.
    moved: usize,
}

impl Rebalancer {
    /// A node joined or returned: look at the spread once it settled.
    pub(crate) fn member_came(&mut self) {
        self.due = Some(Instant::now() + SETTLE);
    }

    /// Waits until due (for ever if not).
    pub(crate) async fn wait(&self) {
        match self.due {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    /// Waits for the move in flight, or starts the next one, or finds the
    /// spread even (and says so, if it moved anything).
    pub(crate) fn step(
        &mut self,
        node: &Node,
        file: &ClusterFile,
        d: &Deploy,
        report: &impl Fn(String),
    ) {
        let now = Instant::now();
        let ids = node.global().group_ids(&d.name);
        if let Some((id, until)) = &self.moving {
            if ids.contains(id) && now < *until {
                self.due = Some(now + STEP);
                return;
            }
            self.moving = None;
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for id in &ids {
            *counts.entry(id.node.name.to_string()).or_default() += 1;
        }
        let next = next_move(&counts, &allowed(node, file, d));
        let Some((from, to)) = next else {
            self.due = None;
            if self.moved > 0 {
                report(format!(
                    "deploy {} rebalanced: {} moved ({})",
                    d.name,
                    std::mem::take(&mut self.moved),
                    spread(&counts)
                ));
            }
            return;
        };
        let Some(id) = ids.iter().rev().find(|id| *id.node.name == from).cloned() else {
            self.due = None;
            return;
        };
        if node.move_child(&id, &to) {
            tracing::info!(deploy = %d.name, %from, %to, instance = %id, "rebalancing: moving an instance");
            self.moving = Some((id, now + MOVE_BOUND));
            self.moved += 1;
            self.due = Some(now + STEP);
        } else {
            // not a child of this supervisor (yet): look again later
            self.due = Some(now + SETTLE);
        }
    }
}

/// `node=count` for each node.
pub(crate) fn spread(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(n, c)| format!("{n}={c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(v: &[(&str, usize)]) -> BTreeMap<String, usize> {
        v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_node_that_came_back_empty_gets_instances_until_the_spread_is_even() {
        let allowed = names(&["beta", "gamma"]);
        let mut c = counts(&[("beta", 4)]);
        let mut moves = 0;
        while let Some((from, to)) = next_move(&c, &allowed) {
            *c.get_mut(&from).expect("from") -= 1;
            *c.entry(to).or_default() += 1;
            moves += 1;
        }
        assert_eq!(moves, 2);
        assert_eq!(c, counts(&[("beta", 2), ("gamma", 2)]));
    }

    #[test]
    fn a_spread_off_by_one_is_even_enough_and_ties_go_by_name() {
        let allowed = names(&["a", "b", "c"]);
        assert_eq!(
            next_move(&counts(&[("a", 2), ("b", 1), ("c", 2)]), &allowed),
            None
        );
        assert_eq!(
            next_move(&counts(&[("a", 3), ("c", 3)]), &allowed),
            Some(("a".into(), "b".into()))
        );
        // a node the placement does not allow neither gives nor takes
        assert_eq!(next_move(&counts(&[("x", 5)]), &allowed), None);
        assert_eq!(next_move(&counts(&[]), &[]), None);
    }
}
