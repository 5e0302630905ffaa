//! The pure restart-decision core of a supervisor: OTP's rules with no I/O.
//!
//! The driver (the supervisor actor) tells the core what happened (a child
//! exited, a start failed, a retry is due) and the time; the core answers with
//! a [`Plan`]: which children to terminate, in which order, which to start,
//! or that the supervisor must shut down. Keeping this free of actors and
//! clocks lets it be property-tested against a reference model and driven by
//! the simulator (the quinn / quinn-proto split).

use super::spec::{AutoShutdown, Restart, Strategy};
use crate::actor::ExitReason;
use crate::platform::Instant;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// A child's id within its supervisor (shared, so the core, the driver and
/// notifications hold one allocation).
pub type ChildId = Arc<str>;

/// Where a child is in its life, from the supervisor's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Running now.
    Running,
    /// Not running and not about to be (never started, exited without a
    /// restart, or terminated through the API). OTP's `undefined`.
    Stopped,
    /// Will be started by a pending plan, backoff or retry. OTP's `restarting`.
    Restarting,
}

/// What the core knows of one child, plus the driver's own data `T` for it
/// (kept here so a supervisor holds one entry per child, not two).
#[derive(Clone, Debug)]
pub struct ChildState<T = ()> {
    /// The child's id.
    pub id: ChildId,
    /// When it is restarted.
    pub restart: Restart,
    /// Whether its exit can shut the supervisor down (`auto_shutdown`).
    pub significant: bool,
    /// Where it is now.
    pub status: Status,
    /// Consecutive restarts without a stable run (drives backoff).
    pub attempt: u32,
    started_at: Option<Instant>,
    /// The driver's data for this child.
    pub data: T,
}

/// The supervisor flags the core needs.
#[derive(Clone, Debug)]
pub struct CoreFlags {
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restarts allowed within `period`.
    pub intensity: u32,
    /// Sliding window for `intensity`.
    pub period: Duration,
    /// Self-shutdown on significant children exiting.
    pub auto_shutdown: AutoShutdown,
    /// A child that ran this long before exiting starts its backoff over.
    pub backoff_reset: Duration,
}

/// Why the supervisor shuts itself down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownCause {
    /// More than `intensity` restarts within `period`.
    IntensityExceeded,
    /// A significant child exited (`auto_shutdown`).
    Significant,
}

/// What the driver must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing.
    None,
    /// Terminate `terminate` (in this order: reverse start order), then start
    /// `start` (in this order). `attempt` is the triggering child's consecutive
    /// restart count, for backoff.
    Restart {
        /// Children to terminate, in order.
        terminate: Vec<ChildId>,
        /// Children to start, in order.
        start: Vec<ChildId>,
        /// Consecutive restarts of the child that caused this plan.
        attempt: u32,
    },
    /// Terminate `terminate` (reverse start order) and stop with `Shutdown`.
    Shutdown {
        /// Running children, in termination order.
        terminate: Vec<ChildId>,
        /// Why.
        cause: ShutdownCause,
    },
}

/// A supervisor's decision state.
///
/// Children are kept in start order (a sequence number per child) with an id
/// index, so a supervisor of 100k dynamic children decides in O(log n).
#[derive(Clone, Debug)]
pub struct Core<T = ()> {
    flags: CoreFlags,
    children: SeqVec<ChildState<T>>,
    by_id: FxHashMap<ChildId, u64>,
    next_seq: u64,
    restarts: VecDeque<Instant>,
    removed: Vec<(ChildId, T)>,
}

impl<T: Default> Core<T> {
    /// Appends a child (status `Stopped`) with default driver data; false if
    /// the id is taken.
    pub fn add_child(
        &mut self,
        id: impl Into<ChildId>,
        restart: Restart,
        significant: bool,
    ) -> bool {
        self.add_child_with(id, restart, significant, T::default())
    }
}

impl<T> Core<T> {
    /// A core with no children. Flags are validated by the spec builder.
    pub fn new(flags: CoreFlags) -> Self {
        Self {
            flags,
            children: SeqVec::new(),
            by_id: FxHashMap::default(),
            next_seq: 0,
            restarts: VecDeque::new(),
            removed: Vec::new(),
        }
    }

    /// The flags.
    pub fn flags(&self) -> &CoreFlags {
        &self.flags
    }

