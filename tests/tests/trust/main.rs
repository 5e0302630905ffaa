//! The cluster layer trusts no one further than it must: a peer holding a
//! valid certificate (Mallory, `arbour_tests::mallory`) that never joined
//! speaks the wire format by hand at a 3-node cluster. Throughout each
//! attack no member is declared down and a legitimate ask keeps answering.

mod client;
mod common;
mod exit;
mod registry;
mod served;
mod spawn;
mod swim;
