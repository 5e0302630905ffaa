//! Type erasure between a supervisor (which handles children of any actor
//! type) and the typed slots that hold each child's current instance.
//!
//! A child spec owns one shared [`ChildFactory`]; each child gets a
//! [`ChildSlot`] from it (for a worker, the actor's `Slot<A>` itself, the same
//! one its `ActorRef`s point at), and the factory starts instances into it.

use super::directory::Directory;
use super::supervisor::SupervisorActor;
use super::{SupervisorError, SupervisorRef, SupervisorSpec};
use crate::actor::{
    start_instance, ActorId, ActorRef, Host, LifeRef, Slot, SpawnOptions, StartError,
};
use actix::{Actor, Context};
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A started child instance, or why it did not start.
pub(crate) type StartFuture = Pin<Box<dyn Future<Output = Result<LifeRef, StartError>>>>;

type Started = Result<LifeRef, StartError>;

/// How one child spec makes its child's slot and starts instances into it.
pub(crate) trait ChildFactory: Send + Sync + 'static {
    /// A new, empty slot (once per child).
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot>;
    /// Starts an instance into `slot` without suspending, if this kind of
    /// child can (workers can; a nested supervisor waits for its children).
    fn start_now(
        &self,
        slot: &dyn ChildSlot,
        host: &Host,
        opts: Option<SpawnOptions>,
    ) -> Option<Started>;
    /// Starts an instance into `slot`, waiting as long as that takes.
    fn start(&self, slot: &dyn ChildSlot, host: &Host, opts: Option<SpawnOptions>) -> StartFuture {
        Box::pin(std::future::ready(
            self.start_now(slot, host, opts).unwrap_or_else(|| {
                Err(StartError::Failed(
                    "this child cannot start synchronously".into(),
                ))
            }),
        ))
    }
}

/// A child's stable slot, whatever its actor type.
pub(crate) trait ChildSlot: Send + Sync {
    fn actor_id(&self) -> &ActorId;
    /// The instance exited; the slot waits for a refill.
    fn clear(&self);
    /// The child is gone for good.
    fn close(&self);
    /// `ActorRef<A>` (workers) or `SupervisorRef` (supervisors), boxed.
    fn handle(self: Arc<Self>) -> Box<dyn Any + Send + Sync>;
    fn as_any(&self) -> &dyn Any;
}

fn wrong_slot() -> StartError {
    StartError::Failed("internal error: a child slot of another type".into())
}

impl<A: Actor<Context = Context<A>>> ChildSlot for Slot<A> {
    fn actor_id(&self) -> &ActorId {
        &self.id
    }

    fn clear(&self) {
        self.set(None);
    }

    fn close(&self) {
        Slot::close(self);
    }

    fn handle(self: Arc<Self>) -> Box<dyn Any + Send + Sync> {
        Box::new(ActorRef::from_slot(self))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A worker's factory: the start function inline (one allocation per spec).
pub(crate) struct WorkerFactory<A, F> {
    make: F,
    opts: SpawnOptions,
    actor: PhantomData<fn() -> A>,
}

impl<A, F> WorkerFactory<A, F> {
    pub(crate) fn new(make: F, opts: SpawnOptions) -> Self {
        Self {
            make,
            opts,
            actor: PhantomData,
        }
    }
}

impl<A, F> ChildFactory for WorkerFactory<A, F>
where
    A: Actor<Context = Context<A>>,
    F: Fn() -> Result<A, StartError> + Send + Sync + 'static,
{
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        Arc::new(Slot::<A>::new(
            host.next_actor_id(),
            host.counters().clone(),
        ))
    }

    fn start_now(
        &self,
        slot: &dyn ChildSlot,
        host: &Host,
        opts: Option<SpawnOptions>,
    ) -> Option<Started> {
        let Some(slot) = slot.as_any().downcast_ref::<Slot<A>>() else {
            return Some(Err(wrong_slot()));
        };
        let started = start_instance(
            slot,
            opts.unwrap_or(self.opts),
            || (self.make)(),
            host.counters(),
        );
        Some(started.map(|i| i.life_ref()))
    }
}

/// `ChildSpec::mailbox`: the same factory with another mailbox size (an
/// allocation only for specs that ask for it).
pub(crate) struct WithMailbox {
    pub(crate) inner: Arc<dyn ChildFactory>,
    pub(crate) opts: SpawnOptions,
}

impl ChildFactory for WithMailbox {
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        self.inner.new_slot(host)
    }

