//! What crosses the network, with no I/O: frames, envelopes,
//! replies, the handshake, the node-to-node control messages, and the
//! payload codec. Every decoder takes
//! untrusted bytes, checks each length against [`Limits`] before allocating,
//! and returns a [`WireError`] instead of panicking.

mod codec;
mod control;
mod envelope;
mod error;
mod frame;
mod handshake;
mod read;

pub use codec::{decode, encode, encode_into, CodecError};
pub use control::{tags, Control, CONTROL_RECIPIENT};
pub use envelope::{
    Envelope, EnvelopeHead, EnvelopeRef, RemoteError, Reply, TraceContext, WireActorId, WriteError,
};
pub use error::WireError;
pub use frame::{encode_frame, Frame, FrameDecoder, FrameKind, Limits, HANDSHAKE_FRAME_MAX};
pub use handshake::{decode_refusal, decode_reject, encode_reject, Hello, Refusal, PROTOCOL_VERSION};
