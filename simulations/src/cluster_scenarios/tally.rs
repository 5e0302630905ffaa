//! An actor that counts its own life, for scenarios that check how many
//! instances of something run in the whole simulated cluster at once (a
//! singleton, a pool): counted up when built, down when dropped (a
//! crashed node drops its actors without stopping them).

use arbour::cluster::Kind;
use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    /// The instances alive now, by what they are (`leader`, `pool`).
    static ALIVE: RefCell<BTreeMap<String, usize>> = RefCell::default();
}

/// How many instances of `what` are alive now.
pub fn alive(what: &str) -> usize {
    ALIVE.with(|a| a.borrow().get(what).copied().unwrap_or(0))
}

/// An actor that counts its own life, by what it is (its argument).
pub struct Tally(String);

impl Tally {
    fn new(what: String) -> Self {
        ALIVE.with(|a| *a.borrow_mut().entry(what.clone()).or_default() += 1);
        Tally(what)
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        ALIVE.with(|a| {
            if let Some(n) = a.borrow_mut().get_mut(&self.0) {
                *n = n.saturating_sub(1);
            }
        });
    }
}

impl actix::Actor for Tally {
    type Context = actix::Context<Self>;
}

impl arbour::RemoteActor for Tally {
    fn accepts(_: &mut arbour::MessageTable<Self>) {}
}

impl Kind for Tally {
    type Args = String;
    fn from_args(what: String) -> Self {
        Tally::new(what)
    }
}

/// Forgets every count (a new run).
pub fn reset() {
    ALIVE.with(|a| a.borrow_mut().clear());
}
