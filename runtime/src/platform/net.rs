//! Time and tasks for quinn, supplied by the platform.
//!
//! [`TokioTimeRuntime`] is a quinn `Runtime` whose clock and timers are
//! tokio's, so under paused time a whole QUIC exchange runs in virtual time
//! on one thread (over the simulator's in-memory sockets, which live in
//! `arbour-sim`). [`OnWorkers`] runs quinn's tasks on a node's own worker.

use quinn::{AsyncTimer, AsyncUdpSocket, Runtime};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

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
/// run on a node's I/O worker, so they end with the node, whatever thread
/// quinn happens to spawn them from. Clock, timers and sockets come from the
/// wrapped runtime.
#[derive(Debug)]
pub struct OnWorkers {
    inner: Arc<dyn Runtime>,
    workers: super::WeakWorkers,
}

impl OnWorkers {
    /// `inner`'s clock and sockets, with tasks on `workers`' I/O worker.
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
            let _ = workers.spawn_on(workers.io(), future);
        }
    }

    fn wrap_udp_socket(&self, t: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        self.inner.wrap_udp_socket(t)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }
}
