//! Actor kinds: actors other nodes may start here by name, from serde
//! arguments (`arbour.spawn.v1`).

use crate::actor::{export, run_placed, ActorRef, Exported, Host, Kind, WorkerPlacement};
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Why a node did not start an actor of a kind, as it answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    UnknownKind,
    BadArgs(String),
    Failed(String),
    /// The node drains: it is leaving the cluster.
    Leaving,
}

pub(crate) type Started = Pin<Box<dyn Future<Output = Result<Arc<dyn Exported>, Refusal>>>>;
type Starter = Arc<dyn Fn(&Host, &[u8]) -> Started + Send + Sync>;

/// The kinds this node can start.
#[derive(Default)]
pub(crate) struct Kinds {
    starters: Mutex<HashMap<String, Starter>>,
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
        let starter: Starter = Arc::new(|host: &Host, bytes: &[u8]| {
            let args: A::Args = match crate::wire::decode(bytes) {
                Ok(a) => a,
                Err(e) => {
                    return Box::pin(std::future::ready(Err(Refusal::BadArgs(e.to_string()))))
                }
            };
            let host = host.clone();
            Box::pin(async move {
                let on = host.clone();
                let started = run_placed(&host, WorkerPlacement::RoundRobin, move || {
                    // a constructor that panics is a failed start, reported
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        on.spawn(A::from_args(args))
                    }))
                    .map_err(|p| panic_message(&*p))
                })
                .await
                .map_err(|e| Refusal::Failed(e.to_string()))?;
                let actor: ActorRef<A> = started.map_err(Refusal::Failed)?;
                export(&actor).map_err(|e| Refusal::Failed(e.to_string()))
            })
        });
        starters.insert(name.to_owned(), starter);
        true
    }

    /// Starts an actor of `kind` from `args`.
    pub(crate) fn start(&self, host: &Host, kind: &str, args: &[u8]) -> Started {
        let starter = self.lock().get(kind).cloned();
        match starter {
            Some(s) => s(host, args),
            None => Box::pin(std::future::ready(Err(Refusal::UnknownKind))),
        }
    }
}
