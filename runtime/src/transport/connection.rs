//! A live, authenticated connection to a peer node: lanes out, readers in.
//!
//! Out: a *control* lane (the handshake's stream: monitors, lookups, exits;
//! bulk traffic cannot block it) and N *data* lanes (one QUIC stream each),
//! chosen by the recipient's hash so messages from one sender to one
//! recipient stay in order. A lane is a byte buffer that senders append whole
//! frames to (under a short lock, from any thread) and a writer task that
//! moves everything buffered onto its stream in one write: batching costs
//! nothing when traffic is light and amortises the stream write when it is
//! heavy. A frame over [`LARGE_FRAME`] bytes gets a stream of its own, so a
//! big message does not hold up the small ones behind it.
//!
//! In: every stream the peer opens gets a reader that feeds a
//! [`FrameDecoder`] and hands whole frames to the node's [`FrameSink`].
//! Malformed input closes the connection with the reason; it never panics.
//! Bytes of frames begun and not finished count against the connection's
//! budget ([`PeerLimits::unfinished_frame_bytes`]) and must be finished
//! within [`PeerLimits::frame_deadline`]: a peer cannot park memory here.

use super::endpoint::{Peer, CLOSE_PROTOCOL};
use super::limits::{LimitCounters, PeerLimits};
use crate::platform;
use crate::wire::{FrameDecoder, Hello, Limits};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};

/// Data lanes per connection unless configured otherwise.
pub const DEFAULT_DATA_LANES: usize = 4;

/// Frames larger than this go on a stream of their own.
pub const LARGE_FRAME: usize = 64 * 1024;

/// Bytes of large frames a connection has on the wire at once (a sender
/// past it waits for one to finish). The receiver holds a frame's bytes
/// until it is whole, so this keeps an arbour sender well inside the
/// default [`PeerLimits::unfinished_frame_bytes`].
pub const LARGE_IN_FLIGHT: usize = 32 * 1024 * 1024;

/// Bytes a lane may hold before a sender that can wait or take its message
/// back (`try_tell`, `send`, `ask`) is told it is full.
pub const DEFAULT_LANE_LIMIT: usize = 1024 * 1024;

/// Bytes a connection may hold queued for the peer, over all its lanes, before
/// even a plain `tell` is refused (and then dropped, logged and counted by the
/// caller). Large, so that an ordinary burst is queued, not lost.
pub const DEFAULT_OUTBOUND_CAP: usize = 64 * 1024 * 1024;

/// How hard a frame insists on being queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Refuse once the lane holds its limit (the sender can wait or take the
    /// message back).
    UnderLaneLimit,
    /// Queue unless the connection holds its whole outbound cap (a plain tell).
    UnderCap,
}

/// A frame the sink could not take yet: the stream's reader awaits this
/// before it hands over the frames after it (back-pressure: a full mailbox
/// stops the stream, and QUIC flow control stops the sender).
pub type Stall = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Where a connection's incoming frames go (the node).
pub trait FrameSink: Send + Sync + 'static {
    /// Handles whole frames buffered in `frames`, until they run out or one
    /// cannot be taken yet (`Some(stall)`: await it, then call again). An
    /// error means the peer broke the protocol: the connection is closed
    /// with that reason.
    fn frames(&self, frames: &mut FrameDecoder) -> Result<Option<Stall>, String>;
    /// The connection is gone (closed by either side, timed out, or lost);
    /// `peer_code` is the code the peer closed it with, if it did
    /// ([`CLOSE_DUPLICATE`](super::CLOSE_DUPLICATE): the loser of a simultaneous dial, routine;
    /// [`CLOSE_DOWN`](super::CLOSE_DOWN): the peer's cluster declared this
    /// node down).
    fn closed(&self, reason: &str, peer_code: Option<u32>);
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<E> {
    /// The lane holds more than its limit (the peer or the network is slow).
    Full,
    /// The connection is closed.
    Closed,
    /// The frame writer failed.
    Write(E),
}