    fn start_now(
        &self,
        slot: &dyn ChildSlot,
        host: &Host,
        _: Option<SpawnOptions>,
    ) -> Option<Started> {
        self.inner.start_now(slot, host, Some(self.opts))
    }

    fn start(&self, slot: &dyn ChildSlot, host: &Host, _: Option<SpawnOptions>) -> StartFuture {
        self.inner.start(slot, host, Some(self.opts))
    }
}

/// Builds dynamic children of a `simple_one_for_one` supervisor from
/// type-erased arguments.
pub(crate) trait TemplateFactory: Send + Sync + 'static {
    fn instantiate(
        &self,
        args: Box<dyn Any + Send>,
    ) -> Result<Arc<dyn ChildFactory>, SupervisorError>;
    fn with_mailbox(&self, capacity: usize) -> Arc<dyn TemplateFactory>;
}

type Make<A> = Arc<dyn Fn() -> Result<A, StartError> + Send + Sync>;
type Build<A, Args> = Arc<dyn Fn(Args) -> Make<A> + Send + Sync>;

pub(crate) struct TypedTemplate<A, Args> {
    build: Build<A, Args>,
    opts: SpawnOptions,
}

impl<A: 'static, Args: 'static> TypedTemplate<A, Args> {
    pub(crate) fn new<G>(build: impl Fn(Args) -> G + Send + Sync + 'static) -> Self
    where
        G: Fn() -> Result<A, StartError> + Send + Sync + 'static,
    {
        Self {
            build: Arc::new(move |args| Arc::new(build(args)) as Make<A>),
            opts: SpawnOptions::default(),
        }
    }
}

impl<A, Args> TemplateFactory for TypedTemplate<A, Args>
where
    A: Actor<Context = Context<A>>,
    Args: Send + 'static,
{
    fn instantiate(
        &self,
        args: Box<dyn Any + Send>,
    ) -> Result<Arc<dyn ChildFactory>, SupervisorError> {
        let make = (self.build)(start_args(args)?);
        Ok(Arc::new(WorkerFactory::new(move || make(), self.opts)))
    }

    fn with_mailbox(&self, capacity: usize) -> Arc<dyn TemplateFactory> {
        Arc::new(Self {
            build: self.build.clone(),
            opts: SpawnOptions { mailbox: capacity },
        })
    }
}

/// A dynamic child's start arguments, of the type its template takes.
fn start_args<Args: 'static>(args: Box<dyn Any + Send>) -> Result<Args, SupervisorError> {
    args.downcast::<Args>()
        .map(|a| *a)
        .map_err(|_| SupervisorError::WrongArgs)
}

/// The template of a `simple_one_for_one` supervisor whose children are
/// supervisors, each built from its start arguments.
pub(crate) struct SupervisorTemplate<Args> {
    build: Arc<dyn Fn(Args) -> SupervisorSpec + Send + Sync>,
}

impl<Args> SupervisorTemplate<Args> {
    pub(crate) fn new(build: impl Fn(Args) -> SupervisorSpec + Send + Sync + 'static) -> Self {
        Self {
            build: Arc::new(build),
        }
    }
}

impl<Args: Send + 'static> TemplateFactory for SupervisorTemplate<Args> {
    fn instantiate(
        &self,
        args: Box<dyn Any + Send>,
    ) -> Result<Arc<dyn ChildFactory>, SupervisorError> {
        let spec = (self.build)(start_args(args)?);
        spec.validate()?;
        Ok(Arc::new(SupervisorFactory::new(spec)))
    }

    fn with_mailbox(&self, _: usize) -> Arc<dyn TemplateFactory> {
        Arc::new(Self {
            build: self.build.clone(),
        })
    }
}

/// How a nested supervisor gets its spec at each start: given once, or
/// from an init function that may fail or decline (OTP's `init/1`).
type SupervisorInit = Arc<dyn Fn() -> Result<Option<SupervisorSpec>, String> + Send + Sync>;

/// A nested supervisor as a child. The spec is shared, not copied: a
/// supervisor of 100k children would otherwise hold its child list twice.
pub(crate) struct SupervisorFactory {
    spec: Arc<SupervisorSpec>,
    init: Option<SupervisorInit>,
}

