//! Supervisor flags and child specifications (OTP's `sup_flags()` and
//! `child_spec()`), with validation.

use super::decision::ChildId;
use super::slots::{ChildFactory, TemplateFactory, WithMailbox, WorkerFactory};
use crate::actor::{AskError, SpawnOptions, StartError};
pub use crate::platform::Backoff;
use actix::{Actor, Context};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How a supervisor reacts to a child's restartable exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Restart only the child that exited.
    #[default]
    OneForOne,
    /// Terminate all other children (reverse order), restart all (in order).
    OneForAll,
    /// Terminate the children started after it (reverse order), restart it and
    /// them (in order).
    RestForOne,
    /// One template, children added at run time, each restarted on its own.
    SimpleOneForOne,
}

/// When a child is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal exit (not `Normal`/`Shutdown`).
    Transient,
    /// Never; its spec is dropped when it exits.
    Temporary,
}

/// How a child is stopped by its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildShutdown {
    /// Killed at once; its `stopping`/`stopped` hooks may not run.
    BrutalKill,
    /// Asked to stop; killed if still running after this long.
    Timeout(Duration),
    /// Asked to stop; waited for as long as it takes (default for supervisors).
    Infinity,
}

/// Worker or supervisor: OTP's `child_type` (changes the default shutdown and
/// `count_children`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildType {
    /// An ordinary actor.
    Worker,
    /// A nested supervisor.
    Supervisor,
}

/// Self-shutdown when significant children exit (OTP 24's `auto_shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Significant children are not allowed; the supervisor never shuts
    /// itself down because of a child's exit.
    #[default]
    Never,
    /// Shut down when any significant child exits on its own.
    AnySignificant,
    /// Shut down when the last significant child has exited on its own.
    AllSignificant,
}

/// Why a supervisor operation failed (OTP's error cases, and bad specs).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// `period` must be positive.
    #[error("invalid supervisor flags: period must be greater than zero")]
    ZeroPeriod,
    /// Two children share an id.
    #[error("duplicate child id {0:?}")]
    DuplicateChild(String),
    /// A permanent child cannot be significant.
    #[error("child {0:?}: a permanent child cannot be significant")]
    SignificantPermanent(String),
    /// Significant children need `auto_shutdown` other than `never`.
    #[error("child {0:?} is significant but auto_shutdown is never")]
    SignificantWithoutAutoShutdown(String),
    /// Flags OTP refuses together (its `bad_combination`).
    #[error("invalid supervisor flags: bad combination: {0}")]
    BadCombination(String),
    /// `simple_one_for_one` takes exactly one template and no static children.
    #[error("simple_one_for_one needs exactly one template child and no other children")]
    BadSimpleOneForOne,
    /// The operation is not available for `simple_one_for_one` supervisors
    /// (`restart_child`, `delete_child`), or only for them (`start_dynamic`).
    #[error("operation not supported by this supervisor's strategy")]
    WrongStrategy,
    /// A child failed to start.
    #[error("child {id:?} failed to start: {reason}")]
    StartChild {
        /// The child.
        id: String,
        /// Why.
        reason: StartError,
    },
    /// `start_child` with an id that is running.
    #[error("child {0:?} is already started")]
    AlreadyStarted(String),
    /// `start_child` with an id whose spec exists but is not running.
    #[error("child {0:?} is already present")]
    AlreadyPresent(String),
    /// No child with that id.
    #[error("no child {0:?}")]
    NotFound(String),
    /// The child is running (`restart_child`, `delete_child`).
    #[error("child {0:?} is running")]
    Running(String),
    /// The child is waiting to be restarted.
    #[error("child {0:?} is restarting")]
    Restarting(String),
    /// `start_dynamic` with arguments of the wrong type.
    #[error("dynamic child arguments have the wrong type")]
    WrongArgs,
    /// The supervisor is not running.
    #[error("supervisor is not running")]
    NoSupervisor,
    /// The supervisor's init function failed (OTP's `init/1` returning an
    /// error), saying why.
    #[error("supervisor init failed: {0}")]
    Init(String),
    /// The call to the supervisor failed for another reason than its being
    /// gone (it timed out, or it panicked while handling the call).
    #[error("supervisor call failed: {0}")]
    Call(AskError),
    /// The supervisor could not be placed on the worker asked for (no such
    /// worker, or the node is shutting down).
    #[error("cannot place the supervisor: {0}")]
    Placement(String),
}

