//! The supervisor actor: drives the pure [`Core`](super::decision::Core) and does
//! what it decides, one operation at a time.
//!
//! Every operation (start, restart plan, API call, shutdown) runs as an actix
//! `wait` future, so the supervisor handles nothing else until it finishes
//! (OTP supervisors are synchronous too). A failed restart is retried through
//! a message to itself, so a shutdown request is never starved by retries.

use super::decision::{ChildKey, ChildStatus, Core, CoreFlags, Plan, ShutdownCause};
use super::directory::Directory;
use super::slots::ChildSlot;
use super::spec::{
    ChildShutdown, ChildSpec, ChildType, Restart, Strategy, SupervisorError, SupervisorSpec,
};
use crate::actor::{ActorId, ContextExt, ExitReason, Host, LifeRef, Lifecycle};
use crate::platform;
use actix::fut::wrap_future;
use actix::prelude::*;
use rustc_hash::FxHashMap;
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The supervisor actor. Users hold it through
/// [`SupervisorRef`](super::SupervisorRef).
pub struct SupervisorActor {
    st: Rc<RefCell<State>>,
}

impl std::fmt::Debug for SupervisorActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.st.borrow();
        write!(f, "SupervisorActor({} {})", s.name, s.id)
    }
}

/// The driver's data for one child, kept inside the core's entry.
struct Record {
    slot: Arc<dyn ChildSlot>,
    /// How to start it; a temporary child's goes once it has started (it is
    /// never restarted, and OTP keeps nothing of its start arguments).
    factory: Option<Arc<dyn super::slots::ChildFactory>>,
    live: Option<Live>,
    shutdown: ChildShutdown,
    kind: ChildType,
}

impl Drop for Record {
    /// The child's spec is gone: its refs and name stop resolving.
    fn drop(&mut self) {
        self.slot.close();
    }
}

struct Live {
    generation: u64,
    life: LifeRef,
}

struct State {
    host: Host,
    id: ActorId,
    name: String,
    spec: Arc<SupervisorSpec>,
    core: Core<Record>,
    /// Children the core removed whose instance may still need terminating.
    orphans: FxHashMap<u64, Record>,
    dir: Arc<Directory>,
    addr: Option<Addr<SupervisorActor>>,
    sink: Option<Arc<dyn crate::actor::ExitSink>>,
    next_generation: u64,
    next_dynamic: u64,
    shutting_down: bool,
    children_down: bool,
    /// The reason to exit with once the children are down (`stop`).
    stop_reason: Option<ExitReason>,
    init: Option<oneshot::Sender<Result<(), SupervisorError>>>,
}

impl Drop for State {
    /// The supervisor is gone (stopped, panicked, or its worker ended): no
    /// child may outlive it (Erlang's link).
    fn drop(&mut self) {
        let kill = |rec: &mut Record| {
            if let Some(live) = rec.live.take() {
                live.life.request_kill();
            }
            rec.slot.close();
        };
        self.core.each_data_mut(kill);
        self.orphans.values_mut().for_each(kill);
        self.dir.clear();
    }
}

type Shared = Rc<RefCell<State>>;

impl State {
    /// Whether `id` names a dynamic child this (`simple_one_for_one`)
    /// supervisor started at some point.
    fn was_dynamic_child(&self, id: &str) -> bool {
        let Some(template) = self.spec.children.first() else {
            return false;
        };
        self.spec.strategy == Strategy::SimpleOneForOne
            && id
                .strip_prefix(&*template.id)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n >= 1 && n <= self.next_dynamic)
    }
}

impl SupervisorActor {
    pub(crate) fn new(
        host: Host,
        id: ActorId,
        spec: Arc<SupervisorSpec>,
        dir: Arc<Directory>,
        init: oneshot::Sender<Result<(), SupervisorError>>,
    ) -> Self {
        let flags = CoreFlags {
            strategy: spec.strategy,
            intensity: spec.intensity,
            period: spec.period,
            auto_shutdown: spec.auto_shutdown,
            backoff_reset: spec.backoff.map_or(spec.period, |b| b.reset_after),
        };
        dir.clear();
        Self {
            st: Rc::new(RefCell::new(State {
                host,
                id,
                name: spec.name.clone(),
                core: Core::new(flags),
                spec,
                orphans: FxHashMap::default(),
                dir,
                addr: None,
                sink: None,
                next_generation: 0,
                next_dynamic: 0,
                shutting_down: false,
                stop_reason: None,
                children_down: false,
                init: Some(init),
            })),
        }
    }

