//! `SupervisorRef`: the handle to a running supervisor, and starting one.

use super::directory::Directory;
use super::slots::SupervisorSlot;
use super::supervisor::{
    ChildCounts, ChildInfo, ChildSelector, ChildSpecInfo, CountChildren, DeleteChild, GetChildSpec,
    RestartChild, StartChild, StartDynamic, StopWith, SupervisorActor, TerminateChild, WhichChild,
    WhichChildren,
};
use super::{ChildSpec, SupervisorError, SupervisorSpec};
use crate::actor::{ActorId, ActorRef, AskError, ExitReason, Host, Root};
use actix::{Actor, Context};
use std::sync::Arc;
use std::time::Duration;

/// Supervisor calls wait as long as the operation takes (OTP uses `infinity`);
/// this bound only guards against a wedged supervisor.
const CALL_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A running supervisor. Cheap to clone; valid across restarts of the
/// supervisor by its own parent.
#[derive(Clone, Debug)]
pub struct SupervisorRef {
    actor: ActorRef<SupervisorActor>,
    dir: Arc<Directory>,
}

impl SupervisorSpec {
    /// Starts the supervisor on the current worker and returns once every
    /// child has started (or the first failed, in which case the started ones
    /// were stopped in reverse order).
    ///
    /// The supervisor and its children run on the node's workers (on this
    /// thread's one if it has one). The node stops it with its tree when it
    /// shuts down, after any supervisor started later (OTP's order).
    pub async fn start(self, node: &impl AsRef<Host>) -> Result<SupervisorRef, SupervisorError> {
        let host = node.as_ref();
        self.validate()?;
        let slot = SupervisorSlot::new(host, Arc::new(self));
        host.in_node(slot.start_supervisor(host)).await?;
        let sup = slot.supervisor_ref();
        track_root(host, &sup);
        Ok(sup)
    }
}

impl SupervisorSpec {
    /// Starts a supervisor whose spec `init` makes (OTP's `init/1`):
    /// `Ok(Some(spec))` starts it as [`SupervisorSpec::start`] does,
    /// `Ok(None)` is `ignore` (nothing starts; `Ok(None)` comes back), and
    /// an error is `SupervisorError::Init` with its text. A panic in `init`
    /// is caught: `SupervisorError::Init("init panicked: …")`, with the
    /// panic's text and location; the caller goes on.
    pub async fn start_init<E, F>(
        node: &impl AsRef<Host>,
        init: F,
    ) -> Result<Option<SupervisorRef>, SupervisorError>
    where
        E: std::fmt::Display,
        F: FnOnce() -> Result<Option<SupervisorSpec>, E>,
    {
        // OTP's start_link returns {error, {Reason, Stack}} when init
        // crashes, and the caller lives on
        match crate::actor::catch_panic(init) {
            Ok(Ok(Some(spec))) => spec.start(node).await.map(Some),
            Ok(Ok(None)) => Ok(None),
            Ok(Err(e)) => Err(SupervisorError::Init(e.to_string())),
            Err(panic) => Err(SupervisorError::Init(format!("init panicked: {panic}"))),
        }
    }
}

/// Lets the node stop `sup` at shutdown, and forget it once it exits.
fn track_root(host: &Host, sup: &SupervisorRef) {
    let id = sup.id().clone();
    let stopper = sup.clone();
    host.add_root(Root {
        id: id.clone(),
        shutdown: Box::new(move || {
            let sup = stopper.clone();
            Box::pin(async move {
                sup.shutdown().await;
            })
        }),
    });
    let (weak, exited) = (host.downgrade(), sup.exited());
    host.enter(|| {
        crate::platform::spawn_local(async move {
            exited.await;
            if let Some(host) = weak.upgrade() {
                host.remove_root(&id);
            }
        })
    });
}

/// A failed call to the supervisor: it is gone (OTP's `noproc`), or the call
/// itself failed, which says why.
fn call_error(e: AskError) -> SupervisorError {
    match e {
        AskError::ActorGone(_) | AskError::NodeDown(_) | AskError::NodeShutdown(_) => {
            SupervisorError::NoSupervisor
        }
        e => SupervisorError::Call(e),
    }
}

impl SupervisorRef {
    pub(crate) fn new(actor: ActorRef<SupervisorActor>, dir: Arc<Directory>) -> Self {
        Self { actor, dir }
    }

    /// The supervisor's actor id.
    pub fn id(&self) -> &ActorId {
        self.actor.id()
    }

    /// The supervisor as an actor (for monitors).
    pub fn actor(&self) -> &ActorRef<SupervisorActor> {
        &self.actor
    }

    /// True while the supervisor runs.
    pub fn is_alive(&self) -> bool {
        self.actor.is_alive()
    }

    /// The ref of worker child `id`, if it exists and is of type `A`.
    pub fn child<A: Actor<Context = Context<A>>>(&self, id: &str) -> Option<ActorRef<A>> {
        self.dir.get::<ActorRef<A>>(id)
    }

    /// The ref of supervisor child `id`.
    pub fn child_supervisor(&self, id: &str) -> Option<SupervisorRef> {
        self.dir.get::<SupervisorRef>(id)
    }