    /// Children in start order.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = &ChildState<T>> + '_ {
        self.children.values()
    }

    /// Number of children with a spec.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// True if there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// One child.
    pub fn child(&self, id: &str) -> Option<&ChildState<T>> {
        self.by_id.get(id).and_then(|k| self.children.get(k))
    }

    /// One child, to update the driver's data.
    pub fn child_mut(&mut self, id: &str) -> Option<&mut ChildState<T>> {
        let k = self.by_id.get(id)?;
        self.children.get_mut(k)
    }

    /// The sequence number the next added child will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// A child's position in start order (stable for its life), to address it
    /// again without hashing its id.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    /// The child at start position `seq`.
    pub fn child_at_mut(&mut self, seq: u64) -> Option<&mut ChildState<T>> {
        self.children.get_mut(&seq)
    }

    /// The child at start position `seq`.
    pub fn child_at(&self, seq: u64) -> Option<&ChildState<T>> {
        self.children.get(&seq)
    }

    /// Marks the child at `seq` running since `now`.
    pub fn mark_running_at(&mut self, seq: u64, now: Instant) {
        if let Some(c) = self.children.get_mut(&seq) {
            c.status = Status::Running;
            c.started_at = Some(now);
        }
    }

    /// Makes room for `n` more children.
    pub fn reserve(&mut self, n: usize) {
        self.by_id.reserve(n);
        self.children.reserve(n);
    }

    /// Appends a child (status `Stopped`) with the driver's data for it;
    /// false if the id is taken.
    pub fn add_child_with(
        &mut self,
        id: impl Into<ChildId>,
        restart: Restart,
        significant: bool,
        data: T,
    ) -> bool {
        let id: ChildId = id.into();
        let seq = self.next_seq;
        match self.by_id.entry(id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => return false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(seq);
            }
        }
        self.next_seq += 1;
        self.children.insert(
            seq,
            ChildState {
                id,
                restart,
                significant,
                status: Status::Stopped,
                attempt: 0,
                started_at: None,
                data,
            },
        );
        true
    }

    /// Removes a child's spec; returns the driver's data for it.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let k = self.by_id.remove(id)?;
        self.children.remove(&k).map(|c| c.data)
    }

    /// Removes a child as part of a decision; its data waits in
    /// [`Core::take_removed`] for the driver (which may still have to
    /// terminate it, e.g. a temporary sibling in a `one_for_all` plan).
    fn drop_spec(&mut self, id: &str) {
        if let Some(data) = self.remove(id) {
            self.removed.push((id.into(), data));
        }
    }

    /// The children the last decisions removed (temporary children that
    /// exited or were terminated by a sibling's restart), with their data.
    pub fn take_removed(&mut self) -> Vec<(ChildId, T)> {
        std::mem::take(&mut self.removed)
    }

    /// Every child's driver data, mutably.
    pub fn each_data_mut(&mut self, mut f: impl FnMut(&mut T)) {
        for c in self.children.values_mut() {
            f(&mut c.data);
        }
    }

    /// The driver started the child.
    pub fn mark_running(&mut self, id: &str, now: Instant) {
        if let Some(c) = self.child_mut(id) {
            c.status = Status::Running;
            c.started_at = Some(now);
        }
    }

    /// The driver stopped the child on request (API); no restart follows.
    /// Temporary children lose their spec, as in OTP.
    pub fn mark_terminated(&mut self, id: &str) {
        match self.child_mut(id) {
            Some(c) if c.restart == Restart::Temporary => self.drop_spec(id),
            Some(c) => c.status = Status::Stopped,
            None => {}
        }
    }

    /// A start within a plan failed: the child waits for a retry.
    pub fn mark_start_failed(&mut self, id: &str) {
        if let Some(c) = self.child_mut(id) {
            c.status = Status::Restarting;
        }
    }

    /// Running children in termination order (reverse start order).
    pub fn shutdown_order(&self) -> Vec<ChildId> {
        self.children
            .values()
            .rev()
            .filter(|c| c.status == Status::Running)
            .map(|c| c.id.clone())
            .collect()
    }

    /// A running child exited with `reason`.
    ///
    /// Exits of children that are not `Running` (stale notifications) are
    /// ignored; the driver filters instances it terminated itself.
    pub fn on_exit(&mut self, id: &str, reason: &ExitReason, now: Instant) -> Plan {
        let reset = self.flags.backoff_reset;
        let Some(child) = self.child_mut(id) else {
            return Plan::None;
        };
        if child.status != Status::Running {
            return Plan::None;
        }
        child.status = Status::Stopped;
        let restart = match child.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_normal(),
            Restart::Temporary => false,
        };
        if !restart {
            let significant = child.significant;
            if child.restart == Restart::Temporary {
                self.drop_spec(id);
            }
            return self.auto_shutdown(significant);
        }
        let stable = child
            .started_at
            .is_some_and(|t| now.saturating_duration_since(t) >= reset);
        child.attempt = if stable { 1 } else { child.attempt + 1 };
        self.restart(id, now)
    }

    /// A retry of a failed restart is due (OTP's `try_again_restart`). Counts
    /// toward intensity like any restart.
    pub fn try_again(&mut self, id: &str, now: Instant) -> Plan {
        match self.child_mut(id) {
            Some(c) if c.status == Status::Restarting => {
                c.attempt += 1;
                self.restart(id, now)
            }
            _ => Plan::None,
        }
    }

    /// Records a restart at `now`; false if that exceeds the intensity.
    fn add_restart(&mut self, now: Instant) -> bool {
        // Restart times only grow, so expired ones are at the front: popping
        // them keeps this O(1) amortised however large the intensity.
        let period = self.flags.period;
        while let Some(&t) = self.restarts.front() {
            if now.saturating_duration_since(t) <= period {
                break;
            }
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.flags.intensity as usize
    }

    fn shutdown(&mut self, cause: ShutdownCause) -> Plan {
        let terminate = self.shutdown_order();
        for c in self.children.values_mut() {
            c.status = Status::Stopped;
        }
        Plan::Shutdown { terminate, cause }
    }

    fn auto_shutdown(&mut self, significant: bool) -> Plan {
        if !significant {
            return Plan::None;
        }
        match self.flags.auto_shutdown {
            AutoShutdown::Never => Plan::None,
            AutoShutdown::AnySignificant => self.shutdown(ShutdownCause::Significant),
            AutoShutdown::AllSignificant => {
                let any_alive = self
                    .children
                    .values()
                    .any(|c| c.significant && c.status != Status::Stopped);
                if any_alive {
                    Plan::None
                } else {
                    self.shutdown(ShutdownCause::Significant)
                }
            }
        }
    }

    fn restart(&mut self, id: &str, now: Instant) -> Plan {
        if !self.add_restart(now) {
            return self.shutdown(ShutdownCause::IntensityExceeded);
        }
        let Some(&seq) = self.by_id.get(id) else {
            return Plan::None;
        };
        let attempt = self.children.get(&seq).map_or(0, |c| c.attempt);
        let (terminate, from) = match self.flags.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => {
                self.mark_start_failed(id);
                return Plan::Restart {
                    terminate: Vec::new(),
                    start: self
                        .children
                        .get(&seq)
                        .map(|c| c.id.clone())
                        .into_iter()
                        .collect(),
                    attempt,
                };
            }
            Strategy::OneForAll => (self.running_in(0.., Some(seq)), 0),
            Strategy::RestForOne => (self.running_in(seq + 1.., None), seq),
        };
        // Temporary children terminated by a sibling's restart are not
        // restarted: their specs go.
        for t in &terminate {
            if self
                .child(t)
                .is_some_and(|c| c.restart == Restart::Temporary)
            {
                self.drop_spec(t);
            }
        }
        let mut start = Vec::new();
        for c in self.children.range_mut(from..).map(|(_, c)| c) {
            c.status = Status::Restarting;
            start.push(c.id.clone());
        }
        Plan::Restart {
            terminate,
            start,
            attempt,
        }
    }

    /// Running children in `range` (except `skip`), in termination order.
    fn running_in(&self, range: std::ops::RangeFrom<u64>, skip: Option<u64>) -> Vec<ChildId> {
        self.children
            .range(range)
            .rev()
            .filter(|(k, c)| Some(**k) != skip && c.status == Status::Running)
            .map(|(_, c)| c.id.clone())
            .collect()
    }
}

