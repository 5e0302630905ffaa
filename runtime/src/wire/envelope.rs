//! The messages inside frames: actor envelopes and ask replies.
//!
//! Layout (big-endian), envelope:
//! `flags u8 | recipient u64 | recipient_incarnation u64 | [sender] |
//! tag str16 | [correlation u64] | [timeout_ms u32] | [trace u128 + u64] |
//! payload bytes32`,
//! where `sender` is `node str16 | incarnation u64 | local u64` and the flag
//! bits say which optional parts are present. Unknown flag bits are refused,
//! so a newer peer's extension is an error, not a misread.

use super::frame::{FrameKind, Limits};
use super::read::{put_bytes32, put_str16, Reader};
use super::WireError;

const HAS_SENDER: u8 = 1;
const HAS_CORRELATION: u8 = 2;
const HAS_TRACE: u8 = 4;
const HAS_TIMEOUT: u8 = 8;
const KNOWN_FLAGS: u8 = HAS_SENDER | HAS_CORRELATION | HAS_TRACE | HAS_TIMEOUT;

/// An actor as named on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WireActorId {
    /// Its node's name.
    pub node: String,
    /// Its node's incarnation.
    pub incarnation: u64,
    /// Its number on that node.
    pub local: u64,
}

/// Distributed-tracing context carried across nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: u128,
    /// The sender's span.
    pub span_id: u64,
}

/// A message for an actor on the receiving node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The recipient's local number on the receiving node.
    pub recipient: u64,
    /// The receiving node's incarnation as the sender knows it: a message for
    /// an earlier incarnation finds no actor.
    pub recipient_incarnation: u64,
    /// Who sent it, if it is to be known (for replies and monitors).
    pub sender: Option<WireActorId>,
    /// The message's stable wire tag.
    pub tag: String,
    /// Set for an ask: the reply carries it back.
    pub correlation: Option<u64>,
    /// For an ask: how long the asker waits, in milliseconds (the serving
    /// node gives up at the same point).
    pub timeout_ms: Option<u32>,
    /// Tracing context, if any.
    pub trace: Option<TraceContext>,
    /// The message, MessagePack-encoded.
    pub payload: Vec<u8>,
}

/// The parts of an envelope before its payload, borrowed: what a sender
/// needs to write a frame without building an [`Envelope`] first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeHead<'a> {
    /// See [`Envelope::recipient`].
    pub recipient: u64,
    /// See [`Envelope::recipient_incarnation`].
    pub recipient_incarnation: u64,
    /// See [`Envelope::sender`].
    pub sender: Option<&'a WireActorId>,
    /// See [`Envelope::tag`].
    pub tag: &'a str,
    /// See [`Envelope::correlation`].
    pub correlation: Option<u64>,
    /// See [`Envelope::timeout_ms`].
    pub timeout_ms: Option<u32>,
    /// See [`Envelope::trace`].
    pub trace: Option<TraceContext>,
}

/// Why an envelope could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// A header field or the whole frame is over the limits.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The payload writer failed.
    #[error("payload: {0}")]
    Payload(E),
}

