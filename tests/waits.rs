//! Every wait a test makes is bounded, and made here: [`bounded`] (a
//! future, within a limit) and [`eventually`] (a condition, checked every
//! so often, within a limit). Two limits: [`LIMIT`] for real time
//! (processes, sockets, threads) and [`VIRTUAL_LIMIT`] for paused tokio
//! time, where a wait costs nothing. A wait that runs out fails the test,
//! naming what it waited for.

use std::future::IntoFuture;
use std::time::Duration;

/// The bound on a wait in real time.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The bound on a wait in virtual (paused) time.
pub const VIRTUAL_LIMIT: Duration = Duration::from_secs(60);

/// Awaits `f` within [`LIMIT`], or fails the test naming `what`.
pub async fn bounded<T>(what: &str, f: impl IntoFuture<Output = T>) -> T {
    bounded_for(LIMIT, what, f).await
}

/// Awaits `f` within `limit` (of tokio time: virtual under a paused
/// runtime), or fails the test naming `what`.
pub async fn bounded_for<T>(limit: Duration, what: &str, f: impl IntoFuture<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// Returns once `cond` holds, checking it now and then every `every`,
/// within [`LIMIT`]; or fails the test naming `what`.
pub async fn eventually(what: &str, every: Duration, cond: impl FnMut() -> bool) {
    eventually_for(LIMIT, what, every, cond).await
}

/// [`eventually`] within `limit`.
pub async fn eventually_for(
    limit: Duration,
    what: &str,
    every: Duration,
    mut cond: impl FnMut() -> bool,
) {
    bounded_for(limit, what, async {
        while !cond() {
            tokio::time::sleep(every).await;
        }
    })
    .await
}