    /// Runs `fut` as the supervisor's only activity until it completes; if it
    /// yields an exit reason the supervisor stops with it.
    fn exclusive<F>(&self, ctx: &mut Context<Self>, fut: F)
    where
        F: std::future::Future<Output = Option<ExitReason>> + 'static,
    {
        ctx.wait(wrap_future::<_, Self>(fut).map(|stop, _act, ctx| {
            if let Some(reason) = stop {
                ctx.stop_with(reason);
            }
        }));
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        {
            let mut s = self.st.borrow_mut();
            s.addr = Some(ctx.address());
            s.sink = Some(Arc::new(SupervisorSink(ctx.address())));
        }
        let st = self.st.clone();
        self.exclusive(ctx, async move {
            let res = init_children(&st).await;
            let mut s = st.borrow_mut();
            let stop = match &res {
                Ok(()) => None,
                Err(e) => {
                    s.shutting_down = true;
                    s.children_down = true;
                    Some(ExitReason::Error(e.to_string()))
                }
            };
            if let Some(tx) = s.init.take() {
                let _ = tx.send(res);
            }
            stop
        });
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        {
            let mut s = self.st.borrow_mut();
            if s.children_down {
                return Running::Stop;
            }
            if s.shutting_down {
                return Running::Continue;
            }
            s.shutting_down = true;
        }
        let st = self.st.clone();
        self.exclusive(ctx, async move {
            terminate_all(&st).await;
            let reason = st.borrow_mut().stop_reason.take();
            Some(reason.unwrap_or(ExitReason::Shutdown))
        });
        Running::Continue
    }
}

/// Every child by id is started in order; the first failure stops the started
/// ones in reverse order and fails the supervisor's start.
async fn init_children(st: &Shared) -> Result<(), SupervisorError> {
    let n = {
        let mut s = st.borrow_mut();
        if s.spec.strategy == Strategy::SimpleOneForOne {
            return Ok(()); // the template is not a child
        }
        let n = s.spec.children.len();
        s.core.reserve(n);
        s.dir.reserve(n);
        n
    };
    let mut now = platform::now();
    let mut waited = false;
    let all = st.borrow().spec.clone();
    // Nobody can look children up before the start returns: the directory is
    // filled in one go at the end.
    let mut dir = Vec::with_capacity(n);
    for spec in all.children.iter().take(n) {
        let id = &spec.id;
        let is_supervisor = spec.kind == ChildType::Supervisor;
        // `start` validated the spec: ids are unique, so no index is needed
        let (seq, slot) = add_record(st, spec);
        dir.push((id.clone(), slot));
        if seq.is_multiple_of(256) || waited {
            now = platform::now();
        }
        waited = is_supervisor;
        match start_one_at_time(st, seq, Some(now)).await {
            Ok(()) => {}
            Err(crate::actor::StartError::Ignored) => {
                let mut s = st.borrow_mut();
                s.core.mark_ignored_at(seq);
                if s.core.child_at(seq).is_none() {
                    // a temporary child that declined keeps nothing
                    dir.pop();
                    collect_removed(&mut s);
                }
                continue;
            }
            Err(reason) => {
                tracing::error!(child = %id, "child failed to start: {reason}");
                terminate_all(st).await;
                return Err(SupervisorError::StartChild {
                    id: id.to_string(),
                    reason,
                });
            }
        }
    }
    st.borrow().dir.extend(dir);
    // temporary children are never started again: keep nothing of theirs
    let mut s = st.borrow_mut();
    if s.spec
        .children
        .iter()
        .any(|c| c.restart == Restart::Temporary)
    {
        let mut kept = SupervisorSpec::clone(&s.spec);
        kept.children.retain(|c| c.restart != Restart::Temporary);
        s.spec = Arc::new(kept);
    }
    Ok(())
}

/// Adds a child's record (the caller knows its id is free); returns its
/// sequence number and slot, which the caller puts in the directory.
fn add_record(st: &Shared, spec: &ChildSpec) -> (u64, Arc<dyn ChildSlot>) {
    let mut s = st.borrow_mut();
    let slot = spec.factory.new_slot(&s.host);
    let rec = Record {
        slot: slot.clone(),
        factory: Some(spec.factory.clone()),
        live: None,
        shutdown: spec.shutdown,
        kind: spec.kind,
    };
    let seq = s
        .core
        .push_child(spec.id.clone(), spec.restart, spec.significant, rec);
    (seq, slot)
}