impl SupervisorFactory {
    pub(crate) fn new(spec: SupervisorSpec) -> Self {
        Self {
            spec: Arc::new(spec),
            init: None,
        }
    }

    /// A supervisor whose spec `init` makes at each start.
    pub(crate) fn with_init(init: SupervisorInit) -> Self {
        Self {
            spec: Arc::new(SupervisorSpec::one_for_one()),
            init: Some(init),
        }
    }
}

impl ChildFactory for SupervisorFactory {
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        Arc::new(SupervisorSlot::new(host, self.spec.clone()))
    }

    fn start_now(&self, _: &dyn ChildSlot, _: &Host, _: Option<SpawnOptions>) -> Option<Started> {
        None
    }

    fn start(&self, slot: &dyn ChildSlot, host: &Host, _: Option<SpawnOptions>) -> StartFuture {
        let Some(slot) = slot.as_any().downcast_ref::<SupervisorSlot>() else {
            return Box::pin(std::future::ready(Err(wrong_slot())));
        };
        if let Some(init) = &self.init {
            match init() {
                Ok(Some(spec)) => {
                    if let Err(e) = spec.validate() {
                        return Box::pin(std::future::ready(Err(StartError::Failed(
                            e.to_string(),
                        ))));
                    }
                    slot.set_spec(spec);
                }
                Ok(None) => return Box::pin(std::future::ready(Err(StartError::Ignored))),
                Err(e) => return Box::pin(std::future::ready(Err(StartError::Failed(e)))),
            }
        }
        let fut = slot.start_supervisor(host);
        Box::pin(async move { fut.await.map_err(|e| StartError::Failed(e.to_string())) })
    }
}

pub(crate) struct SupervisorSlot {
    slot: Arc<Slot<SupervisorActor>>,
    spec: std::sync::Mutex<Arc<SupervisorSpec>>,
    dir: Arc<Directory>,
}

impl SupervisorSlot {
    pub(crate) fn new(host: &Host, spec: Arc<SupervisorSpec>) -> Self {
        Self {
            slot: Arc::new(Slot::new(host.next_actor_id(), host.counters().clone())),
            spec: std::sync::Mutex::new(spec),
            dir: Arc::new(Directory::default()),
        }
    }

    /// The spec the next start uses (from an init function).
    fn set_spec(&self, spec: SupervisorSpec) {
        *self.spec.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(spec);
    }

    pub(crate) fn supervisor_ref(&self) -> SupervisorRef {
        SupervisorRef::new(ActorRef::from_slot(self.slot.clone()), self.dir.clone())
    }

    /// Starts the supervisor and waits until all its children have started
    /// (OTP's synchronous `start_link`).
    pub(crate) fn start_supervisor(
        &self,
        host: &Host,
    ) -> impl Future<Output = Result<LifeRef, SupervisorError>> + 'static {
        let (tx, mut rx) = oneshot::channel();
        let sup = SupervisorActor::new(
            host.clone(),
            self.slot.id.clone(),
            self.spec.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            self.dir.clone(),
            tx,
        );
        let started = start_instance(
            &self.slot,
            SpawnOptions::default(),
            || Ok(sup),
            host.counters(),
        );
        let early = match &started {
            Err(_) => rx.try_recv().ok(),
            Ok(_) => None,
        };
        async move {
            let inst = match (started, early) {
                (Err(_), Some(Err(e))) => return Err(e),
                (Err(e), _) => {
                    return Err(SupervisorError::StartChild {
                        id: "<supervisor>".into(),
                        reason: e,
                    })
                }
                (Ok(inst), _) => inst,
            };
            match rx.await {
                Ok(Ok(())) => Ok(inst.life_ref()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(SupervisorError::StartChild {
                    id: "<supervisor>".into(),
                    reason: StartError::Exited(
                        inst.life
                            .exit_reason()
                            .cloned()
                            .unwrap_or(crate::actor::ExitReason::NoActor),
                    ),
                }),
            }
        }
    }
}

impl ChildSlot for SupervisorSlot {
    fn actor_id(&self) -> &ActorId {
        &self.slot.id
    }

    fn clear(&self) {
        self.slot.set(None);
    }

    fn close(&self) {
        self.slot.close();
    }

    fn handle(self: Arc<Self>) -> Box<dyn Any + Send + Sync> {
        Box::new(self.supervisor_ref())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
