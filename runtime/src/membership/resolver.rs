//! The split-brain resolver: which side of a partition goes on as the
//! cluster, and which downs itself (Akka's SBR is the reference).
//!
//! SWIM declares members down on both sides of a partition alike: each
//! side sees the other go. Left at that, both sides run on, each with its
//! own copy of the deployments and the names. The resolver makes each side
//! decide, from what it sees alone, whether it is the one that survives;
//! the rules are such that at most one side does. A side that loses downs
//! itself once its view has been stable for `stable_after` (and then, as
//! `on_downed` says, comes back as a new life when the partition heals).
//!
//! Sans-IO: told the time and the events, it answers with a verdict.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::platform::Instant;

/// Which side of a partition survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// The side with more than half of the members survives; of two
    /// halves, the one holding the lowest node name (the default).
    #[default]
    KeepMajority,
    /// A side with at least this many members survives (it must be more
    /// than half of the cluster, or two sides could).
    StaticQuorum(usize),
    /// The side holding the oldest member (the lowest incarnation: the
    /// life started first) survives. With `down_if_alone`, an oldest
    /// member cut off alone downs itself and the other side survives.
    KeepOldest {
        /// The oldest member, alone on its side, gives way.
        down_if_alone: bool,
    },
    /// Every side downs itself (for platforms that restart every node:
    /// the cluster forms again from scratch).
    DownAll,
}

impl Strategy {
    /// The name the cluster file uses.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::KeepMajority => "keep-majority",
            Strategy::StaticQuorum(_) => "static-quorum",
            Strategy::KeepOldest { .. } => "keep-oldest",
            Strategy::DownAll => "down-all",
        }
    }
}

/// The split-brain resolver's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitBrain {
    /// How sides decide.
    pub strategy: Strategy,
    /// How long the view must stay unchanged before a side decides
    /// (`None`: [`SplitBrain::default_stable_after`] for the cluster's
    /// size).
    pub stable_after: Option<Duration>,
    /// What a side does when its view never holds still.
    pub when_unstable: WhenUnstable,
}

/// What a side does when its view keeps changing (members going
/// unreachable and coming back) so that it never stays unchanged for
/// `stable_after`: Akka's `down-all-when-unstable`. Every side sees such
/// churn alike, so every side downs itself and the cluster forms again,
/// rather than running on undecided for ever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenUnstable {
    /// Down this side once members have been unreachable, without a
    /// decision, for `stable_after` plus three quarters of it (at least
    /// 4 s more) (the default, as Akka's `on`).
    #[default]
    DownAll,
    /// The same, after `stable_after` plus this long.
    DownAllAfter(Duration),
    /// Wait for a stable view however long it takes.
    Wait,
}

impl WhenUnstable {
    /// How long members may stay unreachable without a decision before
    /// every side downs itself, for a `stable_after`; `None`: for ever.
    pub fn bound(self, stable_after: Duration) -> Option<Duration> {
        match self {
            WhenUnstable::DownAll => {
                Some(stable_after + (stable_after * 3 / 4).max(Duration::from_secs(4)))
            }
            WhenUnstable::DownAllAfter(d) => Some(stable_after + d),
            WhenUnstable::Wait => None,
        }
    }
}

impl SplitBrain {
    /// The default `stable_after` for a cluster of `members`: 5 s up to 10
    /// members, 1 s more for each doubling beyond (20 → 6 s, 40 → 7 s,
    /// 80 → 8 s, …). Membership declares a dead member down in about a
    /// second with the default tuning; in a large cluster the news of every
    /// member of the other side takes longer to arrive, and a side must
    /// not decide on half of it.
    pub fn default_stable_after(members: usize) -> Duration {
        let mut secs = 5;
        let mut size = 10;
        while size < members {
            size *= 2;
            secs += 1;
        }
        Duration::from_secs(secs)
    }

    /// `stable_after` for a cluster of `members`.
    pub fn stable_after_for(&self, members: usize) -> Duration {
        self.stable_after
            .unwrap_or_else(|| Self::default_stable_after(members))
    }
}

/// A member as the resolver counts it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counted {
    /// Its node name.
    pub name: String,
    /// Its life (lower: started earlier).
    pub incarnation: u64,
}

