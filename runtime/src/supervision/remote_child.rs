//! Supervised children that run on other nodes ([`ChildSpec::remote`]).
//!
//! The supervisor's child is a local shim, [`RemoteChild`]: each start
//! spawns the actor on a node the placement picks (through the node's
//! spawn service, which its host carries) and
//! starts a shim that monitors it. The shim exits when the actor does,
//! with the actor's reason (`NodeDown` when its node is declared down or
//! the connection is lost; that exit is told
//! [`HANDOVER_MARGIN`](crate::cluster::HANDOVER_MARGIN) late, for
//! a partition's other side to stop the actor first), so the supervisor
//! restarts it per its strategy and intensity like any child; the next start places it again, on a live
//! node (a member declared down is not one). Stopping the shim stops the
//! actor and waits for its exit, within the child's shutdown timeout;
//! killing the shim kills the actor.
//!
//! When the actor's node drains (it is leaving), the shim moves it: it
//! starts a replacement on a node the placement picks (never a draining
//! one), watches that, and only then stops the original. The supervisor
//! sees no exit, and counts no restart. A move to a given node
//! ([`Node::move_child`](crate::Node::move_child), which evens a
//! deployment's spread when a node joins) goes the same way.

use crate::actor::watch::Monitor;
use crate::actor::{
    dead_ref, start_instance, ActorId, ActorRef, ContextExt, ExitReason, Host, Kind, Placement,
    Slot, SpawnOptions, StartError, Stats,
};
use crate::supervision::slots::{ChildFactory, ChildSlot, StartFuture};
use crate::supervision::{ChildSpec, ChildType};
use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, Running};
use std::any::Any;
use std::sync::{Arc, Mutex};

/// Lets remote children outlive their supervisor: once released, a
/// child's shim that stops (its supervisor stopping, its node shutting
/// down) leaves the remote actor running, for a successor to adopt
/// ([`ChildSpec::adopting`]). A node handing a deployment over releases its
/// children before its supervisors stop ([`Node::before_shutdown`](crate::Node::before_shutdown)).
#[derive(Clone, Debug, Default)]
pub struct Release(Arc<std::sync::atomic::AtomicBool>);

impl Release {
    /// From now on, stopping the children leaves their actors running.
    pub fn release(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether [`Release::release`] was called.
    pub fn is_released(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Starts one instance of a remote child's kind where its placement says,
/// or on the node given (each start, and each move).
type Respawn<A> = Arc<
    dyn Fn(
            &Host,
            Option<String>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ActorRef<A>, StartError>>>>
        + Send
        + Sync,
>;

/// The local stand-in of a child running on another node.
pub struct RemoteChild<A: Actor<Context = Context<A>>> {
    remote: ActorRef<A>,
    monitor: Option<Monitor>,
    /// The remote actor's exit, once known.
    exited: Option<ExitReason>,
    /// Set once the child is handed over: stopping leaves the actor be.
    release: Release,
    /// What `SupervisorRef::child` hands out: the actor it stands for now.
    current: Arc<Mutex<Option<ActorRef<A>>>>,
    host: Host,
    /// Starts a replacement when the actor's node drains.
    respawn: Respawn<A>,
    /// The mover registered with the node's spawn service, for `remote`.
    mover: Option<u64>,
    /// A replacement is being started.
    moving: bool,
}

impl<A: Actor<Context = Context<A>>> std::fmt::Debug for RemoteChild<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteChild")
            .field("remote", self.remote.id())
            .finish()
    }
}

/// The actor `0` stands for exited.
#[derive(Message)]
#[rtype(result = "()")]
struct RemoteExited(ActorId, ExitReason);

/// Move the actor: its node drains (`None`: where the placement picks),
/// or its deployment's spread is evened (to the node given).
#[derive(Message)]
#[rtype(result = "()")]
struct Move(Option<String>);

impl<A: Actor<Context = Context<A>>> RemoteChild<A> {
    /// Watches the actor it stands for now, and registers its mover.
    fn watch_remote(&mut self, ctx: &mut Context<Self>) {
        let (me, id) = (ctx.address(), self.remote.id().clone());
        self.monitor = Some(self.remote.watch(Box::new(move |reason| {
            me.do_send(RemoteExited(id, reason.clone()))
        })));
        self.forget_mover();
        if let Some(spawner) = self.host.spawner() {
            let me = ctx.address();
            self.mover =
                Some(spawner.on_drain(self.remote.id(), Box::new(move |to| me.do_send(Move(to)))));
        }
    }

    fn forget_mover(&mut self) {
        if let (Some(key), Some(spawner)) = (self.mover.take(), self.host.spawner()) {
            spawner.forget_mover(key);
        }
    }

    /// A replacement started (or could not): it takes the original's place,
    /// which then stops.
    fn moved(&mut self, started: Result<ActorRef<A>, StartError>, ctx: &mut Context<Self>) {
        self.moving = false;
        match started {
            // the original exited meanwhile: the supervisor restarts it
            Ok(new) if self.exited.is_some() => new.stop(),
            Ok(new) => {
                let old = std::mem::replace(&mut self.remote, new.clone());
                if let Some(m) = self.monitor.take() {
                    old.demonitor(m);
                }
                *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
                self.watch_remote(ctx);
                old.stop();
                tracing::info!(from = %old.id(), to = %self.remote.id(), "a remote child moved: started anew, then stopped where it ran");
            }
            Err(e) => tracing::warn!(
                child = %self.remote.id(),
                "a remote child could not move ({e}): it runs where it is"
            ),
        }
    }
}

impl<A: Actor<Context = Context<A>>> Actor for RemoteChild<A> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.watch_remote(ctx);
    }

