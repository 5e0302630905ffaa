//! What arrives on a connection: envelopes for local actors (dispatched by
//! tag through the actor's [`MessageTable`](crate::MessageTable)), replies
//! to our asks, and the node's own control messages ([`wire::Control`],
//! envelopes for [`wire::CONTROL_RECIPIENT`]), handed to whichever service
//! registered their tag with the [`Router`](super::Router).
//!
//! Anything a peer sends is untrusted: a malformed frame closes the
//! connection with the reason; an unknown actor, an unknown tag or a payload
//! that does not decode is answered (for an ask) or counted and logged (for
//! a tell), and the node keeps serving.

use super::network::{Loss, Network, Session};
use super::router::{Caller, Routed};
use crate::actor::{with_context, AskError, DispatchError, ExitReason, Exported, RefContext};
use crate::platform;
use crate::transport::{
    Admit, Connection, FrameSink, LaneId, Stall, CLOSE_DOWN, CLOSE_DUPLICATE,
};
use crate::wire::{self, encode_frame, EnvelopeRef, FrameDecoder, FrameKind, RemoteError, Reply};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// The node's own messages to a peer node (wire-level, with our exit
/// reason type).
pub(crate) type Control = wire::Control<ExitReason>;

/// The reading side of one connection.
///
/// It holds the node strongly: only the connection's own tasks hold it, and
/// they end with the node's workers.
pub(crate) struct Inbound {
    net: Arc<Network>,
    link: Arc<Session>,
    conn: OnceLock<Weak<Connection>>,
    served: Arc<ServedAsks>,
}

/// The peer's asks this connection is serving: at most `max` at once per
/// peer (counted in its session, over its connections). Each holds its
/// place until its handler is done, however short the asker's own timeout
/// (it cannot free its place early), and at most
/// [`PeerLimits::served_ask_timeout`](crate::net::PeerLimits::served_ask_timeout)
/// (it cannot hold it for longer). Abandoned when the connection goes: no
/// one is left to reply to, so an ask still queued is skipped by its actor
/// and its message freed; one whose handler has begun keeps its place
/// until that maximum, as long as it may still run.
struct ServedAsks {
    in_flight: Arc<AtomicUsize>,
    max: usize,
    gone: watch::Sender<bool>,
}

/// One served ask's place under [`ServedAsks::max`] (and in the node's
/// count), given back when it ends.
struct ServedSlot {
    in_flight: Arc<AtomicUsize>,
    net: Arc<Network>,
}

impl ServedSlot {
    fn take(served: &ServedAsks, net: &Arc<Network>) -> Self {
        served.in_flight.fetch_add(1, Ordering::Relaxed);
        net.served_asks.fetch_add(1, Ordering::Relaxed);
        Self {
            in_flight: served.in_flight.clone(),
            net: net.clone(),
        }
    }
}

impl Drop for ServedSlot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.net.served_asks.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Inbound {
    pub(crate) fn new(
        net: Arc<Network>,
        link: Arc<Session>,
        in_flight: Arc<AtomicUsize>,
        max_served: usize,
    ) -> Self {
        Self {
            net,
            link,
            conn: OnceLock::new(),
            served: Arc::new(ServedAsks {
                in_flight,
                max: max_served,
                gone: watch::Sender::new(false),
            }),
        }
    }

    pub(crate) fn set_connection(&self, conn: &Arc<Connection>) {
        let _ = self.conn.set(Arc::downgrade(conn));
    }

    fn conn(&self) -> Option<Arc<Connection>> {
        self.conn.get().and_then(Weak::upgrade)
    }

    fn frame(
        &self,
        conn: &Arc<Connection>,
        kind: FrameKind,
        body: &[u8],
    ) -> Result<Option<Stall>, String> {
        let limits = *conn.limits();
        match kind {
            FrameKind::Envelope => {
                let env = EnvelopeRef::decode(body, &limits).map_err(|e| e.to_string())?;
                self.envelope(conn, env)
            }
            FrameKind::Reply => {
                let r = Reply::decode(body, &limits).map_err(|e| e.to_string())?;
                self.link
                    .complete(r.correlation, r.outcome.map_err(ask_error));
                Ok(None)
            }
            FrameKind::Ping => {
                let _ = conn.push(LaneId::Control, Admit::UnderLaneLimit, |buf| {
                    encode_frame(FrameKind::Pong, &[], &limits, buf)
                });
                Ok(None)
            }
            FrameKind::Pong => Ok(None),
            FrameKind::Hello | FrameKind::Welcome | FrameKind::Reject => {
                Err(format!("{kind:?} frame after the handshake"))
            }
        }
    }