impl EnvelopeHead<'_> {
    /// Appends a whole `Envelope` frame (length prefix, kind, body) to `out`,
    /// with the payload written in place by `payload`, so a message is
    /// encoded straight into the batch that will be sent. On error `out` is
    /// left as it was.
    pub fn write_frame<E>(
        &self,
        limits: &Limits,
        out: &mut Vec<u8>,
        payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let start = out.len();
        let r = self.write_frame_inner(limits, out, payload);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn write_frame_inner<E>(
        &self,
        limits: &Limits,
        out: &mut Vec<u8>,
        payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.push(FrameKind::Envelope as u8);
        self.write_head(limits, out)?;
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        payload(out).map_err(WriteError::Payload)?;
        let payload_len = out.len() - len_at - 4;
        let frame_len = out.len() - start - 4;
        if frame_len > limits.max_frame || frame_len > u32::MAX as usize {
            return Err(WireError::FrameTooLarge {
                len: frame_len,
                max: limits.max_frame,
            }
            .into());
        }
        // both fit in u32: checked just above
        out[len_at..len_at + 4].copy_from_slice(&(payload_len as u32).to_be_bytes());
        out[start..start + 4].copy_from_slice(&(frame_len as u32).to_be_bytes());
        Ok(())
    }

    fn write_head(&self, limits: &Limits, out: &mut Vec<u8>) -> Result<(), WireError> {
        let mut flags = 0;
        if self.sender.is_some() {
            flags |= HAS_SENDER;
        }
        if self.correlation.is_some() {
            flags |= HAS_CORRELATION;
        }
        if self.trace.is_some() {
            flags |= HAS_TRACE;
        }
        if self.timeout_ms.is_some() {
            flags |= HAS_TIMEOUT;
        }
        out.push(flags);
        out.extend_from_slice(&self.recipient.to_be_bytes());
        out.extend_from_slice(&self.recipient_incarnation.to_be_bytes());
        if let Some(s) = self.sender {
            put_str16(out, &s.node, limits.max_name, "sender node name")?;
            out.extend_from_slice(&s.incarnation.to_be_bytes());
            out.extend_from_slice(&s.local.to_be_bytes());
        }
        put_str16(out, self.tag, limits.max_tag, "message tag")?;
        if let Some(c) = self.correlation {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(t) = self.timeout_ms {
            out.extend_from_slice(&t.to_be_bytes());
        }
        if let Some(t) = self.trace {
            out.extend_from_slice(&t.trace_id.to_be_bytes());
            out.extend_from_slice(&t.span_id.to_be_bytes());
        }
        Ok(())
    }
}

/// A decoded envelope that borrows its tag and payload from the frame, so
/// the receive path allocates nothing per message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    /// See [`Envelope::recipient`].
    pub recipient: u64,
    /// See [`Envelope::recipient_incarnation`].
    pub recipient_incarnation: u64,
    /// See [`Envelope::sender`].
    pub sender: Option<WireActorId>,
    /// See [`Envelope::tag`].
    pub tag: &'a str,
    /// See [`Envelope::correlation`].
    pub correlation: Option<u64>,
    /// See [`Envelope::timeout_ms`].
    pub timeout_ms: Option<u32>,
    /// See [`Envelope::trace`].
    pub trace: Option<TraceContext>,
    /// See [`Envelope::payload`].
    pub payload: &'a [u8],
}

impl<'a> EnvelopeRef<'a> {
    /// Decodes a frame body; malformed input is an error, never a panic.
    pub fn decode(body: &'a [u8], limits: &Limits) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let flags = r.u8()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(WireError::UnknownFlags(flags));
        }
        let recipient = r.u64()?;
        let recipient_incarnation = r.u64()?;
        let sender = if flags & HAS_SENDER != 0 {
            Some(WireActorId {
                node: r.str16(limits.max_name, "sender node name")?,
                incarnation: r.u64()?,
                local: r.u64()?,
            })
        } else {
            None
        };
        let tag = r.str16_ref(limits.max_tag, "message tag")?;
        let correlation = if flags & HAS_CORRELATION != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let timeout_ms = if flags & HAS_TIMEOUT != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let trace = if flags & HAS_TRACE != 0 {
            Some(TraceContext {
                trace_id: r.u128()?,
                span_id: r.u64()?,
            })
        } else {
            None
        };
        let payload = r.bytes32_ref(limits.max_frame, "payload")?;
        r.finish()?;
        Ok(Self {
            recipient,
            recipient_incarnation,
            sender,
            tag,
            correlation,
            timeout_ms,
            trace,
            payload,
        })
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Envelope {
        Envelope {
            recipient: self.recipient,
            recipient_incarnation: self.recipient_incarnation,
            sender: self.sender.clone(),
            tag: self.tag.to_owned(),
            correlation: self.correlation,
            timeout_ms: self.timeout_ms,
            trace: self.trace,
            payload: self.payload.to_vec(),
        }
    }
}

