//! The remote half of monitors: the node's service that keeps each
//! session's [`PeerMonitors`] and handles the peer's `monitor`,
//! `demonitor`, `down` and `downs` messages (registered with the network's
//! router when the node is built).

use super::peer::PeerMonitors;
use crate::actor::{ExitReason, Exported, Watcher};
use crate::remote::{Caller, Control, MonitorsFor, Network, SessionMonitors};
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

/// Monitor keys per `Downs` control message (a frame of about 40 KB, so
/// it stays on the control lane).
pub(crate) const DOWNS_PER_FRAME: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The monitors across every session of one node.
pub(crate) struct RemoteMonitors {
    /// The most monitors one peer may hold on this node's actors.
    max_watched: usize,
    /// The network whose exposed actors peers monitor (set once, by
    /// [`RemoteMonitors::attach`]).
    net: OnceLock<Weak<Network>>,
    /// Each peer node's monitors, by name (as long-lived as its session).
    sessions: Mutex<HashMap<Arc<str>, Arc<PeerMonitors>>>,
}

impl RemoteMonitors {
    /// The service, holding at most `max_watched` monitors per peer.
    pub(crate) fn new(max_watched: usize) -> Arc<Self> {
        Arc::new(Self {
            max_watched,
            net: OnceLock::new(),
            sessions: Mutex::default(),
        })
    }

    /// Handles `net`'s monitor messages from now on.
    pub(crate) fn attach(self: &Arc<Self>, net: &Arc<Network>) {
        let _ = self.net.set(Arc::downgrade(net));
        for tag in [
            crate::wire::tags::MONITOR,
            crate::wire::tags::DEMONITOR,
            crate::wire::tags::DOWN,
            crate::wire::tags::DOWNS,
        ] {
            net.router
                .route(tag, Arc::downgrade(self), RemoteMonitors::on_signal);
        }
    }

    /// The monitors across the session with `node` (made on first use).
    fn of(&self, node: &str) -> Arc<PeerMonitors> {
        let mut sessions = lock(&self.sessions);
        if let Some(m) = sessions.get(node) {
            return m.clone();
        }
        let monitors = Arc::new(PeerMonitors::new(self.max_watched));
        sessions.insert(node.into(), monitors.clone());
        monitors
    }

    /// A peer monitors our actors, or tells us one it watched exited.
    fn on_signal(self: &Arc<Self>, caller: &Caller<'_>, msg: Control) -> Result<(), String> {
        let monitors = self.of(caller.node());
        match msg {
            Control::Monitor { actor, key } => self.watched_by_peer(&monitors, caller, actor, key),
            Control::Demonitor { key, .. } => monitors.remove_peer_watch(key),
            Control::Down { key, reason } => monitors.down(key, &reason),
            Control::Downs { keys, reason } => {
                if keys.len() > DOWNS_PER_FRAME {
                    return Err(format!(
                        "a downs message with {} keys, more than {DOWNS_PER_FRAME}",
                        keys.len()
                    ));
                }
                for key in keys {
                    monitors.down(key, &reason);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The peer monitors our actor `local` under its `key`. All its
    /// monitors of one actor share one watch on it; when it fires, their
    /// `Down`s go in batches of [`DOWNS_PER_FRAME`] on the peer's live
    /// connection to the life that asked (the one the monitor came on, if
    /// there is no other).
    fn watched_by_peer(
        &self,
        monitors: &Arc<PeerMonitors>,
        caller: &Caller<'_>,
        local: u64,
        key: u64,
    ) {
        let (session, conn, incarnation) = (caller.session, caller.conn, caller.incarnation());
        let exported = self.net.get().and_then(Weak::upgrade);
        let Some(actor) = exported.and_then(|net| net.exported(local)) else {
            let reason = ExitReason::NoActor;
            session.system(conn, &Control::Down { key, reason });
            return;
        };
        let (watches, session_on_fire, weak) = (
            monitors.clone(),
            session.clone(),
            Arc::downgrade(conn),
        );
        let install = move |actor: &Arc<dyn Exported>, generation| {
            actor.watch(Box::new(move |reason| {
                let keys = watches.peer_watch_fired(local, generation);
                // on the peer's live connection to this life: the one the
                // monitor came on may have been replaced since (and then
                // closed), which lost exits of remote children
                send_downs(&keys, reason, |msg| {
                    if !session_on_fire.system_to_life(incarnation, msg) {
                        if let Some(conn) = weak.upgrade() {
                            session_on_fire.system(&conn, msg);
                        }
                    }
                });
            }))
        };
        if let Err(refused) = monitors.add_peer_watch(key, local, actor, install) {
            if refused.count.is_power_of_two() {
                tracing::warn!(
                    peer = %session.node, max = refused.max, refused = refused.count,
                    "monitor refused: the peer holds the most monitors a peer may hold here"
                );
            }
            let why = format!(
                "monitor refused: the peer already holds {} monitors on this node",
                refused.max
            );
            let reason = ExitReason::Error(why);
            session.system(conn, &Control::Down { key, reason });
        }
    }
}

/// Tells the peer (through `send`) its monitors `keys` fired with
/// `reason`.
fn send_downs(keys: &[u64], reason: &ExitReason, send: impl Fn(&Control)) {
    match keys {
        [] => {}
        [key] => send(&Control::Down {
            key: *key,
            reason: reason.clone(),
        }),
        _ => {
            for batch in keys.chunks(DOWNS_PER_FRAME) {
                let msg = Control::Downs {
                    keys: batch.to_vec(),
                    reason: reason.clone(),
                };
                send(&msg);
            }
        }
    }
}

impl MonitorsFor for RemoteMonitors {
    fn session(&self, node: &Arc<str>) -> Arc<dyn SessionMonitors> {
        self.of(node)
    }
}

impl SessionMonitors for PeerMonitors {
    fn watch(&self, w: Watcher) -> u64 {
        PeerMonitors::watch(self, w)
    }

    fn unwatch(&self, key: u64) -> bool {
        PeerMonitors::unwatch(self, key)
    }

    fn connection_lost(&self, reason: &ExitReason) {
        PeerMonitors::connection_lost(self, reason)
    }

    fn held_and_refused(&self) -> (u64, u64) {
        (self.peer_watches() as u64, self.refused())
    }
}
