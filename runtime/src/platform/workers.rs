//! A node's worker threads: each one a current-thread tokio runtime driving a
//! `LocalSet`, because actix actors are `!Send` and live on one thread.
//!
//! Work reaches a worker as a `Send` closure that runs inside its `LocalSet`
//! (where it may `spawn_local` actors). `Addr`s and `ActorRef`s cross workers
//! freely. The simulator does not use this: it runs every node on one thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::mpsc;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why the worker pool could not start or accept work.
#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    /// The OS refused a thread or the runtime could not be built.
    #[error("could not start worker {index}: {source}")]
    Start {
        /// Which worker.
        index: usize,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The pool was shut down.
    #[error("worker pool is shut down")]
    Closed,
    /// A worker index past the pool size.
    #[error("no worker {0} (the pool has {1})")]
    NoSuchWorker(usize, usize),
}

/// A fixed set of worker threads owned by one node.
#[derive(Clone, Debug)]
pub struct WorkerPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    senders: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl WorkerPool {
    /// Starts `n` workers (at least one) named `<node>-w<i>`.
    pub fn start(node: &str, n: usize) -> Result<Self, WorkersError> {
        let n = n.max(1);
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|source| WorkersError::Start { index, source })?;
            let handle = std::thread::Builder::new()
                .name(format!("{node}-w{index}"))
                .spawn(move || {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&rt, async move {
                        while let Some(job) = rx.recv().await {
                            job();
                        }
                    });
                })
                .map_err(|source| WorkersError::Start { index, source })?;
            senders.push(tx);
            threads.push(handle);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                senders,
                next: AtomicUsize::new(0),
                threads: std::sync::Mutex::new(threads),
            }),
        })
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.inner.senders.len()
    }

    /// Always false: a pool has at least one worker.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Runs `job` on worker `index`, inside its `LocalSet`.
    pub fn run_on(
        &self,
        index: usize,
        job: impl FnOnce() + Send + 'static,
    ) -> Result<(), WorkersError> {
        let tx = self
            .inner
            .senders
            .get(index)
            .ok_or(WorkersError::NoSuchWorker(index, self.len()))?;
        tx.send(Box::new(job)).map_err(|_| WorkersError::Closed)
    }

    /// Runs `job` on the next worker in round-robin order; returns its index.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) -> Result<usize, WorkersError> {
        let index = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.len();
        self.run_on(index, job)?;
        Ok(index)
    }

    /// Stops accepting work and waits for every worker thread to end.
    ///
    /// A worker ends when its queue closes; actors still running on it are
    /// dropped with its `LocalSet`.
    pub fn shutdown(self) {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return; // other clones keep the pool alive; the last one joins
        };
        drop(inner.senders);
        let threads = inner
            .threads
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_distinct_named_threads() {
        let pool = WorkerPool::start("t", 2).expect("start");
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..2 {
            let tx = tx.clone();
            pool.run_on(i, move || {
                let name = std::thread::current().name().map(str::to_owned);
                // spawn_local works: we are inside the worker's LocalSet
                tokio::task::spawn_local(async move {
                    let _ = tx.send(name);
                });
            })
            .expect("run");
        }
        let mut names: Vec<_> = (0..2)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("job ran")
            })
            .collect();
        names.sort();
        assert_eq!(names, vec![Some("t-w0".into()), Some("t-w1".into())]);
        assert!(matches!(
            pool.run_on(5, || {}),
            Err(WorkersError::NoSuchWorker(5, 2))
        ));
        pool.shutdown();
    }
}