impl Envelope {
    /// Its head, borrowed.
    pub fn head(&self) -> EnvelopeHead<'_> {
        EnvelopeHead {
            recipient: self.recipient,
            recipient_incarnation: self.recipient_incarnation,
            sender: self.sender.as_ref(),
            tag: &self.tag,
            correlation: self.correlation,
            timeout_ms: self.timeout_ms,
            trace: self.trace,
        }
    }

    /// Appends the encoded envelope (a frame body) to `out`.
    pub fn encode(&self, limits: &Limits, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.head().write_head(limits, out)?;
        put_bytes32(out, &self.payload, limits.max_frame, "payload")
    }

    /// Decodes a frame body; malformed input is an error, never a panic.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self, WireError> {
        EnvelopeRef::decode(body, limits).map(|e| e.to_owned())
    }
}

/// Why a remote ask failed, as the wire says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteError {
    /// No such actor, or it exited before replying: its exit reason,
    /// MessagePack-encoded by the node layer (which owns the type).
    ActorGone(Vec<u8>),
    /// The actor does not accept this tag.
    UnknownMessage(String),
    /// The payload did not decode.
    Decode(String),
    /// The mailbox was full.
    MailboxFull,
    /// The handler panicked (the panic message).
    Panicked(String),
    /// The remote handler did not answer within the asker's timeout.
    Timeout,
    /// The reply could not be encoded (or is over the frame limit).
    Encode(String),
    /// The node was already serving its maximum of asks from the asker's
    /// node (that maximum).
    Overloaded(u32),
}

/// The longest exit reason a reply carries (a panic message and location).
const MAX_REASON: usize = 64 * 1024;

/// The answer to an ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The ask's correlation id.
    pub correlation: u64,
    /// The encoded result, or why there is none.
    pub outcome: Result<Vec<u8>, RemoteError>,
}

impl Reply {
    /// Appends the encoded reply (a frame body) to `out`.
    pub fn encode(&self, limits: &Limits, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.extend_from_slice(&self.correlation.to_be_bytes());
        let text = |out: &mut Vec<u8>, code: u8, s: &str| {
            out.push(code);
            put_str16(out, s, u16::MAX as usize, "error text")
        };
        match &self.outcome {
            Ok(bytes) => {
                out.push(0);
                put_bytes32(out, bytes, limits.max_frame, "reply payload")
            }
            Err(RemoteError::ActorGone(reason)) => {
                out.push(1);
                put_bytes32(out, reason, MAX_REASON, "exit reason")
            }
            Err(RemoteError::UnknownMessage(s)) => text(out, 2, s),
            Err(RemoteError::Decode(s)) => text(out, 3, s),
            Err(RemoteError::MailboxFull) => {
                out.push(4);
                Ok(())
            }
            Err(RemoteError::Panicked(s)) => text(out, 5, s),
            Err(RemoteError::Timeout) => {
                out.push(6);
                Ok(())
            }
            Err(RemoteError::Encode(s)) => text(out, 7, s),
            Err(RemoteError::Overloaded(max)) => {
                out.push(8);
                out.extend_from_slice(&max.to_be_bytes());
                Ok(())
            }
        }
    }

    /// Decodes a frame body.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let correlation = r.u64()?;
        let code = r.u8()?;
        let text = |r: &mut Reader<'_>| r.str16(u16::MAX as usize, "error text");
        let outcome = match code {
            0 => Ok(r.bytes32(limits.max_frame, "reply payload")?),
            1 => Err(RemoteError::ActorGone(
                r.bytes32(MAX_REASON, "exit reason")?,
            )),
            2 => Err(RemoteError::UnknownMessage(text(&mut r)?)),
            3 => Err(RemoteError::Decode(text(&mut r)?)),
            4 => Err(RemoteError::MailboxFull),
            5 => Err(RemoteError::Panicked(text(&mut r)?)),
            6 => Err(RemoteError::Timeout),
            7 => Err(RemoteError::Encode(text(&mut r)?)),
            8 => Err(RemoteError::Overloaded(r.u32()?)),
            other => return Err(WireError::UnknownReplyCode(other)),
        };
        r.finish()?;
        Ok(Self {
            correlation,
            outcome,
        })
    }
}