    fn envelope(
        &self,
        conn: &Arc<Connection>,
        env: EnvelopeRef<'_>,
    ) -> Result<Option<Stall>, String> {
        if env.recipient == wire::CONTROL_RECIPIENT {
            return self.system(conn, env).map(|()| None);
        }
        let net = &self.net;
        let target = if env.recipient_incarnation == net.me.incarnation {
            net.exported(env.recipient)
        } else {
            None
        };
        let (recipient, correlation) = (env.recipient, env.correlation);
        // however long the asker says it waits, a served ask holds its
        // place until its handler is done, and at most this node's own
        // maximum (an asker may choose neither to free its place early
        // nor to hold it for weeks)
        let timeout = self.net.limits.served_ask_timeout;
        let asker_waits = env
            .timeout_ms
            .map_or(timeout, |ms| Duration::from_millis(ms.into()).min(timeout));
        let delivery = Handoff {
            timeout,
            asker_waits,
            net,
            served: &self.served,
            link: &self.link,
            conn,
            target: target.as_ref(),
            recipient,
            correlation,
        };
        if delivery.attempt(env.tag, env.payload).is_ok() {
            return Ok(None);
        }
        // a full mailbox: wait for room, stalling the stream the message came
        // on (which keeps its order and pushes back on the sender); the
        // actor's task wakes us after its next turn, on whatever worker it is
        let (tag, payload) = (env.tag.to_owned(), env.payload.to_vec());
        let (net, link, conn) = (self.net.clone(), self.link.clone(), conn.clone());
        let served = self.served.clone();
        Ok(Some(Box::pin(async move {
            let delivery = Handoff {
                timeout,
                asker_waits,
                net: &net,
                served: &served,
                link: &link,
                conn: &conn,
                target: target.as_ref(),
                recipient,
                correlation,
            };
            // ask to be woken after the actor's next turn *before* trying,
            // so a turn between the try and the wait is not missed
            std::future::poll_fn(|cx| {
                if let Some(t) = delivery.target {
                    t.want_room(cx.waker());
                }
                match with_context(&link.ctx, || delivery.attempt(&tag, &payload)) {
                    Ok(()) => Poll::Ready(()),
                    Err(Full) => Poll::Pending,
                }
            })
            .await
        })))
    }

    fn system(&self, conn: &Arc<Connection>, env: EnvelopeRef<'_>) -> Result<(), String> {
        let decoded = Control::decode(env.tag, env.payload)
            .map_err(|e| format!("control message {}: {e}", env.tag))?;
        let Some(msg) = decoded else {
            crate::platform::throttled_warn!(self.net.endpoint.throttle(), "unknown system message", source = &self.link.node,
                peer = %self.link.node, tag = env.tag, "unknown system message");
            if let Some(c) = env.correlation {
                send_reply(
                    conn,
                    c,
                    Err(RemoteError::UnknownMessage(env.tag.to_owned())),
                );
            }
            return Ok(());
        };
        let tag = msg.tag();
        let caller = Caller {
            session: &self.link,
            conn,
            correlation: env.correlation,
        };
        if self.net.router.dispatch(&caller, msg)? == Routed::MembersOnly {
            // a client (its certificate says so) takes no part in
            // membership, writes nothing to the registry, places nothing
            self.net.clients_refused.fetch_add(1, Ordering::Relaxed);
            crate::platform::throttled_warn!(self.net.endpoint.throttle(), "client refused", source = &self.link.node,
                node = %self.net.me, peer = %self.link.node, tag,
                "refusing a client's {tag}: only members may send it (its certificate is a client's)");
        }
        Ok(())
    }
}

impl FrameSink for Inbound {
    fn frames(&self, frames: &mut FrameDecoder) -> Result<Option<Stall>, String> {
        let Some(conn) = self.conn() else {
            return Ok(None);
        };
        with_context(&self.link.ctx, || {
            while let Some((kind, body)) = frames.next_frame_ref().map_err(|e| e.to_string())? {
                if let Some(stall) = self.frame(&conn, kind, body)? {
                    return Ok(Some(stall));
                }
            }
            Ok(None)
        })
    }

