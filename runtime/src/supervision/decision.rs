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
use std::time::Duration;

/// A child's id within its supervisor: short ids are stored inline, longer
/// ones shared, so ids cost no allocation per child and clone in O(1).
pub type ChildId = smol_str::SmolStr;

/// Where a child is in its life, from the supervisor's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatus {
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
    pub status: ChildStatus,
    /// Consecutive restarts without a stable run (drives backoff).
    pub attempt: u32,
    /// To be started by the restart plan in progress, after the child that
    /// caused it (`one_for_all`, `rest_for_one`). Its status is `Stopped`
    /// meanwhile, as OTP shows such a child `undefined`: only the child the
    /// plan is for is `Restarting`.
    pub queued: bool,
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

/// A child as a plan names it: its sequence number (stable for its life,
/// how the driver addresses it without hashing) and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildKey {
    /// Position in start order.
    pub seq: u64,
    /// The child's id.
    pub id: ChildId,
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
        terminate: Vec<ChildKey>,
        /// Children to start, in order.
        start: Vec<ChildKey>,
        /// Consecutive restarts of the child that caused this plan.
        attempt: u32,
    },
    /// Terminate `terminate` (reverse start order) and stop with `Shutdown`.
    Shutdown {
        /// Running children, in termination order.
        terminate: Vec<ChildKey>,
        /// Why.
        cause: ShutdownCause,
    },
}

/// A supervisor's decision state.
///
/// Children are kept in start order, each with a sequence number; exits,
/// retries and plans address them by it. The id index, needed only when
/// someone names a child (the runtime API, duplicate checks), is built
/// lazily, so starting 100k children from a validated spec hashes nothing.
#[derive(Clone, Debug)]
pub struct Core<T = ()> {
    flags: CoreFlags,
    children: SeqVec<ChildState<T>>,
    by_id: FxHashMap<ChildId, u64>,
    /// Children with a smaller sequence number are in `by_id`.
    indexed: u64,
    next_seq: u64,
    restarts: VecDeque<Instant>,
    removed: Vec<(ChildKey, T)>,
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
            indexed: 0,
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

    /// The sequence number the next added child will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Makes room for `n` more children.
    pub fn reserve(&mut self, n: usize) {
        self.children.reserve(n);
    }

    /// Brings the id index up to date (amortised O(1) per child).
    fn index(&mut self) {
        if self.indexed == self.next_seq {
            return;
        }
        for (seq, c) in self.children.range(self.indexed..) {
            self.by_id.insert(c.id.clone(), *seq);
        }
        self.indexed = self.next_seq;
    }

    /// A child's sequence number.
    pub fn seq_of(&mut self, id: &str) -> Option<u64> {
        self.index();
        self.by_id.get(id).copied()
    }

    /// One child, by id.
    pub fn child(&mut self, id: &str) -> Option<&ChildState<T>> {
        let seq = self.seq_of(id)?;
        self.children.get(&seq)
    }

    /// One child, by id, to update the driver's data.
    pub fn child_mut(&mut self, id: &str) -> Option<&mut ChildState<T>> {
        let seq = self.seq_of(id)?;
        self.children.get_mut(&seq)
    }

    /// The child with sequence number `seq`.
    pub fn child_at(&self, seq: u64) -> Option<&ChildState<T>> {
        self.children.get(&seq)
    }

    /// The child with sequence number `seq`, mutably.
    pub fn child_at_mut(&mut self, seq: u64) -> Option<&mut ChildState<T>> {
        self.children.get_mut(&seq)
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
        if self.seq_of(&id).is_some() {
            return false;
        }
        self.push_child(id, restart, significant, data);
        true
    }