#[derive(Default)]
struct LaneBuf {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Lane {
    buf: Mutex<LaneBuf>,
    wake: Notify,
    /// Senders waiting for the lane to drain below its limit, woken each
    /// time the writer takes a batch (or the lane closes).
    room_wanted: std::sync::atomic::AtomicBool,
    room: Mutex<Vec<std::task::Waker>>,
}

impl Lane {
    fn lock(&self) -> std::sync::MutexGuard<'_, LaneBuf> {
        self.buf.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
        self.made_room();
    }

    fn want_room(&self, waker: &std::task::Waker) {
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if !room.iter().any(|w| w.will_wake(waker)) {
            room.push(waker.clone());
        }
        self.room_wanted.store(true, Ordering::Release);
    }

    fn made_room(&self) {
        if self.room_wanted.swap(false, Ordering::AcqRel) {
            let waiting = std::mem::take(&mut *self.room.lock().unwrap_or_else(|p| p.into_inner()));
            for w in waiting {
                w.wake();
            }
        }
    }
}

/// Which lane a frame goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneId {
    /// The control lane.
    Control,
    /// The data lane for this recipient (or correlation id).
    DataFor(u64),
}

/// One connection to a peer node. Cheap to share; every method may be
/// called from any thread.
pub struct Connection {
    peer: Hello,
    role: super::PeerRole,
    quic: quinn::Connection,
    /// `lanes[0]` is control, then the data lanes.
    lanes: Vec<Arc<Lane>>,
    large: mpsc::UnboundedSender<Vec<u8>>,
    limits: Limits,
    lane_limit: usize,
    /// Bytes queued in the lanes and the large-frame queue, not yet handed
    /// to QUIC (whose own buffer is bounded by its send window).
    queued: Arc<AtomicUsize>,
    cap: usize,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer.node)
            .field("incarnation", &self.peer.incarnation)
            .field("address", &self.quic.remote_address())
            .finish()
    }
}

impl Connection {
    /// Starts the lanes and readers of a connection whose handshake is done.
    /// Spawns its tasks on the current worker.
    pub fn start(
        peer: Peer,
        data_lanes: usize,
        peer_limits: &PeerLimits,
        counters: Arc<LimitCounters>,
        sink: Arc<dyn FrameSink>,
    ) -> Arc<Self> {
        let outbound_cap = peer_limits.outbound_cap;
        let Peer {
            hello,
            role,
            conn,
            control: (control_send, control_recv),
            decoder,
            limits,
        } = peer;
        let lanes: Vec<Arc<Lane>> = (0..=data_lanes.max(1)).map(|_| Arc::default()).collect();
        let (large, large_rx) = mpsc::unbounded_channel();
        let this = Arc::new(Self {
            peer: hello,
            role,
            quic: conn.clone(),
            lanes,
            large,
            limits,
            lane_limit: DEFAULT_LANE_LIMIT.min(outbound_cap),
            queued: Arc::default(),
            cap: outbound_cap,
        });
        let queued = &this.queued;
        platform::spawn_local(write_lane(
            this.lanes[0].clone(),
            control_send,
            queued.clone(),
        ));
        for lane in &this.lanes[1..] {
            let (lane, conn, queued) = (lane.clone(), conn.clone(), queued.clone());
            platform::spawn_local(async move {
                if let Ok(stream) = conn.open_uni().await {
                    write_lane(lane, stream, queued).await;
                }
            });
        }
        platform::spawn_local(write_large(conn.clone(), large_rx, queued.clone()));
        let budget = Arc::new(Unfinished {
            bytes: AtomicUsize::new(0),
            max: peer_limits.unfinished_frame_bytes,
            deadline: peer_limits.frame_deadline,
            counters,
            epoch: platform::now(),
            streams: Mutex::default(),
        });
        platform::spawn_local(sweep_unfinished(budget.clone(), conn.clone()));
        platform::spawn_local(read_stream(
            control_recv,
            decoder,
            sink.clone(),
            conn.clone(),
            budget.clone(),
        ));
        platform::spawn_local(accept_streams(conn.clone(), limits, sink.clone(), budget));
        let lanes = this.lanes.clone();
        platform::spawn_local(async move {
            let reason = conn.closed().await;
            for lane in &lanes {
                lane.close();
            }
            sink.closed(&reason.to_string(), super::endpoint::peer_close_code(&reason));
        });
        this
    }