    /// Asked to stop: the remote actor is stopped first, and the shim
    /// exits once it has (the supervisor's shutdown timeout bounds that).
    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if self.exited.is_some() || self.release.is_released() {
            return Running::Stop;
        }
        self.remote.stop();
        // a node this one does not reach would not say when the actor
        // ended: waiting out the shutdown timeout for it would hold up the
        // supervisor's other children (the kill on drop still goes out,
        // and the actor's side stops it if it lost its quorum)
        let node = &self.remote.id().node.name;
        if self.host.spawner().is_some_and(|s| !s.reaches(node)) {
            return Running::Stop;
        }
        Running::Continue
    }
}

impl<A: Actor<Context = Context<A>>> Handler<RemoteExited> for RemoteChild<A> {
    type Result = ();
    fn handle(&mut self, RemoteExited(id, reason): RemoteExited, ctx: &mut Context<Self>) {
        if id != *self.remote.id() {
            return; // the original of a move, stopped on purpose
        }
        tracing::debug!(child = %self.remote.id(), %reason, "remote child exited");
        self.exited = Some(reason.clone());
        if reason == ExitReason::NodeDown {
            // its node may sit across a partition, where it still runs
            // until that side stops it: the restart waits that long
            ctx.run_later(crate::actor::HANDOVER_MARGIN, move |_, ctx| {
                ctx.stop_with(reason)
            });
        } else {
            ctx.stop_with(reason);
        }
    }
}

impl<A: Actor<Context = Context<A>>> Handler<Move> for RemoteChild<A> {
    type Result = ();
    fn handle(&mut self, Move(to): Move, ctx: &mut Context<Self>) {
        if self.moving || self.exited.is_some() {
            return;
        }
        self.moving = true;
        let start = (self.respawn)(&self.host, to);
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(start)
                .map(|started, this, ctx| this.moved(started, ctx)),
        );
    }
}

impl<A: Actor<Context = Context<A>>> Drop for RemoteChild<A> {
    /// Killed (or dropped with its node) before the remote actor ended:
    /// the remote actor is killed too, so no orphan runs on.
    fn drop(&mut self) {
        self.forget_mover();
        if self.exited.is_none() && !self.release.is_released() {
            self.remote.kill();
        }
    }
}