/// [`add_record`] for a child added at run time: `None` if the id is taken.
fn add_checked(st: &Shared, spec: &ChildSpec) -> Option<u64> {
    if st.borrow_mut().core.seq_of(&spec.id).is_some() {
        return None;
    }
    let (seq, slot) = add_record(st, spec);
    st.borrow().dir.insert(&spec.id, slot);
    Some(seq)
}

/// Drops a child's spec (its slot closes with its record).
fn remove_record(s: &mut State, key: &ChildKey) {
    s.core.remove_at(key.seq);
    s.orphans.remove(&key.seq);
    s.dir.remove(&key.id);
}

/// Moves the children the core just removed out of the directory; those
/// still running wait in `orphans` until the plan terminates them.
fn collect_removed(s: &mut State) {
    for (key, rec) in s.core.take_removed() {
        s.dir.remove(&key.id);
        if rec.live.is_some() {
            s.orphans.insert(key.seq, rec);
        }
    }
}

/// Starts one child into its slot and links it to this supervisor.
async fn start_one(st: &Shared, id: &str) -> Result<(), crate::actor::StartError> {
    let seq = st.borrow_mut().core.seq_of(id);
    match seq {
        Some(seq) => start_one_at(st, seq).await,
        None => Err(crate::actor::StartError::Failed(format!("no child {id:?}"))),
    }
}

/// [`start_one`] for a child known by its sequence number (no id lookup).
async fn start_one_at(st: &Shared, seq: u64) -> Result<(), crate::actor::StartError> {
    start_one_at_time(st, seq, None).await
}

/// [`start_one_at`], with the start time given when the caller has a fresh
/// one (a bulk start reads the clock once per batch, not once per child).
async fn start_one_at_time(
    st: &Shared,
    seq: u64,
    now: Option<crate::platform::Instant>,
) -> Result<(), crate::actor::StartError> {
    let (slot, factory, host) = {
        let s = st.borrow();
        let Some(c) = s.core.child_at(seq) else {
            return Err(crate::actor::StartError::Failed(format!("no child #{seq}")));
        };
        let Some(factory) = c.data.factory.clone() else {
            return Err(crate::actor::StartError::Failed(format!(
                "temporary child {:?} is not started again",
                c.id
            )));
        };
        (c.data.slot.clone(), factory, s.host.clone())
    };
    let (life, now) = match factory.start_now(&*slot, &host, None) {
        Some(started) => (started?, now),
        // it waited (a nested supervisor): time has passed
        None => (factory.start(&*slot, &host, None).await?, None),
    };
    let mut s = st.borrow_mut();
    s.next_generation += 1;
    let generation = s.next_generation;
    if let Some(sink) = &s.sink {
        life.set_parent(sink.clone(), seq, generation);
    }
    if let Some(c) = s.core.child_at_mut(seq) {
        c.data.live = Some(Live { generation, life });
        if c.restart == Restart::Temporary {
            c.data.factory = None;
        }
    }
    s.core
        .mark_running_at(seq, now.unwrap_or_else(platform::now));
    Ok(())
}

/// Stops one child per its shutdown policy and waits until it has exited.
async fn terminate_one(st: &Shared, key: &ChildKey) {
    let (live, how) = {
        let mut guard = st.borrow_mut();
        let s = &mut *guard;
        let rec = match s.core.child_at_mut(key.seq) {
            Some(c) => Some(&mut c.data),
            None => s.orphans.get_mut(&key.seq),
        };
        let Some(rec) = rec else {
            return;
        };
        (rec.live.take(), rec.shutdown)
    };
    if let Some(live) = live {
        let reason = shutdown_instance(&live.life, how, &key.id).await;
        tracing::debug!(child = %key.id, %reason, "child terminated");
    }
    let mut s = st.borrow_mut();
    s.orphans.remove(&key.seq);
    if let Some(c) = s.core.child_at(key.seq) {
        c.data.slot.clear();
    }
}

