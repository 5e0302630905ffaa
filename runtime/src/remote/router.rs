//! From a control message's tag to the service that handles it.
//!
//! Each service registers its own tags when the node is built (membership
//! its packets, the registry its updates, spawning its asks); the router
//! knows them only as handlers. A tag nobody registered (a node without
//! membership gets a membership packet) is dropped, and an ask of one is
//! answered `UnknownMessage`. A service says, as it registers a tag,
//! whether a client may send it ([`Router::route`]) or only a member
//! ([`Router::route_members`]); a client's message of a members' tag is
//! refused here (an ask of one answered), whatever the service.

use super::inbound::{send_reply, Control};
use super::network::Session;
use crate::transport::{Connection, PeerRole};
use crate::wire::RemoteError;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};

/// Where a control message came from, and how to answer it.
pub(crate) struct Caller<'a> {
    /// The peer node's session.
    pub(crate) session: &'a Arc<Session>,
    /// The connection it came on.
    pub(crate) conn: &'a Arc<Connection>,
    /// Set if it is an ask.
    pub(crate) correlation: Option<u64>,
}

impl Caller<'_> {
    /// The peer node's name.
    pub(crate) fn node(&self) -> &str {
        &self.session.node
    }

    /// The peer's life on this connection.
    pub(crate) fn incarnation(&self) -> u64 {
        self.conn.peer().incarnation
    }

    /// Answers the ask with `bytes` (encoded by the handler). A message
    /// that was no ask but needs an answer is a protocol error.
    pub(crate) fn reply(&self, bytes: Vec<u8>) -> Result<(), String> {
        self.answer(Ok(bytes))
    }

    /// Answers the ask with `outcome`.
    pub(crate) fn answer(&self, outcome: Result<Vec<u8>, RemoteError>) -> Result<(), String> {
        let Some(c) = self.correlation else {
            return Err("an ask without a correlation id".into());
        };
        send_reply(self.conn, c, outcome);
        Ok(())
    }
}

/// Handles the control messages of one tag. An `Err` is a protocol error:
/// the connection closes with it.
type Handler = Arc<dyn Fn(&Caller<'_>, Control) -> Result<(), String> + Send + Sync>;

/// Who may send a tag's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Senders {
    /// Any peer that passed the handshake.
    Any,
    /// Members only: not a peer whose certificate is a client's.
    Members,
}

/// What became of a control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Routed {
    /// Handed to its handler (or dropped: nobody handles its tag).
    Handled,
    /// Refused: only members may send it, and the peer is a client (an ask
    /// was answered saying so).
    MembersOnly,
}

/// The handlers by tag.
#[derive(Default)]
pub(crate) struct Router {
    handlers: RwLock<BTreeMap<&'static str, (Handler, Senders)>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tags: Vec<&str> = self
            .handlers
            .read()
            .map(|h| h.keys().copied().collect())
            .unwrap_or_default();
        f.debug_struct("Router").field("tags", &tags).finish()
    }
}

impl Router {
    /// Hands `tag`'s messages, from any peer, to `handle` on `service`
    /// while the service exists (held weakly: services hold the network,
    /// not the other way).
    pub(crate) fn route<S: Send + Sync + 'static>(
        &self,
        tag: &'static str,
        service: Weak<S>,
        handle: fn(&Arc<S>, &Caller<'_>, Control) -> Result<(), String>,
    ) {
        self.add(tag, service, handle, Senders::Any);
    }

    /// [`Router::route`] for a tag only members may send (membership,
    /// registry writes, spawns, drains): a client's is refused.
    pub(crate) fn route_members<S: Send + Sync + 'static>(
        &self,
        tag: &'static str,
        service: Weak<S>,
        handle: fn(&Arc<S>, &Caller<'_>, Control) -> Result<(), String>,
    ) {
        self.add(tag, service, handle, Senders::Members);
    }

    fn add<S: Send + Sync + 'static>(
        &self,
        tag: &'static str,
        service: Weak<S>,
        handle: fn(&Arc<S>, &Caller<'_>, Control) -> Result<(), String>,
        senders: Senders,
    ) {
        let handler: Handler = Arc::new(move |caller, msg| match service.upgrade() {
            Some(s) => handle(&s, caller, msg),
            None => Ok(()),
        });
        self.handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tag, (handler, senders));
    }

    /// Hands `msg` to its tag's handler, if its sender may send it.
    pub(crate) fn dispatch(&self, caller: &Caller<'_>, msg: Control) -> Result<Routed, String> {
        let handler = self
            .handlers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(msg.tag())
            .cloned();
        match handler {
            Some((_, Senders::Members)) if caller.conn.peer_role() == PeerRole::Client => {
                if caller.correlation.is_some() {
                    caller.answer(Err(RemoteError::UnknownMessage(format!(
                        "{}: a client may not send it",
                        msg.tag()
                    ))))?;
                }
                Ok(Routed::MembersOnly)
            }
            Some((h, _)) => h(caller, msg).map(|()| Routed::Handled),
            None if caller.correlation.is_some() => caller
                .answer(Err(RemoteError::UnknownMessage(msg.tag().to_owned())))
                .map(|()| Routed::Handled),
            None => Ok(Routed::Handled),
        }
    }
}