    /// Who the peer is.
    pub fn peer(&self) -> &Hello {
        &self.peer
    }

    /// What the peer's certificate lets it be: a member or a client.
    pub fn peer_role(&self) -> super::PeerRole {
        self.role
    }

    /// The peer's address.
    pub fn remote_address(&self) -> std::net::SocketAddr {
        self.quic.remote_address()
    }

    /// The limits frames are written under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The smoothed round-trip time QUIC measures.
    pub fn rtt(&self) -> std::time::Duration {
        self.quic.rtt()
    }

    /// Wakes `waker` when `lane` may have room again (its writer took a
    /// batch, or the connection closed). Ask first, then try, so a batch
    /// taken in between is not missed.
    pub fn want_room(&self, lane: LaneId, waker: &std::task::Waker) {
        self.lanes[self.lane_index(lane)].want_room(waker);
    }

    fn lane_index(&self, lane: LaneId) -> usize {
        match lane {
            LaneId::Control => 0,
            LaneId::DataFor(key) => 1 + super::lane_for(key, self.lanes.len() - 1),
        }
    }

    /// Bytes queued for the peer and not yet handed to QUIC.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Appends one frame, written by `write`, to a lane. Never waits: a frame
    /// that `admit` does not let in is `Full`.
    #[inline]
    pub fn push<E>(
        &self,
        lane: LaneId,
        admit: Admit,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), PushError<E>> {
        let lane = &self.lanes[self.lane_index(lane)];
        let mut buf = lane.lock();
        if buf.closed {
            return Err(PushError::Closed);
        }
        let full = match admit {
            Admit::UnderLaneLimit => buf.bytes.len() >= self.lane_limit,
            Admit::UnderCap => self.queued.load(Ordering::Relaxed) >= self.cap,
        };
        if full {
            return Err(PushError::Full);
        }
        let start = buf.bytes.len();
        write(&mut buf.bytes).map_err(PushError::Write)?;
        let written = buf.bytes.len() - start;
        self.queued.fetch_add(written, Ordering::Relaxed);
        if written > LARGE_FRAME {
            let frame = buf.bytes.split_off(start);
            drop(buf);
            return self.large.send(frame).map_err(|_| {
                self.queued.fetch_sub(written, Ordering::Relaxed);
                PushError::Closed
            });
        }
        drop(buf);
        if start == 0 {
            lane.wake.notify_one();
        }
        Ok(())
    }

    /// Closes the connection, telling the peer why.
    pub fn close(&self, code: u32, reason: &str) {
        self.quic.close(code.into(), reason.as_bytes());
    }

    /// Resolves once the connection is closed (by either side) or lost.
    pub async fn closed(&self) {
        self.quic.closed().await;
    }

    /// True once the connection is closed or lost.
    pub fn is_closed(&self) -> bool {
        self.quic.close_reason().is_some()
    }
}

/// Moves whatever the lane holds onto its stream, one write per batch. The
/// batch counts as queued until QUIC has taken all of it.
async fn write_lane(lane: Arc<Lane>, mut stream: quinn::SendStream, queued: Arc<AtomicUsize>) {
    loop {
        let batch = {
            let mut buf = lane.lock();
            if buf.bytes.is_empty() {
                if buf.closed {
                    break;
                }
                None
            } else {
                let next = Vec::with_capacity(buf.bytes.len().min(64 * 1024));
                Some(std::mem::replace(&mut buf.bytes, next))
            }
        };
        if batch.is_some() {
            lane.made_room();
        }
        match batch {
            None => lane.wake.notified().await,
            Some(bytes) => {
                let len = bytes.len();
                let written = stream.write_chunk(bytes::Bytes::from(bytes)).await;
                queued.fetch_sub(len, Ordering::Relaxed);
                if written.is_err() {
                    lane.close();
                    break;
                }
            }
        }
    }
    let _ = stream.finish();
}