/// A remote child's slot: the shim's, and the ref of the actor it stands
/// for now (what `SupervisorRef::child::<A>` returns).
struct RemoteSlot<A: Actor<Context = Context<A>>> {
    shim: Arc<Slot<RemoteChild<A>>>,
    current: Arc<Mutex<Option<ActorRef<A>>>>,
    stats: Arc<Stats>,
}

impl<A: Actor<Context = Context<A>>> ChildSlot for RemoteSlot<A> {
    fn actor_id(&self) -> &ActorId {
        &self.shim.id
    }

    fn clear(&self) {
        self.shim.set(None);
    }

    fn close(&self) {
        self.shim.close();
    }

    fn handle(self: Arc<Self>) -> Box<dyn Any + Send + Sync> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Box::new(current.unwrap_or_else(|| dead_ref(self.shim.id.clone(), self.stats.clone())))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Finds an instance of a remote child's kind already running, for a start
/// to adopt instead of spawning another (see [`ChildSpec::adopting`]).
pub type Adopt<A> = Arc<dyn Fn() -> Option<ActorRef<A>> + Send + Sync>;

struct RemoteFactory<A: Kind> {
    placement: Placement,
    kind: String,
    args: A::Args,
    group: Option<String>,
    adopt: Option<Adopt<A>>,
    release: Release,
}

impl<A> ChildFactory for RemoteFactory<A>
where
    A: Kind,
    A::Args: Clone + Sync,
{
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        Arc::new(RemoteSlot::<A> {
            shim: Arc::new(Slot::new(host.next_actor_id(), host.counters().clone())),
            current: Arc::default(),
            stats: host.counters().clone(),
        })
    }

    fn start_now(
        &self,
        _: &dyn ChildSlot,
        _: &Host,
        _: Option<SpawnOptions>,
    ) -> Option<Result<crate::actor::LifeRef, StartError>> {
        None
    }

    fn start(&self, slot: &dyn ChildSlot, host: &Host, opts: Option<SpawnOptions>) -> StartFuture {
        let Some(slot) = slot.as_any().downcast_ref::<RemoteSlot<A>>() else {
            return Box::pin(std::future::ready(Err(StartError::Failed(
                "internal error: a child slot of another type".into(),
            ))));
        };
        let (shim, current) = (slot.shim.clone(), slot.current.clone());
        let respawn = self.respawn();
        let adopted = self.adopt.as_ref().and_then(|find| find());
        let (host, kind, release) = (host.clone(), self.kind.clone(), self.release.clone());
        Box::pin(async move {
            let remote = match adopted {
                Some(remote) => {
                    tracing::info!(child = %remote.id(), %kind, "a remote child adopted: it runs on, now under this supervisor");
                    remote
                }
                None => respawn(&host, None).await?,
            };
            start_shim(&shim, current, remote, opts, &host, release, respawn)
        })
    }
}

impl<A> RemoteFactory<A>
where
    A: Kind,
    A::Args: Clone + Sync,
{
    /// Spawns an instance where the placement says (through the node's
    /// spawn service, which its host carries).
    fn respawn(&self) -> Respawn<A> {
        let (placement, kind, args, group) = (
            self.placement.clone(),
            self.kind.clone(),
            self.args.clone(),
            self.group.clone(),
        );
        Arc::new(move |host: &Host, to: Option<String>| {
            let (host, kind, group) = (host.clone(), kind.clone(), group.clone());
            let placement = to.map_or_else(|| placement.clone(), Placement::Node);
            let bytes = crate::wire::encode(&args);
            Box::pin(async move {
                let spawner = host.spawner().ok_or_else(|| {
                    StartError::Failed("a remote child needs a node with a network".into())
                })?;
                let bytes = bytes.map_err(|e| {
                    StartError::Failed(format!(
                        "the arguments of kind {kind:?} did not encode: {e}"
                    ))
                })?;
                let spawned = spawner
                    .spawn(&host, &placement, &kind, bytes, group)
                    .await
                    .map_err(StartError::Failed)?;
                spawned
                    .into_ref::<A>(&host)
                    .map_err(|e| StartError::Failed(e.to_string()))?
                    .ok_or_else(|| {
                        StartError::Failed(format!(
                            "kind {kind:?} is not a {}",
                            std::any::type_name::<A>()
                        ))
                    })
            })
        })
    }
}

