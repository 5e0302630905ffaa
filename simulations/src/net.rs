//! The simulated network: an in-memory datagram network whose sockets
//! implement quinn's `AsyncUdpSocket`, so real QUIC, TLS and arbour run
//! over it in tokio's paused (virtual) time on one thread.
//!
//! Every link has faults, seeded: latency and jitter, loss, duplication,
//! reordering (a datagram held back by up to a further latency), and a
//! bandwidth cap (datagrams queue behind each other on the link). Links can
//! be cut both ways or one way, and healed. Nothing ticks: each datagram is
//! a timer, and paused tokio time jumps to the next one.

use arbour::platform::NodeRng;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// What a link does to the datagrams on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// One-way latency.
    pub latency: Duration,
    /// Up to this much more, uniformly (seeded).
    pub jitter: Duration,
    /// Chance a datagram is lost.
    pub loss: f64,
    /// Chance a datagram arrives twice.
    pub duplicate: f64,
    /// Chance a datagram is held back (by up to another `latency`), so
    /// later ones overtake it.
    pub reorder: f64,
    /// Bytes per second the link carries (`None`: unlimited).
    pub bandwidth: Option<u64>,
}

impl Faults {
    /// A rough link: 5% loss, 5% duplicates, 10% reordered, 2 ms latency
    /// with 3 ms jitter.
    pub fn lossy() -> Self {
        Self {
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            loss: 0.05,
            duplicate: 0.05,
            reorder: 0.1,
            bandwidth: None,
        }
    }

    /// A clean link with `latency`.
    pub fn latency(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            bandwidth: None,
        }
    }
}

/// One delivered datagram: when (virtual time since recording began),
/// from, to, and its size.
pub type Delivery = (Duration, SocketAddr, SocketAddr, usize);

/// What happened to the datagrams so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Delivered (duplicates included).
    pub delivered: u64,
    /// Lost to `loss`.
    pub lost: u64,
    /// Dropped on a cut link, or to an address nobody is bound to.
    pub cut: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Held back (reordered).
    pub reordered: u64,
}

#[derive(Default)]
struct Inbox {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    waker: Option<Waker>,
}

struct Net {
    inboxes: HashMap<SocketAddr, Inbox>,
    /// Directed links that drop everything.
    cut: BTreeSet<(SocketAddr, SocketAddr)>,
    default: Faults,
    links: BTreeMap<(SocketAddr, SocketAddr), Faults>,
    /// When each directed link is free again (the bandwidth queue).
    busy_until: BTreeMap<(SocketAddr, SocketAddr), tokio::time::Instant>,
    rng: NodeRng,
    counts: Counts,
    origin: Option<tokio::time::Instant>,
    trace: Option<Vec<Delivery>>,
}

/// The simulated network. Cheap to clone.
#[derive(Clone)]
pub struct SimNet {
    net: Arc<Mutex<Net>>,
}

impl fmt::Debug for SimNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lock();
        f.debug_struct("SimNet")
            .field("sockets", &n.inboxes.len())
            .field("counts", &n.counts)
            .finish()
    }
}