    /// Appends a child whose id the caller knows to be unique (a validated
    /// spec's children, into a fresh core); returns its sequence number.
    pub fn push_child(&mut self, id: ChildId, restart: Restart, significant: bool, data: T) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.children.insert(
            seq,
            ChildState {
                id,
                restart,
                significant,
                status: ChildStatus::Stopped,
                attempt: 0,
                queued: false,
                started_at: None,
                data,
            },
        );
        seq
    }

    /// Removes the child with sequence number `seq`; returns its data.
    pub fn remove_at(&mut self, seq: u64) -> Option<T> {
        let c = self.children.remove(&seq)?;
        if seq < self.indexed {
            self.by_id.remove(&c.id);
        }
        Some(c.data)
    }

    /// Removes a child's spec; returns the driver's data for it.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let seq = self.seq_of(id)?;
        self.remove_at(seq)
    }

    /// Removes a child as part of a decision; its data waits in
    /// [`Core::take_removed`] for the driver (which may still have to
    /// terminate it, e.g. a temporary sibling in a `one_for_all` plan).
    fn drop_spec(&mut self, seq: u64) {
        let id = self.children.get(&seq).map(|c| c.id.clone());
        if let (Some(id), Some(data)) = (id, self.remove_at(seq)) {
            self.removed.push((ChildKey { seq, id }, data));
        }
    }

    /// The children the last decisions removed (temporary children that
    /// exited or were terminated by a sibling's restart), with their data.
    pub fn take_removed(&mut self) -> Vec<(ChildKey, T)> {
        std::mem::take(&mut self.removed)
    }

    /// Every child's driver data, mutably.
    pub fn each_data_mut(&mut self, mut f: impl FnMut(&mut T)) {
        for c in self.children.values_mut() {
            f(&mut c.data);
        }
    }

    /// The driver started the child at `seq`.
    pub fn mark_running_at(&mut self, seq: u64, now: Instant) {
        if let Some(c) = self.children.get_mut(&seq) {
            c.status = ChildStatus::Running;
            c.queued = false;
            c.started_at = Some(now);
        }
    }

    /// The driver started the child.
    pub fn mark_running(&mut self, id: &str, now: Instant) {
        if let Some(seq) = self.seq_of(id) {
            self.mark_running_at(seq, now);
        }
    }

    /// The driver stopped the child at `seq` on request (API); no restart
    /// follows. Temporary children lose their spec, as in OTP. Stopping the
    /// child a restart plan is for cancels the plan: the children queued
    /// behind it stay stopped.
    pub fn mark_terminated_at(&mut self, seq: u64) {
        let Some(c) = self.children.get_mut(&seq) else {
            return;
        };
        let cancels = c.status == ChildStatus::Restarting;
        c.queued = false;
        if c.restart == Restart::Temporary {
            self.drop_spec(seq);
        } else {
            c.status = ChildStatus::Stopped;
        }
        if cancels {
            for c in self.children.values_mut() {
                c.queued = false;
            }
        }
    }

    /// Whether a plan's start of the child at `seq` is still due: it is the
    /// child the plan is for, or queued behind it.
    pub fn start_due_at(&self, seq: u64) -> bool {
        self.children
            .get(&seq)
            .is_some_and(|c| c.status == ChildStatus::Restarting || c.queued)
    }

    /// [`Core::mark_terminated_at`] by id.
    pub fn mark_terminated(&mut self, id: &str) {
        if let Some(seq) = self.seq_of(id) {
            self.mark_terminated_at(seq);
        }
    }

    /// The child at `seq` was not started: its start function returned
    /// ignore (OTP's `{ok, undefined}`). It is stopped, with no retry; a
    /// temporary child's spec goes. The rest of a plan goes on.
    pub fn mark_ignored_at(&mut self, seq: u64) {
        let Some(c) = self.children.get_mut(&seq) else {
            return;
        };
        c.queued = false;
        if c.restart == Restart::Temporary {
            self.drop_spec(seq);
        } else {
            c.status = ChildStatus::Stopped;
        }
    }

    /// A start within a plan failed: the child at `seq` waits for a retry.
    pub fn mark_start_failed_at(&mut self, seq: u64) {
        if let Some(c) = self.children.get_mut(&seq) {
            c.status = ChildStatus::Restarting;
            c.queued = false;
        }
    }

    /// [`Core::mark_start_failed_at`] by id.
    pub fn mark_start_failed(&mut self, id: &str) {
        if let Some(seq) = self.seq_of(id) {
            self.mark_start_failed_at(seq);
        }
    }

    /// Running children in termination order (reverse start order).
    pub fn shutdown_order(&self) -> Vec<ChildKey> {
        self.running_in(0.., None)
    }

    /// The running child at `seq` exited with `reason`.
    ///
    /// Exits of children that are not `Running` (stale notifications) are
    /// ignored; the driver filters instances it terminated itself.
    pub fn on_exit_at(&mut self, seq: u64, reason: &ExitReason, now: Instant) -> Plan {
        let reset = self.flags.backoff_reset;
        let Some(child) = self.children.get_mut(&seq) else {
            return Plan::None;
        };
        if child.status != ChildStatus::Running {
            return Plan::None;
        }
        child.status = ChildStatus::Stopped;
        let restart = match child.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_normal(),
            Restart::Temporary => false,
        };
        if !restart {
            let significant = child.significant;
            if child.restart == Restart::Temporary {
                self.drop_spec(seq);
            }
            return self.auto_shutdown(significant);
        }
        let stable = child
            .started_at
            .is_some_and(|t| now.saturating_duration_since(t) >= reset);
        child.attempt = if stable { 1 } else { child.attempt + 1 };
        self.restart(seq, now)
    }

    /// [`Core::on_exit_at`] by id.
    pub fn on_exit(&mut self, id: &str, reason: &ExitReason, now: Instant) -> Plan {
        match self.seq_of(id) {
            Some(seq) => self.on_exit_at(seq, reason, now),
            None => Plan::None,
        }
    }

    /// A retry of a failed restart of the child at `seq` is due (OTP's
    /// `try_again_restart`). Counts toward intensity like any restart.
    pub fn try_again_at(&mut self, seq: u64, now: Instant) -> Plan {
        match self.children.get_mut(&seq) {
            Some(c) if c.status == ChildStatus::Restarting => {
                c.attempt += 1;
                self.restart(seq, now)
            }
            _ => Plan::None,
        }
    }

    /// [`Core::try_again_at`] by id.
    pub fn try_again(&mut self, id: &str, now: Instant) -> Plan {
        match self.seq_of(id) {
            Some(seq) => self.try_again_at(seq, now),
            None => Plan::None,
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
            c.status = ChildStatus::Stopped;
            c.queued = false;
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
                    .any(|c| c.significant && c.status != ChildStatus::Stopped);
                if any_alive {
                    Plan::None
                } else {
                    self.shutdown(ShutdownCause::Significant)
                }
            }
        }
    }

    fn restart(&mut self, seq: u64, now: Instant) -> Plan {
        if !self.add_restart(now) {
            return self.shutdown(ShutdownCause::IntensityExceeded);
        }
        let Some(child) = self.children.get_mut(&seq) else {
            return Plan::None;
        };
        let attempt = child.attempt;
        let (terminate, from) = match self.flags.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => {
                child.status = ChildStatus::Restarting;
                let id = child.id.clone();
                return Plan::Restart {
                    terminate: Vec::new(),
                    start: vec![ChildKey { seq, id }],
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
                .children
                .get(&t.seq)
                .is_some_and(|c| c.restart == Restart::Temporary)
            {
                self.drop_spec(t.seq);
            }
        }
        let mut start = Vec::new();
        for (k, c) in self.children.range_mut(from..) {
            if *k == seq {
                c.status = ChildStatus::Restarting;
            } else {
                c.status = ChildStatus::Stopped;
                c.queued = true;
            }
            start.push(ChildKey {
                seq: *k,
                id: c.id.clone(),
            });
        }
        Plan::Restart {
            terminate,
            start,
            attempt,
        }
    }

    /// Running children in `range` (except `skip`), in termination order.
    fn running_in(&self, range: std::ops::RangeFrom<u64>, skip: Option<u64>) -> Vec<ChildKey> {
        self.children
            .range(range)
            .rev()
            .filter(|(k, c)| Some(**k) != skip && c.status == ChildStatus::Running)
            .map(|(k, c)| ChildKey {
                seq: *k,
                id: c.id.clone(),
            })
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
                assert_eq!(terminate.first().map(|k| &*k.id), Some("c999"));
                assert_eq!(terminate.last().map(|k| &*k.id), Some("c501"));
                assert_eq!(start.first().map(|k| &*k.id), Some("c498"));
                assert_eq!(start.len(), 1 + (501..1000).step_by(3).count());
            }
            other => panic!("expected a restart, got {other:?}"),
        }
    }
}