    fn closed(&self, reason: &str, peer_code: Option<u32>) {
        self.served.gone.send_replace(true);
        if let Some(conn) = self.conn() {
            let loss = match peer_code {
                Some(CLOSE_DUPLICATE) => Loss::Duplicate,
                Some(CLOSE_DOWN) => Loss::DeclaredDown,
                _ => Loss::Lost,
            };
            self.net.closed(&self.link, &conn, reason, loss);
        }
    }
}

/// One message from the wire on its way to a local actor.
struct Handoff<'a> {
    /// How long a served ask may take at most (this node's maximum).
    timeout: Duration,
    /// How long its asker waits (at most `timeout`): then it is answered
    /// `Timeout`, and its place is held until the handler is done.
    asker_waits: Duration,
    net: &'a Arc<Network>,
    served: &'a Arc<ServedAsks>,
    link: &'a Arc<Session>,
    conn: &'a Arc<Connection>,
    target: Option<&'a Arc<dyn Exported>>,
    recipient: u64,
    correlation: Option<u64>,
}

/// The actor's mailbox is full: try again later.
struct Full;

impl Handoff<'_> {
    /// Hands the message to the actor (an ask also gets a task that sends
    /// the reply). Every failure but a full mailbox is final: counted, and
    /// answered if it was an ask.
    fn attempt(&self, tag: &str, payload: &[u8]) -> Result<(), Full> {
        let Some(target) = self.target else {
            return self.fail(tag, DispatchError::ActorGone);
        };
        let Some(correlation) = self.correlation else {
            return match target.tell(tag, payload) {
                Err(e) => self.fail(tag, e),
                Ok(()) => Ok(()),
            };
        };
        if self.served.in_flight.load(Ordering::Relaxed) >= self.served.max
            || self.net.served_asks.load(Ordering::Relaxed) >= self.net.limits.served_asks_total as u64
        {
            return self.overloaded(correlation);
        }
        let fut = match target.ask(tag, payload, self.timeout) {
            Err(e) => return self.fail(tag, e),
            Ok(fut) => fut,
        };
        let slot = ServedSlot::take(self.served, self.net);
        let deadline = platform::deadline(self.timeout);
        let asker_deadline = platform::deadline(self.asker_waits);
        let conn = Arc::downgrade(self.conn);
        let mut gone = self.served.gone.subscribe();
        platform::spawn_local(InContext {
            ctx: self.link.ctx.clone(),
            fut: async move {
                let _slot = slot;
                let mut fut = fut;
                let reply = |outcome: Result<Vec<u8>, RemoteError>| {
                    if let Some(conn) = conn.upgrade() {
                        send_reply(&conn, correlation, outcome);
                    }
                };
                tokio::select! {
                    outcome = &mut fut => return reply(outcome.map_err(remote_error)),
                    // the asker stops waiting: it is told so, and the
                    // place stays taken while the handler runs
                    () = tokio::time::sleep_until(asker_deadline) => reply(Err(RemoteError::Timeout)),
                    // the asker's connection is gone: stop waiting, so an
                    // ask still queued is skipped by its actor; one being
                    // handled may run to this node's maximum, and counts
                    // till then
                    _ = gone.wait_for(|gone| *gone) => {
                        drop(fut);
                        return tokio::time::sleep_until(deadline).await;
                    }
                }
                tokio::select! {
                    _ = &mut fut => {}
                    _ = gone.wait_for(|gone| *gone) => {
                        drop(fut);
                        tokio::time::sleep_until(deadline).await;
                    }
                }
            },
        });
        Ok(())
    }

    /// The peer already has its maximum of asks being served: answer this
    /// one at once, `Overloaded` (counted, and logged throttled).
    fn overloaded(&self, correlation: u64) -> Result<(), Full> {
        let counters = self.net.endpoint.counters();
        counters.served_asks_refused.fetch_add(1, Ordering::Relaxed);
        let max = self.served.max;
        crate::platform::throttled_warn!(self.net.endpoint.throttle(), "served asks at cap", source = &self.link.node,
            node = %self.net.me, peer = %self.link.node,
            "refusing an ask: the peer's life already has {max} being served (PeerLimits::served_asks), or the node its maximum over all peers (PeerLimits::served_asks_total)");
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        send_reply(self.conn, correlation, Err(RemoteError::Overloaded(max)));
        Ok(())
    }

    fn fail(&self, tag: &str, e: DispatchError) -> Result<(), Full> {
        if e == DispatchError::MailboxFull {
            return Err(Full);
        }
        undelivered(self.net, self.link, self.recipient, tag, &e);
        if let Some(c) = self.correlation {
            send_reply(self.conn, c, Err(remote_error(AskError::from(e))));
        }
        Ok(())
    }
}

