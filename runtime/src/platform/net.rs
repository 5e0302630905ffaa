//! Sockets and time for quinn, supplied by the platform (the simulator's, or the OS's).
//!
//! [`SimNetwork`] is an in-memory datagram network: its sockets implement
//! quinn's `AsyncUdpSocket`, deliveries take a configurable latency in tokio
//! time, and links can be cut. [`TokioTimeRuntime`] is a quinn `Runtime`
//! whose clock and timers are tokio's, so under paused time a whole QUIC
//! exchange runs in virtual time on one thread, with no OS socket and no OS
//! clock. This is where the simulator's network grows from.

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncTimer, AsyncUdpSocket, Runtime, UdpPoller};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// quinn's runtime hooks, on tokio's (pausable) clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTimeRuntime;

impl Runtime for TokioTimeRuntime {
    fn new_timer(&self, i: Instant) -> Pin<Box<dyn AsyncTimer>> {
        // quinn implements its timer trait for tokio's `Sleep`
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(i)))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        tokio::spawn(future);
    }

    fn wrap_udp_socket(&self, _: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the tokio-time runtime only drives platform sockets",
        ))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A quinn runtime whose tasks (the endpoint's and each connection's driver)
/// run on a node's first worker, so they end with the node, whatever thread
/// quinn happens to spawn them from. Clock, timers and sockets come from the
/// wrapped runtime.
#[derive(Debug)]
pub struct OnWorkers {
    inner: Arc<dyn Runtime>,
    workers: super::WeakWorkers,
}

impl OnWorkers {
    /// `inner`'s clock and sockets, with tasks on `workers`' first worker.
    pub fn new(inner: Arc<dyn Runtime>, workers: super::WeakWorkers) -> Self {
        Self { inner, workers }
    }
}

impl Runtime for OnWorkers {
    fn new_timer(&self, i: Instant) -> Pin<Box<dyn AsyncTimer>> {
        self.inner.new_timer(i)
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        // a stopped node drops the task: its endpoint is gone with it
        if let Some(workers) = self.workers.upgrade() {
            let _ = workers.spawn_on(0, future);
        }
    }

    fn wrap_udp_socket(&self, t: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        self.inner.wrap_udp_socket(t)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }
}

#[derive(Default)]
struct Inbox {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    waker: Option<Waker>,
}

/// One delivered datagram: when (since the network's creation, virtual
/// time), from, to, and its size.
pub type Delivery = (Duration, SocketAddr, SocketAddr, usize);

#[derive(Default)]
struct Net {
    inboxes: HashMap<SocketAddr, Inbox>,
    cut: HashSet<(SocketAddr, SocketAddr)>,
    latency: Duration,
    delivered: u64,
    dropped: u64,
    origin: Option<tokio::time::Instant>,
    trace: Option<Vec<Delivery>>,
}

/// An in-memory datagram network.
#[derive(Clone, Default)]
pub struct SimNetwork {
    net: Arc<Mutex<Net>>,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lock();
        f.debug_struct("SimNetwork")
            .field("sockets", &n.inboxes.len())
            .field("delivered", &n.delivered)
            .field("dropped", &n.dropped)
            .finish()
    }
}

impl SimNetwork {
    /// A network delivering every datagram after `latency` (tokio time).
    pub fn new(latency: Duration) -> Self {
        let net = SimNetwork::default();
        net.lock().latency = latency;
        net
    }

    fn lock(&self) -> MutexGuard<'_, Net> {
        self.net.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A socket bound to `addr`; fails if the address is taken.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<Arc<SimSocket>> {
        let mut n = self.lock();
        if n.inboxes.contains_key(&addr) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{addr} is taken"),
            ));
        }
        n.inboxes.insert(addr, Inbox::default());
        Ok(Arc::new(SimSocket {
            addr,
            net: self.clone(),
        }))
    }

    /// Drops every datagram between `a` and `b` (both ways) from now on.
    pub fn cut(&self, a: SocketAddr, b: SocketAddr) {
        let mut n = self.lock();
        n.cut.insert((a, b));
        n.cut.insert((b, a));
    }

    /// Restores the link between `a` and `b`.
    pub fn heal(&self, a: SocketAddr, b: SocketAddr) {
        let mut n = self.lock();
        n.cut.remove(&(a, b));
        n.cut.remove(&(b, a));
    }

    /// Starts recording every delivery (see [`SimNetwork::trace`]); the
    /// simulator compares two runs' traces to check they replay exactly.
    pub fn record(&self) {
        let mut n = self.lock();
        n.origin = Some(tokio::time::Instant::now());
        n.trace = Some(Vec::new());
    }

    /// The deliveries recorded since [`SimNetwork::record`].
    pub fn trace(&self) -> Vec<Delivery> {
        self.lock().trace.clone().unwrap_or_default()
    }

    /// Datagrams delivered and dropped so far.
    pub fn counts(&self) -> (u64, u64) {
        let n = self.lock();
        (n.delivered, n.dropped)
    }

    fn send(&self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let latency = {
            let mut n = self.lock();
            if n.cut.contains(&(from, to)) || !n.inboxes.contains_key(&to) {
                n.dropped += 1;
                return;
            }
            n.latency
        };
        if latency.is_zero() {
            self.deliver(from, to, data);
        } else {
            let net = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(latency).await;
                net.deliver(from, to, data);
            });
        }
    }

    fn deliver(&self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let mut n = self.lock();
        if n.cut.contains(&(from, to)) {
            n.dropped += 1;
            return;
        }
        let Some(inbox) = n.inboxes.get_mut(&to) else {
            n.dropped += 1;
            return;
        };
        let len = data.len();
        inbox.queue.push_back((from, data));
        let waker = inbox.waker.take();
        n.delivered += 1;
        if let (Some(origin), Some(trace)) = (n.origin, n.trace.as_mut()) {
            trace.push((origin.elapsed(), from, to, len));
        }
        drop(n);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// One endpoint's socket on a [`SimNetwork`].
pub struct SimSocket {
    addr: SocketAddr,
    net: SimNetwork,
}

impl fmt::Debug for SimSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimSocket({})", self.addr)
    }
}

#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for SimSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, t: &Transmit) -> io::Result<()> {
        match t.segment_size {
            Some(size) if size > 0 => {
                for chunk in t.contents.chunks(size) {
                    self.net.send(self.addr, t.destination, chunk.to_vec());
                }
            }
            _ => self.net.send(self.addr, t.destination, t.contents.to_vec()),
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut n = self.net.lock();
        let Some(inbox) = n.inboxes.get_mut(&self.addr) else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "socket closed",
            )));
        };
        let mut filled = 0;
        while filled < bufs.len().min(meta.len()) {
            let Some((from, data)) = inbox.queue.pop_front() else {
                break;
            };
            let len = data.len().min(bufs[filled].len());
            bufs[filled][..len].copy_from_slice(&data[..len]);
            meta[filled] = RecvMeta {
                addr: from,
                len,
                stride: len,
                ecn: None,
                dst_ip: None,
            };
            filled += 1;
        }
        if filled == 0 {
            inbox.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(filled))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

impl Drop for SimSocket {
    fn drop(&mut self) {
        self.net.lock().inboxes.remove(&self.addr);
    }
}