pub(crate) async fn shutdown_instance(
    life: &Lifecycle,
    how: ChildShutdown,
    child: &str,
) -> ExitReason {
    let (tx, mut rx) = oneshot::channel();
    life.watch(Box::new(move |r| {
        let _ = tx.send(r.clone());
    }));
    match how {
        ChildShutdown::BrutalKill => life.request_kill(),
        ChildShutdown::Infinity => life.request_stop(),
        ChildShutdown::Timeout(d) => {
            life.request_stop();
            match tokio::time::timeout(d, &mut rx).await {
                Ok(r) => return r.unwrap_or(ExitReason::NoActor),
                Err(_) => {
                    tracing::warn!(child, "shutdown timed out after {d:?}; killing");
                    life.request_kill();
                }
            }
        }
    }
    rx.await.unwrap_or(ExitReason::NoActor)
}

/// Terminates every running child in reverse start order; the supervisor is
/// then ready to stop.
async fn terminate_all(st: &Shared) {
    st.borrow_mut().shutting_down = true;
    let order = st.borrow().core.shutdown_order();
    for key in order {
        terminate_one(st, &key).await;
    }
    let mut s = st.borrow_mut();
    s.core.each_data_mut(|rec| rec.slot.close());
    s.orphans.clear();
    s.dir.clear();
    s.children_down = true;
}

/// Carries out a plan of the core.
async fn run_plan(st: &Shared, plan: Plan) -> Option<ExitReason> {
    match plan {
        Plan::None => None,
        Plan::Restart {
            terminate,
            start,
            attempt,
        } => {
            for key in &terminate {
                terminate_one(st, key).await;
            }
            let delay = {
                let s = st.borrow();
                s.spec
                    .backoff
                    .map(|b| b.delay(attempt, s.host.rng().unit()))
            };
            match delay {
                Some(d) if !d.is_zero() => {
                    let addr = st.borrow().addr.clone();
                    platform::spawn_local(async move {
                        tokio::time::sleep(d).await;
                        if let Some(addr) = addr {
                            addr.do_send(StartPending { keys: start });
                        }
                    });
                }
                _ => start_list(st, start).await,
            }
            None
        }
        Plan::Shutdown { terminate, cause } => {
            {
                let s = st.borrow();
                match cause {
                    ShutdownCause::IntensityExceeded => tracing::error!(
                        supervisor = %s.id, name = %s.name,
                        "restart intensity exceeded ({} in {:?}); shutting down",
                        s.spec.intensity, s.spec.period
                    ),
                    ShutdownCause::Significant => tracing::info!(
                        supervisor = %s.id, name = %s.name,
                        "significant child exited; shutting down"
                    ),
                }
            }
            st.borrow_mut().shutting_down = true;
            for key in terminate {
                terminate_one(st, &key).await;
            }
            terminate_all(st).await;
            Some(ExitReason::Shutdown)
        }
    }
}

