//! `[cluster.split_brain]`: which side of a partition goes on as the
//! cluster (the runtime's `arbour::cluster::SplitBrain`; Akka's split-brain
//! resolver is the reference), checked against the nodes and the failure
//! detection it must outwait.

use super::{Check, Membership, S};
use serde::Deserialize;
use std::time::Duration;

/// Which side of a partition survives (`strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SplitBrainStrategy {
    /// `"keep-majority"` (the default): more than half of the members, or
    /// of two halves the one holding the lowest node name.
    #[default]
    KeepMajority,
    /// `"static-quorum"` with `quorum = N`: a side of at least N members
    /// (more than half of the file's nodes, at most all of them).
    StaticQuorum(usize),
    /// `"keep-oldest"` (with `down_if_alone`, default true): the side of
    /// the member started first.
    KeepOldest {
        /// The oldest member, cut off alone, gives way.
        down_if_alone: bool,
    },
    /// `"down-all"`: every side downs itself.
    DownAll,
}

/// The split-brain resolver's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitBrain {
    /// `strategy`.
    pub strategy: SplitBrainStrategy,
    /// `stable_after`: how long a side's view must stay unchanged before
    /// it decides (default: 5 s up to 10 nodes, 1 s more per doubling).
    pub stable_after: Option<Duration>,
    /// `down_all_when_unstable`: `"on"` (the default: every side downs
    /// itself once members have been unreachable without a decision for
    /// `stable_after` + 3/4 of it, at least 4 s more), a duration (that
    /// long after `stable_after`), or `"off"` (`None`: wait for ever).
    pub down_all_when_unstable: Option<UnstableAfter>,
}

impl Default for SplitBrain {
    fn default() -> Self {
        Self {
            strategy: SplitBrainStrategy::default(),
            stable_after: None,
            down_all_when_unstable: Some(UnstableAfter::Default),
        }
    }
}

/// `down_all_when_unstable`'s value, when not `"off"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnstableAfter {
    /// `"on"`: 3/4 of `stable_after`, at least 4 s.
    #[default]
    Default,
    /// A duration.
    After(Duration),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSplitBrain {
    strategy: Option<S<String>>,
    stable_after: Option<S<String>>,
    quorum: Option<S<i64>>,
    down_if_alone: Option<S<bool>>,
    down_all_when_unstable: Option<S<String>>,
}

/// arbour's failure-detection defaults (`MembershipConfig::default`; the
/// node crate's tests hold the two equal).
pub mod defaults {
    use std::time::Duration;
    /// `probe_period`.
    pub const PROBE_PERIOD: Duration = Duration::from_millis(200);
    /// `probe_rtt`.
    pub const PROBE_RTT: Duration = Duration::from_millis(100);
    /// `suspect_to_down_after`.
    pub const SUSPECT_TO_DOWN_AFTER: Duration = Duration::from_millis(500);
}

/// How long membership takes at most to declare a silent member down: a
/// probe period, its timeout, and the suspicion.
pub fn detection(m: &Membership) -> Duration {
    m.probe_period.unwrap_or(defaults::PROBE_PERIOD)
        + m.probe_rtt.unwrap_or(defaults::PROBE_RTT)
        + m.suspect_to_down_after
            .unwrap_or(defaults::SUSPECT_TO_DOWN_AFTER)
}

impl SplitBrain {
    /// Checks `[cluster.split_brain]` (at `table`) for a file of `nodes`
    /// nodes whose failure detection is `membership`.
    pub(crate) fn check(
        raw: Option<S<RawSplitBrain>>,
        nodes: usize,
        membership: &Membership,
        c: &mut Check<'_>,
    ) -> Self {
        let Some(raw) = raw else {
            return Self::default();
        };
        let table = raw.span().start;
        let raw = raw.into_inner();
        let (quorum_at, alone_at) = (
            raw.quorum.as_ref().map(|q| q.span().start),
            raw.down_if_alone.as_ref().map(|d| d.span().start),
        );
        let name = raw.strategy.as_ref().map(|s| s.get_ref().clone());
        let strategy = match name.as_deref() {
            None | Some("keep-majority") => SplitBrainStrategy::KeepMajority,
            Some("static-quorum") => match raw.quorum.map(|q| (q.span().start, q.into_inner())) {
                None => {
                    c.fail(table, "cluster.split_brain.quorum: missing (expected the members a side needs to go on, with strategy \"static-quorum\")");
                    SplitBrainStrategy::KeepMajority
                }
                Some((at, q)) => {
                    if q < 1 || q as u64 > nodes as u64 {
                        c.fail(at, format!("cluster.split_brain.quorum: {q} cannot work with {nodes} nodes in the file (expected more than half of them and at most all: {} to {nodes})", nodes / 2 + 1));
                    } else if (q as usize) * 2 <= nodes {
                        c.fail(at, format!("cluster.split_brain.quorum: {q} is not more than half of the {nodes} nodes (two sides of a partition could both hold it; expected {} to {nodes})", nodes / 2 + 1));
                    }
                    SplitBrainStrategy::StaticQuorum(q.max(1) as usize)
                }
            },
            Some("keep-oldest") => SplitBrainStrategy::KeepOldest {
                down_if_alone: raw.down_if_alone.is_none_or(S::into_inner),
            },
            Some("down-all") => SplitBrainStrategy::DownAll,
            Some(other) => {
                let at = raw.strategy.as_ref().map_or(table, |s| s.span().start);
                c.fail(at, format!("cluster.split_brain.strategy: {other:?} (expected \"keep-majority\", \"static-quorum\", \"keep-oldest\" or \"down-all\")"));
                SplitBrainStrategy::KeepMajority
            }
        };
        let chosen = name.as_deref().unwrap_or("keep-majority");
        if let (Some(at), false) = (quorum_at, chosen == "static-quorum") {
            c.fail(at, format!("cluster.split_brain.quorum: only for strategy \"static-quorum\" (the strategy is {chosen:?})"));
        }
        if let (Some(at), false) = (alone_at, chosen == "keep-oldest") {
            c.fail(at, format!("cluster.split_brain.down_if_alone: only for strategy \"keep-oldest\" (the strategy is {chosen:?})"));
        }
        let stable_at = raw.stable_after.as_ref().map(|s| s.span().start);
        let stable_after = c.duration(raw.stable_after, "cluster.split_brain.stable_after");
        if let (Some(d), Some(at)) = (stable_after, stable_at) {
            let detect = detection(membership);
            if d <= detect {
                c.fail(at, format!("cluster.split_brain.stable_after: {d:?} is not longer than failure detection ({detect:?}: probe_period + probe_rtt + suspect_to_down_after): a side would decide before it heard which members the other side holds (expected more, a few times more)"));
            }
        }
        let down_all_when_unstable = match raw.down_all_when_unstable {
            None => Some(UnstableAfter::Default),
            Some(v) => match v.get_ref().as_str() {
                "on" => Some(UnstableAfter::Default),
                "off" => None,
                other => match humantime::parse_duration(other) {
                    Ok(d) if d > Duration::ZERO => Some(UnstableAfter::After(d)),
                    _ => {
                        c.fail(v.span().start, format!("cluster.split_brain.down_all_when_unstable: {other:?} (expected \"on\", \"off\" or a positive duration, like \"4s\")"));
                        Some(UnstableAfter::Default)
                    }
                },
            },
        };
        Self {
            strategy,
            stable_after,
            down_all_when_unstable,
        }
    }
}
