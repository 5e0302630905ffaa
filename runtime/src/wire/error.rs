//! Everything that can be wrong with bytes from a peer. Each is a value:
//! decoding untrusted input never panics.

/// Malformed or oversized input from the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a field.
    #[error("truncated input")]
    Truncated,
    /// Bytes were left over after a complete message.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A frame of length zero (no kind byte).
    #[error("empty frame")]
    EmptyFrame,
    /// A frame longer than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame kind this protocol version does not know.
    #[error("unknown frame kind {0}")]
    UnknownFrameKind(u8),
    /// Flag bits this protocol version does not know.
    #[error("unknown flags {0:#010b}")]
    UnknownFlags(u8),
    /// A field longer than its limit.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text field that is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    BadUtf8(&'static str),
    /// A reply outcome code this protocol version does not know.
    #[error("unknown reply code {0}")]
    UnknownReplyCode(u8),
    /// A reject frame with a refusal kind this build does not know.
    #[error("unknown refusal kind {0}")]
    UnknownRefusal(u8),
    /// The stream already failed; nothing more is read from it.
    #[error("stream already failed")]
    Poisoned,
}
