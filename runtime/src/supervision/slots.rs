//! Type erasure between a supervisor (which handles children of any actor
//! type) and the typed slots that hold each child's current instance.

use super::directory::Directory;
use super::supervisor::Supervisor;
use super::{SupervisorError, SupervisorRef, SupervisorSpec};
use crate::actor::{
    start_instance, ActorId, ActorRef, Host, Lifecycle, Slot, SpawnOptions, StartError,
};
use actix::{Actor, Context};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A started child instance, or why it did not start.
pub(crate) type StartFuture = Pin<Box<dyn Future<Output = Result<Arc<Lifecycle>, StartError>>>>;

/// Makes a child's slot (once per child spec instance in a supervisor).
pub(crate) trait ChildFactory: Send + Sync + 'static {
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot>;
    fn with_mailbox(&self, capacity: usize) -> Arc<dyn ChildFactory>;
}

/// A child's stable slot: starts instances into it, and hands out its ref.
pub(crate) trait ChildSlot: Send + Sync {
    fn actor_id(&self) -> &ActorId;
    fn start(&self, host: &Host) -> StartFuture;
    /// Starts without suspending when the child can (workers do; a nested
    /// supervisor must wait for its own children, so it returns `None`).
    fn start_now(&self, _host: &Host) -> Option<Result<Arc<Lifecycle>, StartError>> {
        None
    }
    /// The instance exited; the slot waits for a refill.
    fn clear(&self);
    /// The child is gone for good.
    fn close(&self);
    /// `ActorRef<A>` (workers) or `SupervisorRef` (supervisors), boxed.
    fn handle(&self) -> Box<dyn Any + Send + Sync>;
}

type Make<A> = Arc<dyn Fn() -> Result<A, String> + Send + Sync>;

pub(crate) struct WorkerFactory<A> {
    make: Make<A>,
    opts: SpawnOptions,
}

impl<A> WorkerFactory<A> {
    pub(crate) fn new(
        make: impl Fn() -> Result<A, String> + Send + Sync + 'static,
        opts: SpawnOptions,
    ) -> Self {
        Self {
            make: Arc::new(make),
            opts,
        }
    }
}

impl<A: Actor<Context = Context<A>>> ChildFactory for WorkerFactory<A> {
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        Arc::new(WorkerSlot {
            slot: Arc::new(Slot::new(host.next_actor_id(), host.counters().clone())),
            make: self.make.clone(),
            opts: self.opts,
        })
    }

    fn with_mailbox(&self, capacity: usize) -> Arc<dyn ChildFactory> {
        Arc::new(Self {
            make: self.make.clone(),
            opts: SpawnOptions { mailbox: capacity },
        })
    }
}

struct WorkerSlot<A: Actor> {
    slot: Arc<Slot<A>>,
    make: Make<A>,
    opts: SpawnOptions,
}

impl<A: Actor<Context = Context<A>>> WorkerSlot<A> {
    fn start_worker(&self, host: &Host) -> Result<Arc<Lifecycle>, StartError> {
        let make = &self.make;
        start_instance(
            &self.slot,
            self.opts,
            || make().map_err(StartError::Failed),
            host.counters(),
        )
        .map(|i| i.life.clone())
    }
}

impl<A: Actor<Context = Context<A>>> ChildSlot for WorkerSlot<A> {
    fn actor_id(&self) -> &ActorId {
        &self.slot.id
    }

    fn start(&self, host: &Host) -> StartFuture {
        Box::pin(std::future::ready(self.start_worker(host)))
    }

    fn start_now(&self, host: &Host) -> Option<Result<Arc<Lifecycle>, StartError>> {
        Some(self.start_worker(host))
    }

    fn clear(&self) {
        self.slot.current.store(None);
    }

    fn close(&self) {
        self.slot.close();
    }

    fn handle(&self) -> Box<dyn Any + Send + Sync> {
        Box::new(ActorRef::from_slot(self.slot.clone()))
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

type Build<A, Args> = Arc<dyn Fn(Args) -> Make<A> + Send + Sync>;

pub(crate) struct TypedTemplate<A, Args> {
    build: Build<A, Args>,
    opts: SpawnOptions,
}

impl<A: 'static, Args: 'static> TypedTemplate<A, Args> {
    pub(crate) fn new<G>(build: impl Fn(Args) -> G + Send + Sync + 'static) -> Self
    where
        G: Fn() -> Result<A, String> + Send + Sync + 'static,
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
        let args = args
            .downcast::<Args>()
            .map_err(|_| SupervisorError::WrongArgs)?;
        Ok(Arc::new(WorkerFactory {
            make: (self.build)(*args),
            opts: self.opts,
        }))
    }

    fn with_mailbox(&self, capacity: usize) -> Arc<dyn TemplateFactory> {
        Arc::new(Self {
            build: self.build.clone(),
            opts: SpawnOptions { mailbox: capacity },
        })
    }
}

/// A nested supervisor as a child.
/// The spec is shared, not copied: a supervisor of 100k children would
/// otherwise hold its child list twice.
pub(crate) struct SupervisorFactory {
    spec: Arc<SupervisorSpec>,
}

impl SupervisorFactory {
    pub(crate) fn new(spec: SupervisorSpec) -> Self {
        Self {
            spec: Arc::new(spec),
        }
    }
}

impl ChildFactory for SupervisorFactory {
    fn new_slot(&self, host: &Host) -> Arc<dyn ChildSlot> {
        Arc::new(SupervisorSlot::new(host, self.spec.clone()))
    }

    fn with_mailbox(&self, _capacity: usize) -> Arc<dyn ChildFactory> {
        Arc::new(Self {
            spec: self.spec.clone(),
        })
    }
}

pub(crate) struct SupervisorSlot {
    slot: Arc<Slot<Supervisor>>,
    spec: Arc<SupervisorSpec>,
    dir: Arc<Directory>,
}

impl SupervisorSlot {
    pub(crate) fn new(host: &Host, spec: Arc<SupervisorSpec>) -> Self {
        Self {
            slot: Arc::new(Slot::new(host.next_actor_id(), host.counters().clone())),
            spec,
            dir: Arc::new(Directory::default()),
        }
    }

    pub(crate) fn supervisor_ref(&self) -> SupervisorRef {
        SupervisorRef::new(ActorRef::from_slot(self.slot.clone()), self.dir.clone())
    }

    /// Starts the supervisor and waits until all its children have started
    /// (OTP's synchronous `start_link`).
    pub(crate) fn start_supervisor(
        &self,
        host: &Host,
    ) -> impl Future<Output = Result<Arc<Lifecycle>, SupervisorError>> + 'static {
        let (tx, mut rx) = oneshot::channel();
        let sup = Supervisor::new(
            host.clone(),
            self.slot.id.clone(),
            self.spec.clone(),
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
                Ok(Ok(())) => Ok(inst.life.clone()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(SupervisorError::StartChild {
                    id: "<supervisor>".into(),
                    reason: StartError::Exited(
                        inst.life
                            .exit_reason()
                            .cloned()
                            .unwrap_or(crate::ExitReason::NoActor),
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

    fn start(&self, host: &Host) -> StartFuture {
        let fut = self.start_supervisor(host);
        Box::pin(async move { fut.await.map_err(|e| StartError::Failed(e.to_string())) })
    }

    fn clear(&self) {
        self.slot.current.store(None);
    }

    fn close(&self) {
        self.slot.close();
    }

    fn handle(&self) -> Box<dyn Any + Send + Sync> {
        Box::new(self.supervisor_ref())
    }
}