/// Whether the side that sees `reachable` (this node included) and not
/// `unreachable` survives under `strategy`. At most one side of any
/// partition does, when each side's sets are what the other's are not.
pub fn survives(strategy: Strategy, reachable: &[Counted], unreachable: &[Counted]) -> bool {
    if unreachable.is_empty() {
        return true;
    }
    match strategy {
        Strategy::KeepMajority => {
            let (side, all) = (reachable.len() * 2, reachable.len() + unreachable.len());
            side > all || (side == all && lowest(reachable) < lowest(unreachable))
        }
        Strategy::StaticQuorum(quorum) => reachable.len() >= quorum,
        Strategy::KeepOldest { down_if_alone } => {
            let oldest = |v: &[Counted]| v.iter().map(|m| (m.incarnation, m.name.clone())).min();
            let (here, there) = (oldest(reachable), oldest(unreachable));
            let oldest_here = match (&here, &there) {
                (Some(h), Some(t)) => h < t,
                (h, _) => h.is_some(),
            };
            if oldest_here {
                // alone with the others unreachable: give way
                !(down_if_alone && reachable.len() == 1)
            } else {
                // the oldest is cut off alone over there: it gives way
                down_if_alone && unreachable.len() == 1
            }
        }
        Strategy::DownAll => false,
    }
}

/// The lowest node name in `v`.
fn lowest(v: &[Counted]) -> Option<&str> {
    v.iter().map(|m| m.name.as_str()).min()
}

/// What the resolver decided at a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No member is unreachable, or the view is not stable yet.
    Wait,
    /// This side survives: the unreachable members are out of the cluster
    /// (they are no longer counted).
    Survive(Vec<Counted>),
    /// Members stayed unreachable, the view never stable, past
    /// [`WhenUnstable::bound`]: every side downs itself, this one too.
    Unstable {
        /// How long it lasted.
        lasted: Duration,
        /// Who it could not reach.
        unreachable: Vec<Counted>,
    },
    /// This side loses: this node downs itself.
    DownSelf {
        /// What it saw, for the log.
        reachable: usize,
        /// Who it could not reach.
        unreachable: Vec<Counted>,
    },
}

/// One node's resolver: the members declared down since the last decision,
/// and when its view last changed.
#[derive(Debug)]
pub struct Resolver {
    settings: SplitBrain,
    /// Members declared down that no decision has counted out yet.
    unreachable: BTreeMap<String, Counted>,
    /// When a member last went down, came back or left.
    changed_at: Option<Instant>,
    /// Since when some member has been unreachable without a decision.
    unstable_since: Option<Instant>,
}