/// Starts the listed children that are still due; on the first failure the
/// child is retried later through a message to the supervisor itself.
async fn start_list(st: &Shared, keys: Vec<ChildKey>) {
    for ChildKey { seq, id } in keys {
        let due = {
            let s = st.borrow();
            !s.shutting_down && s.core.start_due_at(seq)
        };
        if !due {
            continue;
        }
        match start_one_at(st, seq).await {
            Ok(()) => {
                let s = st.borrow();
                s.host.counters().restarts.fetch_add(1, Ordering::Relaxed);
                tracing::info!(supervisor = %s.id, child = %id, "child restarted");
            }
            Err(crate::actor::StartError::Ignored) => {
                let mut s = st.borrow_mut();
                if s.spec.strategy == Strategy::SimpleOneForOne {
                    // OTP: a dynamic child whose restart is ignored is gone
                    tracing::info!(supervisor = %s.id, child = %id, "restart ignored: the dynamic child is removed");
                    s.core.mark_ignored_at(seq);
                    remove_record(&mut s, &ChildKey { seq, id });
                } else {
                    tracing::info!(supervisor = %s.id, child = %id, "restart ignored: the child stays stopped");
                    s.core.mark_ignored_at(seq);
                }
                collect_removed(&mut s);
            }
            Err(e) => {
                let mut s = st.borrow_mut();
                tracing::warn!(supervisor = %s.id, child = %id, "restart failed: {e}; will retry");
                s.core.mark_start_failed_at(seq);
                if let Some(addr) = &s.addr {
                    addr.do_send(TryAgain { seq });
                }
                return;
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ChildExited {
    seq: u64,
    generation: u64,
    reason: ExitReason,
}

/// The one exit sink all of a supervisor's children report to.
struct SupervisorSink(Addr<SupervisorActor>);

impl crate::actor::ExitSink for SupervisorSink {
    fn exited(&self, seq: u64, generation: u64, reason: &ExitReason) {
        self.0.do_send(ChildExited {
            seq,
            generation,
            reason: reason.clone(),
        });
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct TryAgain {
    seq: u64,
}

#[derive(Message)]
#[rtype(result = "()")]
struct StartPending {
    keys: Vec<ChildKey>,
}

impl Handler<ChildExited> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let plan = {
            let mut s = self.st.borrow_mut();
            if s.shutting_down {
                return;
            }
            let Some(c) = s.core.child_at_mut(msg.seq) else {
                return; // removed meanwhile
            };
            if c.data
                .live
                .as_ref()
                .is_none_or(|l| l.generation != msg.generation)
            {
                return; // an instance we terminated ourselves, or already handled
            }
            c.data.live = None;
            c.data.slot.clear();
            let id = c.id.clone();
            if msg.reason.is_normal() {
                tracing::info!(supervisor = %s.id, child = %id, reason = %msg.reason, "child exited");
            } else {
                tracing::warn!(supervisor = %s.id, child = %id, reason = %msg.reason, "child exited");
            }
            let plan = s.core.on_exit_at(msg.seq, &msg.reason, platform::now());
            collect_removed(&mut s);
            plan
        };
        if plan == Plan::None {
            return;
        }
        let st = self.st.clone();
        self.exclusive(ctx, async move { run_plan(&st, plan).await });
    }
}

impl Handler<TryAgain> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: TryAgain, ctx: &mut Context<Self>) {
        let plan = {
            let mut s = self.st.borrow_mut();
            if s.shutting_down {
                return;
            }
            let plan = s.core.try_again_at(msg.seq, platform::now());
            collect_removed(&mut s);
            plan
        };
        let st = self.st.clone();
        self.exclusive(ctx, async move { run_plan(&st, plan).await });
    }
}

impl Handler<StartPending> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: StartPending, ctx: &mut Context<Self>) {
        let st = self.st.clone();
        self.exclusive(ctx, async move {
            start_list(&st, msg.keys).await;
            None
        });
    }
}

// ---- the runtime API (OTP's start_child, terminate_child, ...) ----

/// Which child an operation is for: by id, or by the ref of its actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildSelector {
    /// The child with this id.
    Id(String),
    /// The child whose actor this is; `alive` is whether the actor ran when
    /// the selector was made (a dynamic child already gone is no error).
    Actor {
        /// The child's actor.
        id: ActorId,
        /// Whether it was alive.
        alive: bool,
    },
}

impl From<&str> for ChildSelector {
    fn from(id: &str) -> Self {
        ChildSelector::Id(id.to_owned())
    }
}

impl From<String> for ChildSelector {
    fn from(id: String) -> Self {
        ChildSelector::Id(id)
    }
}

impl<A: Actor<Context = Context<A>>> From<&crate::actor::ActorRef<A>> for ChildSelector {
    fn from(r: &crate::actor::ActorRef<A>) -> Self {
        ChildSelector::Actor {
            id: r.id().clone(),
            alive: r.is_alive(),
        }
    }
}

impl std::fmt::Display for ChildSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildSelector::Id(id) => f.write_str(id),
            ChildSelector::Actor { id, .. } => write!(f, "{id}"),
        }
    }
}

impl State {
    /// The sequence number of the child `sel` names, if it is one of ours.
    fn find(&mut self, sel: &ChildSelector) -> Option<u64> {
        match sel {
            ChildSelector::Id(id) => self.core.seq_of(id),
            ChildSelector::Actor { id, .. } => {
                let cid = self
                    .core
                    .children()
                    .find(|c| c.data.slot.actor_id() == id)
                    .map(|c| c.id.clone())?;
                self.core.seq_of(&cid)
            }
        }
    }

    /// Whether `sel` names a dynamic child that has already terminated
    /// (OTP: terminating it is ok).
    fn gone_dynamic(&self, sel: &ChildSelector) -> bool {
        match sel {
            ChildSelector::Id(id) => self.was_dynamic_child(id),
            ChildSelector::Actor { alive, .. } => {
                self.spec.strategy == Strategy::SimpleOneForOne && !alive
            }
        }
    }

    /// OTP's `{error, simple_one_for_one}` for `terminate_child` and
    /// `which_child`: a `simple_one_for_one` supervisor's children are named
    /// by ref. arbour also names each dynamic child `TEMPLATE-N`; such an id
    /// is accepted (an extension), any other id is this error.
    fn id_on_simple(&self, sel: &ChildSelector) -> bool {
        match sel {
            ChildSelector::Id(id) => {
                self.spec.strategy == Strategy::SimpleOneForOne && !self.was_dynamic_child(id)
            }
            ChildSelector::Actor { .. } => false,
        }
    }

