//! What crosses the network, with no I/O (DESIGN.md §5). For now: the payload
//! codec shared by remote dispatch; framing and handshake arrive with the
//! transport.

mod codec;

pub use codec::{decode, encode, CodecError};