/// Sends each large frame on a stream of its own.
/// Sends each large frame on a stream of its own, at most
/// [`LARGE_IN_FLIGHT`] bytes of them at once (in order of queueing).
async fn write_large(
    conn: quinn::Connection,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
) {
    let in_flight = Arc::new(Semaphore::new(LARGE_IN_FLIGHT));
    while let Some(frame) = frames.recv().await {
        let len = frame.len();
        let permits = u32::try_from(len.min(LARGE_IN_FLIGHT)).unwrap_or(u32::MAX);
        let Ok(permit) = in_flight.clone().acquire_many_owned(permits).await else {
            break;
        };
        let (conn, queued) = (conn.clone(), queued.clone());
        platform::spawn_local(async move {
            if let Ok(mut s) = conn.open_uni().await {
                if s.write_chunk(bytes::Bytes::from(frame)).await.is_ok() {
                    let _ = s.finish();
                    // the frame counts until the peer has all of it
                    let _ = s.stopped().await;
                }
            }
            queued.fetch_sub(len, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// The connection's budget for bytes of frames begun and not finished, and
/// the deadline to finish one (kept by [`sweep_unfinished`], so the read
/// path touches no timer).
struct Unfinished {
    bytes: AtomicUsize,
    max: usize,
    deadline: Duration,
    counters: Arc<LimitCounters>,
    /// Times below are nanoseconds after this, plus one (0: none).
    epoch: platform::Instant,
    /// When each stream's unfinished frame began.
    streams: Mutex<Vec<std::sync::Weak<AtomicU64>>>,
}

impl Unfinished {
    fn refused(&self) {
        self.counters
            .unfinished_frames_refused
            .fetch_add(1, Ordering::Relaxed);
    }

    /// How long ago the oldest unfinished frame began, if any.
    fn oldest(&self) -> Option<Duration> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.retain(|s| s.strong_count() > 0);
        let oldest = streams
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&t| t > 0)
            .min()?;
        let began = self.epoch + Duration::from_nanos(oldest - 1);
        Some(platform::now().saturating_duration_since(began))
    }
}

/// Closes the connection when a frame has been unfinished for longer than
/// its deadline; checks four times a deadline (so it acts within 1.25 of it).
async fn sweep_unfinished(budget: Arc<Unfinished>, conn: quinn::Connection) {
    let period = (budget.deadline / 4).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = conn.closed() => return,
            () = tokio::time::sleep(period) => {}
        }
        if let Some(age) = budget.oldest().filter(|age| *age >= budget.deadline) {
            budget.refused();
            let why = format!(
                "a frame begun {age:?} ago is still unfinished (the deadline is {:?})",
                budget.deadline
            );
            protocol_error(&conn, &why);
            return;
        }
    }
}

/// One stream's share of its connection's [`Unfinished`] budget.
struct Share<'a> {
    budget: &'a Unfinished,
    held: usize,
    /// When the frame now unfinished began (see [`Unfinished::epoch`]).
    since: Arc<AtomicU64>,
}