    fn info(&self, seq: u64) -> Option<ChildInfo> {
        self.core.child_at(seq).map(child_info)
    }
}

/// A child as `which_children` and `which_child` report it.
fn child_info(c: &super::decision::ChildState<Record>) -> ChildInfo {
    ChildInfo {
        id: c.id.to_string(),
        actor: c.data.slot.actor_id().clone(),
        status: c.status,
        kind: c.data.kind,
    }
}

/// A child's spec as `get_childspec` reports it (OTP's `child_spec()`
/// map, without the start function).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSpecInfo {
    /// The child's id.
    pub id: String,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: ChildShutdown,
    /// Worker or supervisor.
    pub kind: ChildType,
    /// Whether its exit can shut the supervisor down.
    pub significant: bool,
}

/// What `which_children` reports for one child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// The child's id.
    pub id: String,
    /// Its actor id (stable across restarts).
    pub actor: ActorId,
    /// Running, stopped (`undefined`) or restarting.
    pub status: ChildStatus,
    /// Worker or supervisor.
    pub kind: ChildType,
}

/// What `count_children` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Child specs.
    pub specs: usize,
    /// Running children.
    pub active: usize,
    /// Children that are supervisors.
    pub supervisors: usize,
    /// Children that are workers.
    pub workers: usize,
}

#[derive(Message)]
#[rtype(result = "Result<(), SupervisorError>")]
pub(crate) struct StartChild(pub(crate) ChildSpec);

#[derive(Message)]
#[rtype(result = "Result<Box<dyn Any + Send + Sync>, SupervisorError>")]
pub(crate) struct StartDynamic(pub(crate) Box<dyn Any + Send>);

#[derive(Message)]
#[rtype(result = "Result<(), SupervisorError>")]
pub(crate) struct TerminateChild(pub(crate) ChildSelector);

#[derive(Message)]
#[rtype(result = "Result<ChildInfo, SupervisorError>")]
pub(crate) struct WhichChild(pub(crate) ChildSelector);

#[derive(Message)]
#[rtype(result = "Result<ChildSpecInfo, SupervisorError>")]
pub(crate) struct GetChildSpec(pub(crate) ChildSelector);

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopWith(pub(crate) ExitReason);

#[derive(Message)]
#[rtype(result = "Result<(), SupervisorError>")]
pub(crate) struct RestartChild(pub(crate) String);

#[derive(Message)]
#[rtype(result = "Result<(), SupervisorError>")]
pub(crate) struct DeleteChild(pub(crate) String);

#[derive(Message)]
#[rtype(result = "Vec<ChildInfo>")]
pub(crate) struct WhichChildren;

#[derive(Message)]
#[rtype(result = "ChildCounts")]
pub(crate) struct CountChildren;

type Atomic<T> = AtomicResponse<SupervisorActor, T>;

fn atomic<T: 'static>(fut: impl std::future::Future<Output = T> + 'static) -> Atomic<T> {
    AtomicResponse::new(Box::pin(wrap_future::<_, SupervisorActor>(fut)))
}

fn ready<T: 'static>(v: T) -> Atomic<T> {
    atomic(std::future::ready(v))
}

/// Starts a newly added child; on failure the spec is not kept (OTP).
async fn start_added(
    st: &Shared,
    spec: ChildSpec,
) -> Result<Box<dyn Any + Send + Sync>, SupervisorError> {
    let id = spec.id.clone();
    let Some(seq) = add_checked(st, &spec) else {
        return Err(SupervisorError::AlreadyPresent(id.to_string()));
    };
    match start_one_at(st, seq).await {
        Ok(()) => {
            let s = st.borrow();
            Ok(s.core
                .child_at(seq)
                .map(|c| c.data.slot.clone().handle())
                .unwrap_or_else(|| Box::new(())))
        }
        Err(crate::actor::StartError::Ignored) => {
            // OTP's {ok, undefined}: no child runs; a temporary one's spec
            // goes (its ref, handed back, resolves to nothing)
            let mut s = st.borrow_mut();
            let handle = s.core.child_at(seq).map(|c| c.data.slot.clone());
            s.core.mark_ignored_at(seq);
            if s.spec.strategy == Strategy::SimpleOneForOne {
                // OTP keeps nothing of a dynamic child that was ignored
                remove_record(&mut s, &ChildKey { seq, id });
            }
            collect_removed(&mut s);
            Ok(handle.map_or_else(
                || Box::new(()) as Box<dyn Any + Send + Sync>,
                |h| h.handle(),
            ))
        }
        Err(reason) => {
            remove_record(
                &mut st.borrow_mut(),
                &ChildKey {
                    seq,
                    id: id.clone(),
                },
            );
            Err(SupervisorError::StartChild {
                id: id.to_string(),
                reason,
            })
        }
    }
}

