//! arbour's own integration tests, in one binary (one link, not ten),
//! grouped by behaviour: actor refs, the supervisor contract (as OTP's
//! `supervisor_SUITE` groups it), the wire codec, TLS, the transport, and
//! the house's rules (ARCHITECTURE.md).

mod architecture;
mod common;
mod core_model;
mod message_macro;
mod refs;
mod supervisor;
mod tls;
mod transport;
mod wire;