impl Resolver {
    /// A resolver with `settings`.
    pub fn new(settings: SplitBrain) -> Self {
        Self {
            settings,
            unreachable: BTreeMap::new(),
            changed_at: None,
            unstable_since: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> SplitBrain {
        self.settings
    }

    /// Member `m` is unreachable: suspected (as Akka's resolver counts a
    /// member its failure detector flags) or declared down. Telling it
    /// again changes nothing.
    pub fn down(&mut self, m: Counted, now: Instant) {
        if self.unreachable.get(&m.name) == Some(&m) {
            return;
        }
        if self.unreachable.is_empty() {
            self.unstable_since = Some(now);
        }
        self.unreachable.insert(m.name.clone(), m);
        self.changed_at = Some(now);
    }

    /// Node `name` is reachable again (a suspicion refuted, a new life) or
    /// left: it is not unreachable.
    pub fn back(&mut self, name: &str, now: Instant) {
        if self.unreachable.remove(name).is_some() {
            self.changed_at = Some(now);
            if self.unreachable.is_empty() {
                self.unstable_since = None;
            }
        }
    }

    /// The names counted as unreachable now.
    pub fn unreachable_names(&self) -> Vec<String> {
        self.unreachable.keys().cloned().collect()
    }

    /// The members counted as unreachable now.
    pub fn unreachable(&self) -> Vec<Counted> {
        self.unreachable.values().cloned().collect()
    }

    /// Decides, if the view has been stable for `stable_after` (for a
    /// cluster of `reachable` and the unreachable): `reachable` is the
    /// members this node sees alive, itself included.
    pub fn tick(&mut self, reachable: &[Counted], now: Instant) -> Verdict {
        let Some(changed_at) = self.changed_at else {
            return Verdict::Wait;
        };
        if self.unreachable.is_empty() {
            return Verdict::Wait;
        }
        let size = reachable.len() + self.unreachable.len();
        let stable_after = self.settings.stable_after_for(size);
        if now.saturating_duration_since(changed_at) < stable_after {
            let lasted = self
                .unstable_since
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            return match self.settings.when_unstable.bound(stable_after) {
                Some(bound) if lasted >= bound => Verdict::Unstable {
                    lasted,
                    unreachable: self.unreachable(),
                },
                _ => Verdict::Wait,
            };
        }
        let unreachable = self.unreachable();
        if survives(self.settings.strategy, reachable, &unreachable) {
            self.unreachable.clear();
            self.changed_at = None;
            self.unstable_since = None;
            Verdict::Survive(unreachable)
        } else {
            Verdict::DownSelf {
                reachable: reachable.len(),
                unreachable,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, incarnation: u64) -> Counted {
        Counted {
            name: name.to_owned(),
            incarnation,
        }
    }

    fn side(names: &[&str]) -> Vec<Counted> {
        names.iter().map(|n| m(n, u64::from(n.as_bytes()[1]))).collect()
    }

    /// Every split of five members into two sides: at most one survives,
    /// under every strategy; exactly one under keep-majority.
    #[test]
    fn at_most_one_side_of_any_split_survives() {
        let all = ["n1", "n2", "n3", "n4", "n5"];
        let strategies = [
            Strategy::KeepMajority,
            Strategy::StaticQuorum(3),
            Strategy::KeepOldest {
                down_if_alone: true,
            },
            Strategy::KeepOldest {
                down_if_alone: false,
            },
            Strategy::DownAll,
        ];
        for mask in 1u32..(1 << all.len()) - 1 {
            let (a, b): (Vec<&str>, Vec<&str>) =
                all.iter().enumerate().fold((vec![], vec![]), |(mut a, mut b), (i, n)| {
                    if mask & (1 << i) != 0 {
                        a.push(*n)
                    } else {
                        b.push(*n)
                    }
                    (a, b)
                });
            for s in strategies {
                let (left, right) = (
                    survives(s, &side(&a), &side(&b)),
                    survives(s, &side(&b), &side(&a)),
                );
                assert!(!(left && right), "{s:?}: {a:?} and {b:?} both survive");
                if s == Strategy::KeepMajority {
                    assert!(left || right, "{s:?}: neither {a:?} nor {b:?} survives");
                }
            }
        }
    }

    #[test]
    fn each_strategy_picks_its_side() {
        let (two, three) = (side(&["n1", "n2"]), side(&["n3", "n4", "n5"]));
        assert!(!survives(Strategy::KeepMajority, &two, &three));
        assert!(survives(Strategy::KeepMajority, &three, &two));
        // a tie: the half with the lowest name
        let (a, b) = (side(&["n1", "n4"]), side(&["n2", "n3"]));
        assert!(survives(Strategy::KeepMajority, &a, &b));
        assert!(!survives(Strategy::KeepMajority, &b, &a));
        assert!(!survives(Strategy::StaticQuorum(3), &two, &three));
        assert!(survives(Strategy::StaticQuorum(3), &three, &two));
        // the oldest (n1) is on the small side
        let oldest = Strategy::KeepOldest {
            down_if_alone: true,
        };
        assert!(survives(oldest, &two, &three));
        assert!(!survives(oldest, &three, &two));
        // ... alone: it gives way
        let (alone, rest) = (side(&["n1"]), side(&["n2", "n3", "n4", "n5"]));
        assert!(!survives(oldest, &alone, &rest));
        assert!(survives(oldest, &rest, &alone));
        let stubborn = Strategy::KeepOldest {
            down_if_alone: false,
        };
        assert!(survives(stubborn, &alone, &rest));
        assert!(!survives(stubborn, &rest, &alone));
        assert!(!survives(Strategy::DownAll, &three, &two));
        // nobody unreachable: nothing to decide
        assert!(survives(Strategy::DownAll, &three, &[]));
    }

    #[test]
    fn a_side_decides_once_its_view_was_stable_for_stable_after() {
        let t0 = Instant::now();
        let s = Duration::from_secs(5);
        let mut r = Resolver::new(SplitBrain {
            strategy: Strategy::KeepMajority,
            stable_after: Some(s),
            ..SplitBrain::default()
        });
        let two = side(&["n1", "n2"]);
        assert_eq!(r.tick(&two, t0), Verdict::Wait);
        r.down(m("n3", 3), t0);
        // told again (suspected, then declared down): the clock runs on
        r.down(m("n3", 3), t0 + Duration::from_secs(1));
        r.down(m("n4", 4), t0 + Duration::from_secs(1));
        // news of the third arrives late: the clock starts again
        r.down(m("n5", 5), t0 + Duration::from_secs(3));
        assert_eq!(r.tick(&two, t0 + Duration::from_secs(7)), Verdict::Wait);
        assert_eq!(
            r.tick(&two, t0 + Duration::from_secs(8)),
            Verdict::DownSelf {
                reachable: 2,
                unreachable: vec![m("n3", 3), m("n4", 4), m("n5", 5)]
            }
        );
        // the other side: it survives, and forgets the two it counted out
        let mut r = Resolver::new(SplitBrain::default());
        let three = side(&["n3", "n4", "n5"]);
        r.down(m("n1", 1), t0);
        r.down(m("n2", 2), t0);
        assert_eq!(
            r.tick(&three, t0 + Duration::from_secs(5)),
            Verdict::Survive(vec![m("n1", 1), m("n2", 2)])
        );
        // then n3 crashes: two of three (the two before are out)
        r.down(m("n3", 3), t0 + Duration::from_secs(6));
        assert!(matches!(
            r.tick(&side(&["n4", "n5"]), t0 + Duration::from_secs(11)),
            Verdict::Survive(_)
        ));
        // a member back as a new life before the decision is not counted
        r.down(m("n4", 4), t0 + Duration::from_secs(20));
        r.back("n4", t0 + Duration::from_secs(21));
        assert_eq!(r.tick(&side(&["n5"]), t0 + Duration::from_secs(30)), Verdict::Wait);
    }

    #[test]
    fn a_view_that_never_holds_still_downs_every_side_after_the_bound() {
        let t0 = Instant::now();
        let s = Duration::from_secs(5);
        let churn = |when_unstable| {
            let mut r = Resolver::new(SplitBrain {
                strategy: Strategy::KeepMajority,
                stable_after: Some(s),
                when_unstable,
            });
            let three = side(&["n1", "n2", "n3"]);
            r.down(m("n4", 4), t0);
            // n5 flaps: unreachable, back, unreachable, every 2 s
            let mut verdicts = Vec::new();
            for k in 0..10u64 {
                let at = t0 + Duration::from_secs(2 * k);
                if k % 2 == 0 {
                    r.down(m("n5", 5), at);
                } else {
                    r.back("n5", at);
                }
                verdicts.push((k, r.tick(&three, at + Duration::from_millis(1_900))));
            }
            verdicts
        };
        // default: stable_after 5 s + 4 s (3/4 of 5 s is less): at 9 s
        let first = churn(WhenUnstable::DownAll)
            .into_iter()
            .find(|(_, v)| matches!(v, Verdict::Unstable { .. }))
            .map(|(k, _)| k);
        assert_eq!(first, Some(4), "the tick at 9.9 s is the first past 9 s");
        let later = churn(WhenUnstable::DownAllAfter(Duration::from_secs(10)))
            .into_iter()
            .find(|(_, v)| matches!(v, Verdict::Unstable { .. }))
            .map(|(k, _)| k);
        assert_eq!(later, Some(7), "15 s: the tick at 15.9 s is the first");
        assert!(churn(WhenUnstable::Wait)
            .iter()
            .all(|(_, v)| *v == Verdict::Wait));
        // a member that is back leaves nobody unreachable: the churn ends
        let mut r = Resolver::new(SplitBrain::default());
        r.down(m("n5", 5), t0);
        r.back("n5", t0 + Duration::from_secs(1));
        r.down(m("n5", 5), t0 + Duration::from_secs(20));
        assert_eq!(r.tick(&side(&["n1"]), t0 + Duration::from_secs(21)), Verdict::Wait);
    }

    #[test]
    fn stable_after_grows_with_the_cluster() {
        let d = |n| SplitBrain::default_stable_after(n).as_secs();
        assert_eq!((d(1), d(5), d(10)), (5, 5, 5));
        assert_eq!((d(11), d(20), d(40), d(100), d(1000)), (6, 6, 7, 9, 12));
    }
}