/// Children in start order, keyed by an increasing sequence number: a vector
/// (binary-searched, cache-friendly, no per-node overhead) with tombstones
/// compacted in amortised O(1). Offers the subset of `BTreeMap` the core uses.
#[derive(Clone, Debug)]
struct SeqVec<V> {
    entries: Vec<(u64, Option<V>)>,
    live: usize,
}

impl<V> SeqVec<V> {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            live: 0,
        }
    }

    fn reserve(&mut self, n: usize) {
        self.entries.reserve_exact(n);
    }

    fn len(&self) -> usize {
        self.live
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn pos(&self, k: u64) -> Option<usize> {
        // the newest child is the one most often addressed (starting in order)
        match self.entries.last() {
            Some(&(last, _)) if last == k => Some(self.entries.len() - 1),
            _ => self.entries.binary_search_by_key(&k, |e| e.0).ok(),
        }
    }

    /// Appends; `k` must be larger than every key so far.
    fn insert(&mut self, k: u64, v: V) {
        debug_assert!(self.entries.last().is_none_or(|e| e.0 < k));
        self.entries.push((k, Some(v)));
        self.live += 1;
    }

    fn get(&self, k: &u64) -> Option<&V> {
        self.pos(*k).and_then(|i| self.entries[i].1.as_ref())
    }

    fn get_mut(&mut self, k: &u64) -> Option<&mut V> {
        self.pos(*k).and_then(|i| self.entries[i].1.as_mut())
    }

    fn remove(&mut self, k: &u64) -> Option<V> {
        let i = self.pos(*k)?;
        let v = self.entries[i].1.take()?;
        self.live -= 1;
        let dead = self.entries.len() - self.live;
        if dead > 32 && dead > self.live {
            self.entries.retain(|e| e.1.is_some());
        }
        Some(v)
    }

    fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.entries.iter().filter_map(|e| e.1.as_ref())
    }

    fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + '_ {
        self.entries.iter_mut().filter_map(|e| e.1.as_mut())
    }

    fn range(
        &self,
        from: std::ops::RangeFrom<u64>,
    ) -> impl DoubleEndedIterator<Item = (&u64, &V)> + '_ {
        let start = self.entries.partition_point(|e| e.0 < from.start);
        self.entries[start..]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }

    fn range_mut(
        &mut self,
        from: std::ops::RangeFrom<u64>,
    ) -> impl DoubleEndedIterator<Item = (&u64, &mut V)> + '_ {
        let start = self.entries.partition_point(|e| e.0 < from.start);
        self.entries[start..]
            .iter_mut()
            .filter_map(|(k, v)| v.as_mut().map(|v| (&*k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> CoreFlags {
        CoreFlags {
            strategy: Strategy::RestForOne,
            intensity: 1_000_000,
            period: Duration::from_secs(1),
            auto_shutdown: AutoShutdown::Never,
            backoff_reset: Duration::from_secs(1),
        }
    }

    #[test]
    fn lookups_and_order_survive_compaction() {
        let now = tokio::time::Instant::now();
        let mut core = Core::<u32>::new(flags());
        for i in 0..1000u32 {
            let restart = if i % 3 == 0 {
                Restart::Permanent
            } else {
                Restart::Temporary
            };
            assert!(core.add_child_with(format!("c{i}"), restart, false, i));
            core.mark_running(&format!("c{i}"), now);
        }
        // 2/3 of the children exit for good: the storage compacts on the way
        for i in (0..1000u32).filter(|i| i % 3 != 0) {
            assert_eq!(
                core.on_exit(&format!("c{i}"), &ExitReason::Normal, now),
                Plan::None
            );
        }
        assert_eq!(core.take_removed().len(), 666);
        assert_eq!(core.len(), 334);
        assert!(
            core.children.entries.len() < 1000,
            "tombstones were compacted"
        );
        let ids: Vec<u32> = core.children().map(|c| c.data).collect();
        assert_eq!(ids, (0..1000).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert_eq!(core.child("c999").map(|c| c.data), Some(999));
        // rest_for_one from the middle still sees the right "rest"
        match core.on_exit("c498", &ExitReason::Killed, now) {
            Plan::Restart {
                terminate, start, ..
            } => {
                assert_eq!(terminate.first().map(|s| &**s), Some("c999"));
                assert_eq!(terminate.last().map(|s| &**s), Some("c501"));
                assert_eq!(start.first().map(|s| &**s), Some("c498"));
                assert_eq!(start.len(), 1 + (501..1000).step_by(3).count());
            }
            other => panic!("expected a restart, got {other:?}"),
        }
    }
}
