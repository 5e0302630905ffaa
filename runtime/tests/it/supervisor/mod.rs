//! The OTP `supervisor` contract, exercised with real actix actors on a
//! paused-time current-thread runtime (intensity windows, backoff and
//! shutdown timeouts advance in virtual time), grouped as OTP's own
//! `supervisor_SUITE` groups its cases. Each test is named for what the
//! OTP manual says, and checks arbour does the same.

mod auto_shutdown;
mod child_adm;
mod intensity;
mod normal_termination;
mod panics;
mod restart_one_for_all;
mod restart_one_for_one;
mod restart_rest_for_one;
mod restart_simple_one_for_one;
mod sup_start;
mod sup_stop;

pub(crate) use crate::common::*;
pub(crate) use arbour::supervision::decision::ChildStatus;
pub(crate) use arbour::{
    supervision::{AutoShutdown, Backoff, ChildShutdown},
    ChildSpec, ExitReason, Restart, StartError, Strategy, SupervisorError, SupervisorSpec,
};
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) fn spec3(strategy: Strategy, log: &Log) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .intensity(10)
        .child(ChildSpec::worker("a", Worker::factory("a", log)))
        .child(ChildSpec::worker("b", Worker::factory("b", log)))
        .child(ChildSpec::worker("c", Worker::factory("c", log)))
}

pub(crate) fn worker(id: &str, log: &Log) -> ChildSpec {
    ChildSpec::worker(id, Worker::factory(id, log))
}

/// The template "w" of a `simple_one_for_one` supervisor: child `n` is a
/// worker named `w<n>`.
pub(crate) fn numbered(log: &Log) -> ChildSpec {
    let l = log.clone();
    ChildSpec::template("w", move |n: u32| {
        Ok::<_, String>(Worker::factory(&format!("w{n}"), &l)())
    })
}

pub(crate) async fn ids(sup: &arbour::SupervisorRef) -> Vec<String> {
    let children = within("which_children", sup.which_children()).await;
    children
        .expect("which_children")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

pub(crate) async fn statuses(sup: &arbour::SupervisorRef) -> Vec<(String, ChildStatus)> {
    let children = within("which_children", sup.which_children()).await;
    children
        .expect("which_children")
        .into_iter()
        .map(|c| (c.id, c.status))
        .collect()
}