/// Counts (and logs) a message from the wire that reached no handler.
fn undelivered(net: &Network, link: &Session, recipient: u64, tag: &str, e: &DispatchError) {
    match e {
        DispatchError::MailboxFull => {
            net.stats.mailbox_full_drops.fetch_add(1, Ordering::Relaxed);
        }
        DispatchError::ActorGone => {
            net.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
        }
        DispatchError::UnknownTag(_)
        | DispatchError::Decode(_)
        | DispatchError::DuplicateTag(_) => {
            net.undeliverable.fetch_add(1, Ordering::Relaxed);
            crate::platform::throttled_warn!(net.endpoint.throttle(), "undeliverable", source = &link.node,
                node = %net.me, peer = %link.node, actor = recipient, tag,
                "message from the wire not delivered: {e}"
            );
        }
    }
}

/// Queues the reply to ask `correlation`. A reply over the frame limit is
/// replaced by an error reply saying so.
pub(crate) fn send_reply(
    conn: &Connection,
    correlation: u64,
    outcome: Result<Vec<u8>, RemoteError>,
) {
    let limits = *conn.limits();
    let write = |outcome: Result<Vec<u8>, RemoteError>| {
        conn.push(LaneId::DataFor(correlation), Admit::UnderCap, |buf| {
            let mut body = Vec::new();
            Reply {
                correlation,
                outcome,
            }
            .encode(&limits, &mut body)?;
            encode_frame(FrameKind::Reply, &body, &limits, buf)
        })
    };
    if let Err(crate::transport::PushError::Write(e)) = write(outcome) {
        let _ = write(Err(RemoteError::Encode(format!("reply not sent: {e}"))));
    }
}

/// A served ask's failure, as the wire says it (an exit reason travels as
/// its serde form, typed end to end).
fn remote_error(e: AskError) -> RemoteError {
    let gone = |r: &ExitReason| RemoteError::ActorGone(wire::encode(r).unwrap_or_default());
    match e {
        AskError::Timeout(_) => RemoteError::Timeout,
        AskError::ActorGone(r) => gone(&r),
        AskError::NodeDown(_) | AskError::NodeShutdown(_) => gone(&ExitReason::NodeDown),
        AskError::UnknownMessage(t) => RemoteError::UnknownMessage(t),
        AskError::Decode(m) => RemoteError::Decode(m),
        AskError::Encode(m) => RemoteError::Encode(m),
        AskError::MailboxFull => RemoteError::MailboxFull,
        AskError::Panicked(m) => RemoteError::Panicked(m),
        AskError::Overloaded(max) => RemoteError::Overloaded(max),
    }
}

/// An error reply, as the asker sees it. A `Timeout` is the asker's own
/// (the ask future puts its timeout in).
fn ask_error(e: RemoteError) -> AskError {
    match e {
        RemoteError::ActorGone(r) => AskError::ActorGone(wire::decode(&r).unwrap_or_else(|e| {
            ExitReason::Error(format!("an exit reason that does not decode: {e}"))
        })),
        RemoteError::UnknownMessage(t) => AskError::UnknownMessage(t),
        RemoteError::Decode(m) => AskError::Decode(m),
        RemoteError::Encode(m) => AskError::Encode(m),
        RemoteError::MailboxFull => AskError::MailboxFull,
        RemoteError::Panicked(m) => AskError::Panicked(m),
        RemoteError::Timeout => AskError::Timeout(Duration::ZERO),
        RemoteError::Overloaded(max) => AskError::Overloaded(max),
    }
}

pin_project_lite::pin_project! {
    /// Polls `fut` with the node as the thread's ref context (a served ask
    /// encodes its reply, which may carry refs, inside it).
    struct InContext<F> {
        ctx: Arc<dyn RefContext>,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for InContext<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        with_context(this.ctx, || fut.poll(cx))
    }
}