impl SimNet {
    /// A network whose links have `faults` unless set otherwise, its
    /// randomness drawn from `seed`.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            net: Arc::new(Mutex::new(Net {
                inboxes: HashMap::new(),
                cut: BTreeSet::new(),
                default: faults,
                links: BTreeMap::new(),
                busy_until: BTreeMap::new(),
                rng: NodeRng::from_seed(seed).derive("network"),
                counts: Counts::default(),
                origin: None,
                trace: None,
            })),
        }
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

    /// The faults of every link from now on (those set per link excepted).
    pub fn set_default(&self, faults: Faults) {
        self.lock().default = faults;
    }

    /// The faults of the link from `a` to `b` and back.
    pub fn set_link(&self, a: SocketAddr, b: SocketAddr, faults: Faults) {
        let mut n = self.lock();
        n.links.insert((a, b), faults);
        n.links.insert((b, a), faults);
    }

    /// Drops every datagram between `a` and `b`, both ways.
    pub fn cut(&self, a: SocketAddr, b: SocketAddr) {
        let mut n = self.lock();
        n.cut.insert((a, b));
        n.cut.insert((b, a));
    }

    /// Drops every datagram from `from` to `to` (the other way still works).
    pub fn cut_one_way(&self, from: SocketAddr, to: SocketAddr) {
        self.lock().cut.insert((from, to));
    }

    /// Restores the link between `a` and `b`, both ways.
    pub fn heal(&self, a: SocketAddr, b: SocketAddr) {
        let mut n = self.lock();
        n.cut.remove(&(a, b));
        n.cut.remove(&(b, a));
    }

    /// Separates `side` from every other bound address, both ways.
    pub fn partition(&self, side: &[SocketAddr]) {
        let others: Vec<SocketAddr> = {
            let n = self.lock();
            n.inboxes
                .keys()
                .filter(|a| !side.contains(a))
                .copied()
                .collect()
        };
        for a in side {
            for b in &others {
                self.cut(*a, *b);
            }
        }
    }

    /// Restores every link.
    pub fn heal_all(&self) {
        self.lock().cut.clear();
    }

    /// Starts recording every delivery (see [`SimNet::trace`]).
    pub fn record(&self) {
        let mut n = self.lock();
        n.origin = Some(tokio::time::Instant::now());
        n.trace = Some(Vec::new());
    }

    /// The deliveries recorded since [`SimNet::record`].
    pub fn trace(&self) -> Vec<Delivery> {
        self.lock().trace.clone().unwrap_or_default()
    }

    /// What happened to the datagrams so far.
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Sends one datagram: decides its fate now, delivers it later.
    fn send(&self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let mut n = self.lock();
        if n.cut.contains(&(from, to)) || !n.inboxes.contains_key(&to) {
            n.counts.cut += 1;
            return;
        }
        let f = n.links.get(&(from, to)).copied().unwrap_or(n.default);
        if f.loss > 0.0 && n.rng.unit() < f.loss {
            n.counts.lost += 1;
            return;
        }
        let now = tokio::time::Instant::now();
        // the bandwidth queue: this datagram starts when the link is free
        let start = match f.bandwidth {
            Some(bw) if bw > 0 => {
                let free = n
                    .busy_until
                    .get(&(from, to))
                    .copied()
                    .unwrap_or(now)
                    .max(now);
                let on_wire = Duration::from_secs_f64(data.len() as f64 / bw as f64);
                n.busy_until.insert((from, to), free + on_wire);
                free + on_wire
            }
            _ => now,
        };
        let delay = |n: &mut Net| {
            let jitter = f.jitter.mul_f64(n.rng.unit());
            let held = if f.reorder > 0.0 && n.rng.unit() < f.reorder {
                n.counts.reordered += 1;
                f.latency
                    .mul_f64(n.rng.unit())
                    .max(Duration::from_micros(1))
            } else {
                Duration::ZERO
            };
            start + f.latency + jitter + held
        };
        let first = delay(&mut n);
        let copy = (f.duplicate > 0.0 && n.rng.unit() < f.duplicate).then(|| delay(&mut n));
        drop(n);
        if let Some(at) = copy {
            self.deliver_at(at, from, to, data.clone(), true);
        }
        self.deliver_at(first, from, to, data, false);
    }

    fn deliver_at(
        &self,
        at: tokio::time::Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: Vec<u8>,
        copy: bool,
    ) {
        if at <= tokio::time::Instant::now() {
            self.deliver(from, to, data, copy);
            return;
        }
        let net = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            net.deliver(from, to, data, copy);
        });
    }

    fn deliver(&self, from: SocketAddr, to: SocketAddr, data: Vec<u8>, copy: bool) {
        let mut n = self.lock();
        // a link cut while the datagram was on it drops it too
        if n.cut.contains(&(from, to)) {
            n.counts.cut += 1;
            return;
        }
        let Some(inbox) = n.inboxes.get_mut(&to) else {
            n.counts.cut += 1;
            return;
        };
        let len = data.len();
        inbox.queue.push_back((from, data));
        let waker = inbox.waker.take();
        n.counts.delivered += 1;
        if copy {
            n.counts.duplicated += 1;
        }
        if let (Some(origin), Some(trace)) = (n.origin, n.trace.as_mut()) {
            trace.push((origin.elapsed(), from, to, len));
        }
        drop(n);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// One endpoint's socket on a [`SimNet`].
pub struct SimSocket {
    addr: SocketAddr,
    net: SimNet,
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