impl Handler<StartChild> for SupervisorActor {
    type Result = Atomic<Result<(), SupervisorError>>;

    fn handle(&mut self, StartChild(spec): StartChild, _: &mut Context<Self>) -> Self::Result {
        {
            let mut s = self.st.borrow_mut();
            if s.shutting_down {
                return ready(Err(SupervisorError::NoSupervisor));
            }
            if s.spec.strategy == Strategy::SimpleOneForOne {
                return ready(Err(SupervisorError::WrongStrategy));
            }
            if let Err(e) = s.spec.check_child(&spec) {
                return ready(Err(e));
            }
            if let Some(c) = s.core.child(&spec.id) {
                return ready(Err(match c.status {
                    ChildStatus::Running => SupervisorError::AlreadyStarted(spec.id.to_string()),
                    _ => SupervisorError::AlreadyPresent(spec.id.to_string()),
                }));
            }
        }
        let st = self.st.clone();
        atomic(async move { start_added(&st, spec).await.map(|_| ()) })
    }
}

impl Handler<StartDynamic> for SupervisorActor {
    type Result = Atomic<Result<Box<dyn Any + Send + Sync>, SupervisorError>>;

    fn handle(&mut self, StartDynamic(args): StartDynamic, _: &mut Context<Self>) -> Self::Result {
        let spec = {
            let mut s = self.st.borrow_mut();
            if s.shutting_down {
                return ready(Err(SupervisorError::NoSupervisor));
            }
            let Some(template) = s
                .spec
                .children
                .first()
                .cloned()
                .filter(|_| s.spec.strategy == Strategy::SimpleOneForOne)
            else {
                return ready(Err(SupervisorError::WrongStrategy));
            };
            let Some(t) = template.template.as_ref() else {
                return ready(Err(SupervisorError::WrongStrategy));
            };
            let factory = match t.instantiate(args) {
                Ok(f) => f,
                Err(e) => return ready(Err(e)),
            };
            s.next_dynamic += 1;
            ChildSpec {
                id: format!("{}-{}", template.id, s.next_dynamic).into(),
                factory,
                template: None,
                ..template
            }
        };
        let st = self.st.clone();
        atomic(async move { start_added(&st, spec).await })
    }
}

impl Handler<TerminateChild> for SupervisorActor {
    type Result = Atomic<Result<(), SupervisorError>>;

    fn handle(
        &mut self,
        TerminateChild(sel): TerminateChild,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let (seq, id) = {
            let mut s = self.st.borrow_mut();
            if s.id_on_simple(&sel) {
                return ready(Err(SupervisorError::WrongStrategy));
            }
            match s.find(&sel) {
                Some(seq) => (
                    seq,
                    s.core
                        .child_at(seq)
                        .map(|c| c.id.clone())
                        .unwrap_or_default(),
                ),
                // OTP: a dynamic child that has already terminated is ok
                None if s.gone_dynamic(&sel) => return ready(Ok(())),
                None => return ready(Err(SupervisorError::NotFound(sel.to_string()))),
            }
        };
        let key = ChildKey { seq, id };
        let st = self.st.clone();
        atomic(async move {
            terminate_one(&st, &key).await;
            let mut s = st.borrow_mut();
            s.core.mark_terminated_at(seq);
            collect_removed(&mut s);
            if s.spec.strategy == Strategy::SimpleOneForOne {
                remove_record(&mut s, &key);
            }
            Ok(())
        })
    }
}

impl Handler<RestartChild> for SupervisorActor {
    type Result = Atomic<Result<(), SupervisorError>>;

