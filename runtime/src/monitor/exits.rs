//! Watching from anywhere: an actor's exit as a future, and every exit of a
//! supervised child as a sequence, usable from any task (no helper actor).
//!
//! A monitor is per instance and fires once; a supervised ref outlives its
//! instances. [`ActorRef::exited`] is the one-shot form (the current
//! instance's exit); [`ActorRef::exits`] reports the exit of every instance
//! that runs behind the ref, from now until it is dropped or the child is
//! gone for good.

use crate::actor::actor_ref::{Instance, Slot};
use crate::actor::{ActorRef, ExitReason};
use actix::{Actor, Context};
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Every exit of the instances behind one ref ([`ActorRef::exits`]).
pub struct Exits<A: Actor> {
    slot: Arc<Slot<A>>,
    changes: watch::Receiver<u64>,
    /// The instance watched last (held, so a new one is never mistaken
    /// for it), and its exit to come.
    watched: Option<Arc<Instance<A>>>,
    pending: Option<oneshot::Receiver<ExitReason>>,
    /// A remote ref reports its actor's one exit.
    remote: Option<oneshot::Receiver<ExitReason>>,
}

impl<A: Actor> std::fmt::Debug for Exits<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exits")
            .field("actor", &self.slot.id)
            .finish()
    }
}

impl<A: Actor<Context = Context<A>>> ActorRef<A> {
    /// Every exit of the actor behind this ref, as it happens: of the
    /// instance running now, and of each one a supervisor restarts it with,
    /// until this is dropped or the child is gone for good (then
    /// [`Exits::next`] gives `None`). Usable from any task. For a remote
    /// actor, its one exit (or `NodeDown`).
    ///
    /// ```
    /// # use actix::prelude::*;
    /// # struct Worker;
    /// # impl Actor for Worker { type Context = Context<Self>; }
    /// # async fn example(worker: arbour::ActorRef<Worker>) {
    /// let mut exits = worker.exits();
    /// while let Some(reason) = exits.next().await {
    ///     println!("worker exited: {reason}");
    /// }
    /// # }
    /// ```
    pub fn exits(&self) -> Exits<A> {
        let remote = self.slot.remote.is_some().then(|| {
            let (tx, rx) = oneshot::channel();
            let _monitor = self.watch(Box::new(move |reason| {
                let _ = tx.send(reason.clone());
            }));
            rx
        });
        let changes = self
            .slot
            .changes
            .get_or_init(|| watch::Sender::new(0))
            .subscribe();
        let mut exits = Exits {
            slot: self.slot.clone(),
            changes,
            watched: None,
            pending: None,
            remote,
        };
        // the instance running now is watched from now, not from the first
        // call to `next`
        if let Some(inst) = exits.slot.current.load_full() {
            exits.watch(inst);
        }
        exits
    }
}

impl<A: Actor> Exits<A> {
    /// Watches `inst` for its exit (at once if it already exited).
    fn watch(&mut self, inst: Arc<Instance<A>>) {
        let (tx, rx) = oneshot::channel();
        match inst.life.exit_reason() {
            Some(reason) => {
                let _ = tx.send(reason.clone());
            }
            None => {
                inst.life.watch(Box::new(move |reason| {
                    let _ = tx.send(reason.clone());
                }));
            }
        }
        self.watched = Some(inst);
        self.pending = Some(rx);
    }

    /// The next exit; `None` once no instance will run again.
    pub async fn next(&mut self) -> Option<ExitReason> {
        if let Some(remote) = &mut self.remote {
            let reason = remote.await.ok();
            self.remote = None;
            return reason;
        }
        loop {
            if let Some(pending) = &mut self.pending {
                let reason = pending.await.ok();
                self.pending = None;
                if reason.is_some() {
                    return reason;
                }
                continue;
            }
            // an instance not watched yet?
            self.changes.borrow_and_update();
            let current = self.slot.current.load_full();
            match current {
                Some(inst) if !self.watched.as_ref().is_some_and(|w| Arc::ptr_eq(w, &inst)) => {
                    self.watch(inst)
                }
                _ => {
                    if self.slot.is_closed() {
                        return None;
                    }
                    if self.changes.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }
}