    /// Adds and starts a child (OTP's `start_child/2`). Errors:
    /// `AlreadyStarted`, `AlreadyPresent`, `StartChild`, `WrongStrategy`.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), SupervisorError> {
        self.call(StartChild(spec)).await?
    }

    /// Starts a dynamic child of a `simple_one_for_one` supervisor from its
    /// template and `args`; returns its ref.
    pub async fn start_dynamic<A, Args>(&self, args: Args) -> Result<ActorRef<A>, SupervisorError>
    where
        A: Actor<Context = Context<A>>,
        Args: Send + 'static,
    {
        let handle = self.call(StartDynamic(Box::new(args))).await??;
        handle
            .downcast::<ActorRef<A>>()
            .map(|r| *r)
            .map_err(|_| SupervisorError::WrongArgs)
    }

    /// Starts a dynamic child supervisor of a `simple_one_for_one`
    /// supervisor whose template is a
    /// [`ChildSpec::supervisor_template`]; returns its ref.
    pub async fn start_dynamic_supervisor<Args>(
        &self,
        args: Args,
    ) -> Result<SupervisorRef, SupervisorError>
    where
        Args: Send + 'static,
    {
        let handle = self.call(StartDynamic(Box::new(args))).await??;
        handle
            .downcast::<SupervisorRef>()
            .map(|r| *r)
            .map_err(|_| SupervisorError::WrongArgs)
    }

    /// Stops a child, named by id or by its ref (`&ActorRef<A>`); its spec
    /// stays (unless temporary or dynamic) so it can be restarted with
    /// [`SupervisorRef::restart_child`]. A dynamic child that has already
    /// terminated is no error (OTP); an unknown one is `NotFound`.
    ///
    /// As in OTP, a `simple_one_for_one` supervisor's children are named by
    /// ref: an id there is `WrongStrategy` (OTP's `{error,
    /// simple_one_for_one}`), except the `TEMPLATE-N` id arbour gives each
    /// dynamic child. Unlike OTP, a static child may be named by its ref
    /// too (a deliberate extension): an Erlang pid changes at every restart,
    /// so OTP names static children by id only, but an arbour child's ref
    /// survives its restarts and names the child as surely as its id does.
    pub async fn terminate_child(
        &self,
        child: impl Into<ChildSelector>,
    ) -> Result<(), SupervisorError> {
        self.call(TerminateChild(child.into())).await?
    }

    /// One child, by id or by ref (`which_child`): as
    /// [`SupervisorRef::which_children`] reports it. Ids and refs are
    /// accepted as [`SupervisorRef::terminate_child`] accepts them.
    pub async fn which_child(
        &self,
        child: impl Into<ChildSelector>,
    ) -> Result<ChildInfo, SupervisorError> {
        self.call(WhichChild(child.into())).await?
    }

    /// A child's spec, by id or by ref (OTP's `get_childspec`).
    pub async fn get_childspec(
        &self,
        child: impl Into<ChildSelector>,
    ) -> Result<ChildSpecInfo, SupervisorError> {
        self.call(GetChildSpec(child.into())).await?
    }

    /// Starts a stopped child again. Errors: `NotFound`, `Running`,
    /// `Restarting`, `StartChild`.
    pub async fn restart_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.call(RestartChild(id.to_owned())).await?
    }

    /// Removes a stopped child's spec. Errors: `NotFound`, `Running`,
    /// `Restarting`.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.call(DeleteChild(id.to_owned())).await?
    }

    /// Every child, the newest first (as OTP lists them).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(WhichChildren).await
    }

    /// Child counts.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.call(CountChildren).await
    }

    /// Stops the supervisor: its children are terminated in reverse start
    /// order, then it exits with `Shutdown`. Resolves with its exit reason.
    pub async fn shutdown(&self) -> ExitReason {
        let exited = self.actor.exited();
        self.actor.stop();
        exited.await
    }

    /// Stops the supervisor as [`SupervisorRef::shutdown`] does, exiting
    /// with `reason` (OTP's `supervisor:stop(Sup, Reason)`: `Normal` lets a
    /// transient parent leave it down). Resolves with its exit reason.
    pub async fn stop(&self, reason: ExitReason) -> ExitReason {
        let exited = self.actor.exited();
        self.actor.tell(StopWith(reason));
        exited.await
    }

    /// Resolves when the supervisor exits.
    pub fn exited(&self) -> impl std::future::Future<Output = ExitReason> + Send + 'static {
        self.actor.exited()
    }

    async fn call<M>(&self, msg: M) -> Result<M::Result, SupervisorError>
    where
        SupervisorActor: actix::Handler<M>,
        M: actix::Message + Send + 'static,
        M::Result: Send,
    {
        self.actor
            .ask(msg)
            .timeout(CALL_TIMEOUT)
            .wait_if_full()
            .await
            .map_err(call_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_to_a_gone_supervisor_is_noproc_and_other_failures_say_why() {
        let node = crate::actor::NodeId::new("n", 1);
        for gone in [
            AskError::ActorGone(ExitReason::Shutdown),
            AskError::NodeDown(node.clone()),
            AskError::NodeShutdown(node),
        ] {
            assert_eq!(call_error(gone), SupervisorError::NoSupervisor);
        }
        let timeout = AskError::Timeout(Duration::from_secs(1));
        assert_eq!(call_error(timeout.clone()), SupervisorError::Call(timeout));
        let panicked = AskError::Panicked("boom".into());
        assert_eq!(
            call_error(panicked.clone()),
            SupervisorError::Call(panicked)
        );
    }
}