    fn handle(&mut self, RestartChild(id): RestartChild, _: &mut Context<Self>) -> Self::Result {
        {
            let mut s = self.st.borrow_mut();
            if s.spec.strategy == Strategy::SimpleOneForOne {
                return ready(Err(SupervisorError::WrongStrategy));
            }
            match s.core.child(&id).map(|c| c.status) {
                None => return ready(Err(SupervisorError::NotFound(id))),
                Some(ChildStatus::Running) => return ready(Err(SupervisorError::Running(id))),
                Some(ChildStatus::Restarting) => {
                    return ready(Err(SupervisorError::Restarting(id)))
                }
                Some(ChildStatus::Stopped) => {}
            }
        }
        let st = self.st.clone();
        atomic(async move {
            match start_one(&st, &id).await {
                Ok(()) | Err(crate::actor::StartError::Ignored) => Ok(()),
                Err(reason) => Err(SupervisorError::StartChild { id, reason }),
            }
        })
    }
}

impl Handler<DeleteChild> for SupervisorActor {
    type Result = Result<(), SupervisorError>;

    fn handle(&mut self, DeleteChild(id): DeleteChild, _: &mut Context<Self>) -> Self::Result {
        let mut s = self.st.borrow_mut();
        if s.spec.strategy == Strategy::SimpleOneForOne {
            return Err(SupervisorError::WrongStrategy);
        }
        match s.core.child(&id).map(|c| c.status) {
            None => Err(SupervisorError::NotFound(id)),
            Some(ChildStatus::Running) => Err(SupervisorError::Running(id)),
            Some(ChildStatus::Restarting) => Err(SupervisorError::Restarting(id)),
            Some(ChildStatus::Stopped) => {
                if let Some(seq) = s.core.seq_of(&id) {
                    let key = ChildKey {
                        seq,
                        id: id.as_str().into(),
                    };
                    remove_record(&mut s, &key);
                }
                Ok(())
            }
        }
    }
}

impl Handler<WhichChildren> for SupervisorActor {
    type Result = MessageResult<WhichChildren>;

    fn handle(&mut self, _: WhichChildren, _: &mut Context<Self>) -> Self::Result {
        let s = self.st.borrow();
        // newest first, as OTP lists them (a child restarted in place keeps
        // its place)
        MessageResult(s.core.children().rev().map(child_info).collect())
    }
}

impl Handler<WhichChild> for SupervisorActor {
    type Result = Result<ChildInfo, SupervisorError>;

    fn handle(&mut self, WhichChild(sel): WhichChild, _: &mut Context<Self>) -> Self::Result {
        let mut s = self.st.borrow_mut();
        if s.id_on_simple(&sel) {
            return Err(SupervisorError::WrongStrategy);
        }
        let seq = s.find(&sel);
        seq.and_then(|seq| s.info(seq))
            .ok_or_else(|| SupervisorError::NotFound(sel.to_string()))
    }
}

impl Handler<GetChildSpec> for SupervisorActor {
    type Result = Result<ChildSpecInfo, SupervisorError>;

    fn handle(&mut self, GetChildSpec(sel): GetChildSpec, _: &mut Context<Self>) -> Self::Result {
        let mut s = self.st.borrow_mut();
        let seq = s.find(&sel);
        seq.and_then(|seq| s.core.child_at(seq))
            .map(|c| ChildSpecInfo {
                id: c.id.to_string(),
                restart: c.restart,
                shutdown: c.data.shutdown,
                kind: c.data.kind,
                significant: c.significant,
            })
            .ok_or_else(|| SupervisorError::NotFound(sel.to_string()))
    }
}

impl Handler<StopWith> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, StopWith(reason): StopWith, ctx: &mut Context<Self>) {
        let mut s = self.st.borrow_mut();
        if s.stop_reason.is_none() {
            s.stop_reason = Some(reason);
        }
        drop(s);
        ctx.stop();
    }
}

impl Handler<CountChildren> for SupervisorActor {
    type Result = MessageResult<CountChildren>;

    fn handle(&mut self, _: CountChildren, _: &mut Context<Self>) -> Self::Result {
        let s = self.st.borrow();
        let mut n = ChildCounts::default();
        let simple = s.spec.strategy == Strategy::SimpleOneForOne;
        if simple {
            // OTP: one spec, the template, however many children it made
            n.specs = 1;
        }
        for c in s.core.children() {
            if !simple {
                n.specs += 1;
            }
            if c.status == ChildStatus::Running {
                n.active += 1;
            }
            match c.data.kind {
                ChildType::Supervisor => n.supervisors += 1,
                ChildType::Worker => n.workers += 1,
            }
        }
        MessageResult(n)
    }
}