/// One child: how to start it and how to treat its exits (OTP's `child_spec`).
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: ChildId,
    pub(crate) factory: Arc<dyn ChildFactory>,
    pub(crate) template: Option<Arc<dyn TemplateFactory>>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: ChildShutdown,
    pub(crate) kind: ChildType,
    pub(crate) significant: bool,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .finish()
    }
}

/// Default shutdown timeout for workers (OTP's 5000 ms).
pub const DEFAULT_WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

impl ChildSpec {
    /// A worker built by `start` (which may panic: that is a start failure).
    pub fn worker<A, F>(id: impl Into<String>, start: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        Self::try_worker(id, move || Ok::<A, std::convert::Infallible>(start()))
    }

    /// A worker built by `start`, which may fail with an error that is
    /// reported as the start failure.
    pub fn try_worker<A, E, F>(id: impl Into<String>, start: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        E: fmt::Display,
        F: Fn() -> Result<A, E> + Send + Sync + 'static,
    {
        Self::from_factory(
            id.into().into(),
            Arc::new(WorkerFactory::<A, _>::new(
                move || start().map_err(|e| StartError::Failed(e.to_string())),
                SpawnOptions::default(),
            )),
            ChildType::Worker,
        )
    }

    /// A worker whose start function may decline to start it: `Ok(None)` is
    /// OTP's `ignore`. `start_child` then succeeds with no child running; a
    /// permanent or transient child keeps its spec (start it later with
    /// `restart_child`), a temporary one does not. An ignored restart leaves
    /// the child stopped, without a retry.
    pub fn worker_or_ignore<A, E, F>(id: impl Into<String>, start: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        E: fmt::Display,
        F: Fn() -> Result<Option<A>, E> + Send + Sync + 'static,
    {
        Self::from_factory(
            id.into().into(),
            Arc::new(WorkerFactory::<A, _>::new(
                move || match start() {
                    Ok(Some(actor)) => Ok(actor),
                    Ok(None) => Err(StartError::Ignored),
                    Err(e) => Err(StartError::Failed(e.to_string())),
                },
                SpawnOptions::default(),
            )),
            ChildType::Worker,
        )
    }

    /// The template of a `simple_one_for_one` supervisor: each dynamic child
    /// is built by `start(args)` from the arguments given to
    /// [`SupervisorRef::start_dynamic`](super::SupervisorRef::start_dynamic)
    /// (kept, so a restart rebuilds it from the same arguments).
    pub fn template<A, Args, E, F>(id: impl Into<String>, start: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        Args: Clone + Send + Sync + 'static,
        E: fmt::Display,
        F: Fn(Args) -> Result<A, E> + Send + Sync + 'static,
    {
        Self::template_or_ignore(id, move |args| start(args).map(Some))
    }

    /// [`ChildSpec::template`] whose start function may decline to start a
    /// child: `Ok(None)` is OTP's `ignore`. `start_dynamic` then succeeds
    /// (OTP's `{ok, undefined}`) with a ref to no actor (`is_alive()` is
    /// false; it is no child of the supervisor); a restart that is ignored
    /// removes the child, as OTP does.
    pub fn template_or_ignore<A, Args, E, F>(id: impl Into<String>, start: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        Args: Clone + Send + Sync + 'static,
        E: fmt::Display,
        F: Fn(Args) -> Result<Option<A>, E> + Send + Sync + 'static,
    {
        let start = Arc::new(start);
        let id = id.into();
        let mut spec = Self::try_worker::<A, String, _>(id, || {
            Err("a template child is started with start_dynamic".to_owned())
        });
        spec.template = Some(Arc::new(super::slots::TypedTemplate::new(
            move |args: Args| {
                let start = start.clone();
                move || match start(args.clone()) {
                    Ok(Some(actor)) => Ok(actor),
                    Ok(None) => Err(StartError::Ignored),
                    Err(e) => Err(StartError::Failed(e.to_string())),
                }
            },
        )));
        spec
    }

    /// The template of a `simple_one_for_one` supervisor whose children are
    /// supervisors: each is built by `build(args)` from the arguments given
    /// to [`SupervisorRef::start_dynamic_supervisor`](super::SupervisorRef::start_dynamic_supervisor)
    /// (shutdown `Infinity`, kind `Supervisor`).
    pub fn supervisor_template<Args, F>(id: impl Into<String>, build: F) -> Self
    where
        Args: Send + 'static,
        F: Fn(Args) -> super::SupervisorSpec + Send + Sync + 'static,
    {
        let mut c = Self::supervisor(id, super::SupervisorSpec::one_for_one());
        c.template = Some(Arc::new(super::slots::SupervisorTemplate::new(build)));
        c
    }

    /// A nested supervisor whose spec `init` makes at each start (OTP's
    /// `init/1`): `Ok(None)` is `ignore` (the child stays stopped, see
    /// [`ChildSpec::worker_or_ignore`]), an error fails the start with it.
    pub fn supervisor_init<E, F>(id: impl Into<String>, init: F) -> Self
    where
        E: fmt::Display,
        F: Fn() -> Result<Option<super::SupervisorSpec>, E> + Send + Sync + 'static,
    {
        let mut c = Self::from_factory(
            id.into().into(),
            Arc::new(super::slots::SupervisorFactory::with_init(Arc::new(
                move || init().map_err(|e| e.to_string()),
            ))),
            ChildType::Supervisor,
        );
        c.shutdown = ChildShutdown::Infinity;
        c
    }

    /// A nested supervisor (shutdown `Infinity`, kind `Supervisor`).
    pub fn supervisor(id: impl Into<String>, spec: super::SupervisorSpec) -> Self {
        let mut c = Self::from_factory(
            id.into().into(),
            Arc::new(super::slots::SupervisorFactory::new(spec)),
            ChildType::Supervisor,
        );
        c.shutdown = ChildShutdown::Infinity;
        c
    }

    pub(crate) fn from_factory(
        id: ChildId,
        factory: Arc<dyn ChildFactory>,
        kind: ChildType,
    ) -> Self {
        Self {
            id,
            factory,
            template: None,
            restart: Restart::Permanent,
            shutdown: ChildShutdown::Timeout(DEFAULT_WORKER_SHUTDOWN),
            kind,
            significant: false,
        }
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the restart type (default `Permanent`).
    pub fn restart(mut self, r: Restart) -> Self {
        self.restart = r;
        self
    }

    /// Sets how the child is stopped (default 5 s timeout for workers,
    /// `Infinity` for supervisors).
    pub fn shutdown(mut self, s: ChildShutdown) -> Self {
        self.shutdown = s;
        self
    }

    /// Marks the child significant for `auto_shutdown` (transient or
    /// temporary children only).
    pub fn significant(mut self, yes: bool) -> Self {
        self.significant = yes;
        self
    }

    /// Sets the mailbox capacity of the child's instances.
    pub fn mailbox(mut self, capacity: usize) -> Self {
        let opts = SpawnOptions { mailbox: capacity };
        self.factory = Arc::new(WithMailbox {
            inner: self.factory.clone(),
            opts,
        });
        if let Some(t) = &self.template {
            self.template = Some(t.with_mailbox(capacity));
        }
        self
    }
}

/// A supervisor: its flags and its children, in start order.
///
/// ```
/// use arbour::{Strategy, SupervisorSpec};
/// use std::time::Duration;
/// let spec = SupervisorSpec::new(Strategy::RestForOne)
///     .intensity(3)
///     .period(Duration::from_secs(10));
/// assert!(spec.validate().is_ok());
/// assert!(SupervisorSpec::one_for_one().period(Duration::ZERO).validate().is_err());
/// ```
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A supervisor with OTP's default flags: intensity 1, period 5 s.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            name: "supervisor".to_owned(),
            strategy,
            intensity: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
            backoff: None,
            children: Vec::new(),
        }
    }

    /// `one_for_one`.
    pub fn one_for_one() -> Self {
        Self::new(Strategy::OneForOne)
    }

    /// `one_for_all`.
    pub fn one_for_all() -> Self {
        Self::new(Strategy::OneForAll)
    }

    /// `rest_for_one`.
    pub fn rest_for_one() -> Self {
        Self::new(Strategy::RestForOne)
    }

    /// `simple_one_for_one` with its template.
    pub fn simple_one_for_one(template: ChildSpec) -> Self {
        Self::new(Strategy::SimpleOneForOne).child(template)
    }

    /// A name for logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Restarts allowed within `period` (default 1).
    pub fn intensity(mut self, n: u32) -> Self {
        self.intensity = n;
        self
    }

    /// The intensity window (default 5 s; must be positive).
    pub fn period(mut self, p: Duration) -> Self {
        self.period = p;
        self
    }

    /// Self-shutdown policy (default `Never`).
    pub fn auto_shutdown(mut self, a: AutoShutdown) -> Self {
        self.auto_shutdown = a;
        self
    }

    /// Delays restarts with exponential backoff and jitter.
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = Some(b);
        self
    }

    /// Appends a child (started in the order added).
    pub fn child(mut self, c: ChildSpec) -> Self {
        self.children.push(c);
        self
    }

    /// Checks the flags and children.
    pub fn validate(&self) -> Result<(), SupervisorError> {
        if self.period.is_zero() {
            return Err(SupervisorError::ZeroPeriod);
        }
        if self.strategy == Strategy::SimpleOneForOne
            && (self.children.len() != 1 || self.children[0].template.is_none())
        {
            return Err(SupervisorError::BadSimpleOneForOne);
        }
        if self.strategy == Strategy::SimpleOneForOne && self.auto_shutdown != AutoShutdown::Never {
            // OTP: {bad_combination, [{strategy, simple_one_for_one}, {auto_shutdown, _}]}
            return Err(SupervisorError::BadCombination(format!(
                "simple_one_for_one with auto_shutdown {:?}",
                self.auto_shutdown
            )));
        }
        let mut seen = rustc_hash::FxHashSet::default();
        seen.reserve(self.children.len());
        for c in &self.children {
            if !seen.insert(&*c.id) {
                return Err(SupervisorError::DuplicateChild(c.id.to_string()));
            }
            self.check_child(c)?;
        }
        Ok(())
    }

    /// OTP's order: "significant without auto-shutdown" is reported before
    /// "significant and permanent".
    pub(crate) fn check_child(&self, c: &ChildSpec) -> Result<(), SupervisorError> {
        if c.significant {
            if self.auto_shutdown == AutoShutdown::Never {
                return Err(SupervisorError::SignificantWithoutAutoShutdown(
                    c.id.to_string(),
                ));
            }
            if c.restart == Restart::Permanent {
                return Err(SupervisorError::SignificantPermanent(c.id.to_string()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            min: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: 0.5,
            reset_after: Duration::from_secs(1),
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(10));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(20));
        assert_eq!(b.delay(4, 0.0), Duration::from_millis(80));
        assert_eq!(b.delay(5, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(50, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(1, 0.5), Duration::from_micros(12_500));
    }
}