/// Starts the shim that stands for `remote` in `shim`'s slot.
fn start_shim<A: Actor<Context = Context<A>>>(
    shim: &Arc<Slot<RemoteChild<A>>>,
    current: Arc<Mutex<Option<ActorRef<A>>>>,
    remote: ActorRef<A>,
    opts: Option<SpawnOptions>,
    host: &Host,
    release: Release,
    respawn: Respawn<A>,
) -> Result<crate::actor::LifeRef, StartError> {
    *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(remote.clone());
    let child_host = host.clone();
    let inst = start_instance(
        shim,
        opts.unwrap_or_default(),
        move || {
            Ok(RemoteChild {
                remote,
                monitor: None,
                exited: None,
                release,
                current,
                host: child_host,
                respawn,
                mover: None,
                moving: false,
            })
        },
        host.counters(),
    )?;
    Ok(inst.life_ref())
}

impl ChildSpec {
    /// A worker that runs on another node: each start spawns kind `kind`
    /// (registered there with [`Node::kind`](crate::Node::kind)) from
    /// `args` on a node `placement` picks, watched by a local shim. If that
    /// node goes down the child exits with `NodeDown` and is restarted per
    /// the supervisor's strategy and intensity, on a live node the
    /// placement allows (another one, for `Any` or `Role`). A start that
    /// finds no such node fails like any start. `SupervisorRef::child::<A>`
    /// gives the ref of the actor running now.
    pub fn remote<A>(
        id: impl Into<String>,
        placement: Placement,
        kind: impl Into<String>,
        args: A::Args,
    ) -> Self
    where
        A: Kind,
        A::Args: Clone + Sync,
    {
        Self::remote_factory::<A>(id.into(), placement, kind.into(), args, None, None)
    }

    /// [`ChildSpec::remote`] whose every instance joins process group
    /// `group` on its node (so clients find the instances running now with
    /// [`GlobalRegistry::group`](crate::cluster::GlobalRegistry::group)).
    pub fn remote_in_group<A>(
        group: impl Into<String>,
        id: impl Into<String>,
        placement: Placement,
        kind: impl Into<String>,
        args: A::Args,
    ) -> Self
    where
        A: Kind,
        A::Args: Clone + Sync,
    {
        Self::remote_factory::<A>(
            id.into(),
            placement,
            kind.into(),
            args,
            Some(group.into()),
            None,
        )
    }

    /// [`ChildSpec::remote_in_group`] that, at each start, first asks
    /// `adopt` for an instance already running (left by a supervisor that
    /// is gone: its node crashed, was cut off, or handed it over) and,
    /// given one, watches it instead of spawning another. A supervisor
    /// taking a deployment over so keeps what runs: no needless restart,
    /// the same actors. Once `release` is released, stopping the child
    /// leaves its actor running, for the next supervisor to adopt.
    pub fn adopting<A>(
        group: impl Into<String>,
        id: impl Into<String>,
        placement: Placement,
        kind: impl Into<String>,
        args: A::Args,
        adopt: Adopt<A>,
        release: Release,
    ) -> Self
    where
        A: Kind,
        A::Args: Clone + Sync,
    {
        Self::remote_factory::<A>(
            id.into(),
            placement,
            kind.into(),
            args,
            Some(group.into()),
            Some((adopt, release)),
        )
    }

    fn remote_factory<A>(
        id: String,
        placement: Placement,
        kind: String,
        args: A::Args,
        group: Option<String>,
        adopt: Option<(Adopt<A>, Release)>,
    ) -> Self
    where
        A: Kind,
        A::Args: Clone + Sync,
    {
        Self::from_factory(
            id.into(),
            Arc::new(RemoteFactory::<A> {
                placement,
                kind,
                args,
                group,
                release: adopt.as_ref().map(|(_, r)| r.clone()).unwrap_or_default(),
                adopt: adopt.map(|(a, _)| a),
            }),
            ChildType::Worker,
        )
    }
}
