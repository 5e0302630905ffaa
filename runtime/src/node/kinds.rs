//! Actor kinds: actors other nodes may start here by name, from serde
//! arguments (`arbour.spawn.v1`), and the serving side of that ask.

use super::network::Network;
use super::WorkerPlacement;
use crate::actor::{export, ActorRef, Exported, Host};
use crate::transport::Connection;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// An actor that can be started by name from any node of the cluster
/// ([`Node::kind`](super::Node::kind), [`Node::spawn_on`](super::Node::spawn_on)).
///
/// ```
/// # use actix::prelude::*;
/// use serde::{Deserialize, Serialize};
/// struct FibWorker { max: u32 }
/// impl Actor for FibWorker { type Context = Context<Self>; }
/// #[arbour::message(tag = "doc.fib.v1", reply = u64)]
/// struct Fib(u32);
/// impl Handler<Fib> for FibWorker {
///     type Result = u64;
///     fn handle(&mut self, Fib(n): Fib, _: &mut Context<Self>) -> u64 { n.min(self.max).into() }
/// }
/// arbour::remote_actor!(FibWorker { Fib });
/// #[derive(Clone, Serialize, Deserialize)]
/// struct FibArgs { max: u32 }
/// impl arbour::Kind for FibWorker {
///     type Args = FibArgs;
///     fn from_args(args: FibArgs) -> Self { FibWorker { max: args.max } }
/// }
/// ```
pub trait Kind: crate::RemoteActor {
    /// The start arguments, as they cross the network.
    type Args: Serialize + serde::de::DeserializeOwned + Send + 'static;
    /// Builds the actor from its arguments (on the worker it will run on).
    fn from_args(args: Self::Args) -> Self;
}

/// Why a node did not start an actor of a kind, as it answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    UnknownKind,
    BadArgs(String),
    Failed(String),
}

type Started = Pin<Box<dyn Future<Output = Result<Arc<dyn Exported>, Refusal>>>>;
type Starter = Arc<dyn Fn(&Host, &[u8], Option<String>) -> Started + Send + Sync>;

/// The kinds this node can start.
#[derive(Default)]
pub(crate) struct Kinds {
    starters: Mutex<HashMap<String, Starter>>,
    /// Round-robin position for [`Placement::Any`](super::Placement::Any).
    pub(crate) next: std::sync::atomic::AtomicUsize,
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

impl Kinds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Starter>> {
        self.starters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `A` startable as `name`; false if the name was taken.
    pub(crate) fn add<A: Kind>(&self, name: &str) -> bool {
        let mut starters = self.lock();
        if starters.contains_key(name) {
            return false;
        }
        let starter: Starter = Arc::new(|host: &Host, bytes: &[u8], group: Option<String>| {
            let args: A::Args = match crate::wire::decode(bytes) {
                Ok(a) => a,
                Err(e) => {
                    return Box::pin(std::future::ready(Err(Refusal::BadArgs(e.to_string()))))
                }
            };
            let host = host.clone();
            Box::pin(async move {
                let on = host.clone();
                let started = super::run_placed(&host, WorkerPlacement::RoundRobin, move || {
                    // a constructor that panics is a failed start, reported
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        on.spawn(A::from_args(args))
                    }))
                    .map_err(|p| panic_message(&*p))
                })
                .await
                .map_err(|e| Refusal::Failed(e.to_string()))?;
                let actor: ActorRef<A> = started.map_err(Refusal::Failed)?;
                if let Some(group) = group {
                    let net = host
                        .network()
                        .and_then(|n| n.downcast::<Network>().ok())
                        .ok_or_else(|| Refusal::Failed("the node has no network".into()))?;
                    net.export_entry(export(&actor).map_err(|e| Refusal::Failed(e.to_string()))?);
                    let joined =
                        net.global
                            .with(&net, |m| match m.join(&group, actor.id().local) {
                                Ok(u) => (Ok(()), u.into_iter().collect()),
                                Err(e) => {
                                    (Err(format!("joining group {group:?}: {e:?}")), Vec::new())
                                }
                            });
                    joined.map_err(Refusal::Failed)?;
                    net.global.watch_end(&net, &actor);
                }
                export(&actor).map_err(|e| Refusal::Failed(e.to_string()))
            })
        });
        starters.insert(name.to_owned(), starter);
        true
    }

    /// Starts an actor of `kind` from `args`, in `group` if given.
    pub(crate) fn start(
        &self,
        host: &Host,
        kind: &str,
        args: &[u8],
        group: Option<String>,
    ) -> Started {
        let starter = self.lock().get(kind).cloned();
        match starter {
            Some(s) => s(host, args, group),
            None => Box::pin(std::future::ready(Err(Refusal::UnknownKind))),
        }
    }
}

impl Network {
    /// A peer's ask to start an actor of `kind`: answered with the new
    /// actor's number, or why not, once it runs.
    pub(crate) fn serve_spawn(
        self: &Arc<Self>,
        conn: &Arc<Connection>,
        correlation: u64,
        kind: String,
        args: Vec<u8>,
        group: Option<String>,
    ) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let mut started = self.kinds.start(&host, &kind, &args, group);
        let reply = {
            let (net, conn) = (self.clone(), conn.clone());
            move |outcome: Result<Arc<dyn Exported>, Refusal>| {
                let outcome: Result<u64, Refusal> = outcome.map(|actor| {
                    let local = actor.id().local;
                    net.export_entry(actor);
                    local
                });
                if let Err(why) = &outcome {
                    tracing::warn!(node = %net.me, peer = %conn.peer().node, %kind, ?why, "spawn refused");
                }
                match crate::wire::encode(&outcome) {
                    Ok(bytes) => super::inbound::send_reply(&conn, correlation, Ok(bytes)),
                    Err(e) => tracing::error!(node = %net.me, "a spawn reply did not encode: {e}"),
                }
            }
        };
        // an actor started on this worker is ready at once: answer now,
        // without a task hop
        let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
        match started.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(outcome) => reply(outcome),
            std::task::Poll::Pending => {
                crate::platform::spawn_local(async move { reply(started.await) });
            }
        }
    }
}
