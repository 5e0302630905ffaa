//! `arbour chaos`, the single-node demo: one node, its worker threads, a supervised Fibonacci
//! worker pool on each worker (the task-queue example of the reference book,
//! done with actors), a client sending tasks from another thread, and a chaos
//! monkey crashing workers at random. Supervisors restart them; every task
//! gets an answer or a precise error.

use crate::fib::{fib, Crash, Fib, FibWorker};
use arbour::{AskError, ChildSpec, Node, SupervisorSpec, WorkerPlacement};
use std::time::{Duration, Instant};

/// What the demo ran and saw.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Tasks answered correctly.
    pub ok: u64,
    /// Tasks that failed because their worker crashed under them.
    pub crashed: u64,
    /// Tasks that found their worker between crash and restart.
    pub gone: u64,
    /// Other ask failures (should be zero).
    pub other_errors: u64,
    /// Crashes injected.
    pub crashes_injected: u64,
    /// Restarts performed by the supervisors.
    pub restarts: u64,
    /// Wrong answers (must be zero).
    pub wrong: u64,
}

/// Demo settings.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Worker threads of the node.
    pub workers: usize,
    /// Fib workers per worker thread.
    pub pool: usize,
    /// How long the client sends tasks.
    pub duration: Duration,
    /// One crash per this many tasks (0: no chaos).
    pub crash_every: u64,
    /// Seed of the node's RNG.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pool: 4,
            duration: Duration::from_secs(3),
            crash_every: 500,
            seed: 42,
        }
    }
}

/// Runs the demo and returns its report (also logged as it goes).
pub fn run(cfg: &DemoConfig) -> anyhow::Result<Report> {
    anyhow::ensure!(
        cfg.pool > 0,
        "the demo needs at least one fib worker per thread (pool = 0)"
    );
    let cfg = cfg.clone();
    let out = Node::builder("alpha")
        .rng_seed(cfg.seed)
        .workers(cfg.workers)
        .run(move |node| async move {
            let report = serve(&node, &cfg).await;
            (report, node.clone())
        })?;
    let Some((report, node)) = out else {
        anyhow::bail!("interrupted");
    };
    let mut report = report?;
    // the node is shut down: every supervisor's pending work is over, so the
    // counter read now is final
    report.restarts = node.stats().restarts;
    Ok(report)
}

/// The demo's main, on the node's first worker.
async fn serve(node: &Node, cfg: &DemoConfig) -> anyhow::Result<Report> {
    let workers = node.worker_count();
    tracing::info!(node = %node.node_id(), workers, "node started");

    // One supervision tree per worker thread, each a pool of fib workers.
    let mut refs = Vec::new();
    for w in 0..workers {
        let mut spec = SupervisorSpec::one_for_one()
            .name(format!("fib-pool-{w}"))
            .intensity(1_000)
            .period(Duration::from_secs(1));
        for i in 0..cfg.pool {
            spec = spec.child(ChildSpec::worker(
                format!("fib-{w}-{i}"),
                FibWorker::default,
            ));
        }
        let sup = node
            .start_supervisor(WorkerPlacement::Worker(w), spec)
            .await?;
        refs.extend((0..cfg.pool).filter_map(|i| sup.child::<FibWorker>(&format!("fib-{w}-{i}"))));
    }
    tracing::info!(children = refs.len(), "supervised fib pools started");

    // The client: round-robin asks from the first worker to the pools on
    // every worker, with a chaos monkey.
    let mut r = Report::default();
    let start = Instant::now();
    let mut last_log = Instant::now();
    let mut i: u64 = 0;
    while start.elapsed() < cfg.duration {
        let target = &refs[(i as usize) % refs.len()];
        if cfg.crash_every > 0 && node.random_u64().is_multiple_of(cfg.crash_every) {
            target.tell(Crash);
            r.crashes_injected += 1;
        }
        let n = (i % 90) as u32;
        match target.ask(Fib(n)).timeout(Duration::from_secs(1)).await {
            Ok(v) if v == fib(n) => r.ok += 1,
            Ok(_) => r.wrong += 1,
            Err(AskError::Panicked(_)) => r.crashed += 1,
            Err(AskError::ActorGone(_)) => r.gone += 1,
            Err(e) => {
                tracing::warn!("task failed: {e}");
                r.other_errors += 1
            }
        }
        i += 1;
        if last_log.elapsed() >= Duration::from_secs(1) {
            last_log = Instant::now();
            let s = node.stats();
            tracing::info!(
                ok = r.ok,
                crashes = r.crashes_injected,
                restarts = s.restarts,
                "progress"
            );
        }
    }
    Ok(r)
}
