//! `arbour-node`: what the `arbour` binary runs, as a library, so a user's own
//! node binary (with its own actor kinds compiled in) can call the same code.

pub mod certs;
pub mod demo;
pub mod probe;
pub mod serve;