impl<'a> Share<'a> {
    fn new(budget: &'a Unfinished) -> Self {
        let since = Arc::new(AtomicU64::new(0));
        budget
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&since));
        Self {
            budget,
            held: 0,
            since,
        }
    }

    /// The stream now holds `now` bytes of an unfinished frame; `progress`
    /// if a frame was finished since the last call (the unfinished one is
    /// then new). An error says why the connection must close: over the
    /// budget.
    fn hold(&mut self, now: usize, progress: bool) -> Result<(), String> {
        let total = if now >= self.held {
            self.budget.bytes.fetch_add(now - self.held, Ordering::Relaxed) + (now - self.held)
        } else {
            self.budget.bytes.fetch_sub(self.held - now, Ordering::Relaxed) - (self.held - now)
        };
        self.held = now;
        let began = self.since.load(Ordering::Relaxed);
        if now == 0 {
            if began != 0 {
                self.since.store(0, Ordering::Relaxed);
            }
        } else if began == 0 || progress {
            let t = platform::now().saturating_duration_since(self.budget.epoch);
            let t = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
            self.since.store(t, Ordering::Relaxed);
        }
        if total > self.budget.max {
            self.budget.refused();
            return Err(format!(
                "unfinished frames hold {total} bytes, over the connection's budget of {}",
                self.budget.max
            ));
        }
        Ok(())
    }
}

impl Share<'_> {
    /// Stops the stream's deadline clock (a stall on a full mailbox is our
    /// slowness, not the peer's); what [`Share::resume`] needs.
    fn pause(&self) -> (u64, platform::Instant) {
        (self.since.swap(0, Ordering::Relaxed), platform::now())
    }

    /// Starts the clock again where it stopped.
    fn resume(&self, (began, paused): (u64, platform::Instant)) {
        if began != 0 {
            let stalled = platform::now().saturating_duration_since(paused);
            let stalled = u64::try_from(stalled.as_nanos()).unwrap_or(u64::MAX / 2);
            self.since.store(began.saturating_add(stalled), Ordering::Relaxed);
        }
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.held, Ordering::Relaxed);
    }
}

/// Reads every stream the peer opens.
async fn accept_streams(
    conn: quinn::Connection,
    limits: Limits,
    sink: Arc<dyn FrameSink>,
    budget: Arc<Unfinished>,
) {
    while let Ok(stream) = conn.accept_uni().await {
        platform::spawn_local(read_stream(
            stream,
            FrameDecoder::new(limits),
            sink.clone(),
            conn.clone(),
            budget.clone(),
        ));
    }
}

/// Feeds one stream's bytes to the sink; closes the connection on
/// malformed input, and on a frame that overruns the connection's budget
/// for unfinished frames or its deadline.
async fn read_stream(
    mut stream: quinn::RecvStream,
    mut decoder: FrameDecoder,
    sink: Arc<dyn FrameSink>,
    conn: quinn::Connection,
    budget: Arc<Unfinished>,
) {
    let mut share = Share::new(&budget);
    // frames already buffered during the handshake
    if let Err(e) = drain(&*sink, &mut decoder, &share).await {
        protocol_error(&conn, &e);
        return;
    }
    let mut frames = decoder.frames();
    loop {
        let progress = decoder.frames() != frames;
        frames = decoder.frames();
        if let Err(e) = share.hold(decoder.buffered(), progress) {
            protocol_error(&conn, &e);
            return;
        }
        let read = stream.read_chunk(256 * 1024, true).await;
        match read {
            Ok(Some(chunk)) => {
                decoder.push(&chunk.bytes);
                if let Err(e) = drain(&*sink, &mut decoder, &share).await {
                    protocol_error(&conn, &e);
                    return;
                }
                decoder.release_idle();
            }
            Ok(None) => {
                if decoder.buffered() > 0 {
                    protocol_error(&conn, "stream ended inside a frame");
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Hands every buffered frame to the sink, waiting out its stalls (with
/// the stream's deadline clock stopped meanwhile).
async fn drain(
    sink: &dyn FrameSink,
    decoder: &mut FrameDecoder,
    share: &Share<'_>,
) -> Result<(), String> {
    while let Some(stall) = sink.frames(decoder)? {
        let clock = share.pause();
        stall.await;
        share.resume(clock);
    }
    Ok(())
}

fn protocol_error(conn: &quinn::Connection, why: &str) {
    tracing::warn!(peer = %conn.remote_address(), "closing the connection: {why}");
    conn.close(CLOSE_PROTOCOL.into(), why.as_bytes());
}
