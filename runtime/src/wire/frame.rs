//! Length-prefixed frames: `[u32 length, big-endian][u8 kind][body]`, where
//! the length counts the kind byte and the body.
//!
//! [`FrameDecoder`] is fed bytes as they arrive (in any chunking) and yields
//! whole frames. The length is checked against the limit *before* anything is
//! allocated for the body, so a peer announcing a 4 GiB frame costs nothing.

use super::WireError;

/// What a frame carries. Unknown kinds are an error, not a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Handshake: the dialer's [`Hello`](super::Hello).
    Hello = 1,
    /// Handshake: the listener's acceptance.
    Welcome = 2,
    /// Handshake refused, with a reason.
    Reject = 3,
    /// A message for an actor ([`Envelope`](super::Envelope)).
    Envelope = 4,
    /// The answer to an ask ([`Reply`](super::Reply)).
    Reply = 5,
    /// Liveness probe.
    Ping = 6,
    /// Answer to a probe.
    Pong = 7,
}

impl FrameKind {
    fn from_byte(b: u8) -> Result<Self, WireError> {
        Ok(match b {
            1 => FrameKind::Hello,
            2 => FrameKind::Welcome,
            3 => FrameKind::Reject,
            4 => FrameKind::Envelope,
            5 => FrameKind::Reply,
            6 => FrameKind::Ping,
            7 => FrameKind::Pong,
            other => return Err(WireError::UnknownFrameKind(other)),
        })
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What it carries.
    pub kind: FrameKind,
    /// Its body, still encoded.
    pub body: Vec<u8>,
}

/// Size limits for what a peer may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame (kind byte plus body), in bytes.
    pub max_frame: usize,
    /// Longest message tag, in bytes.
    pub max_tag: usize,
    /// Longest node or cluster name, in bytes.
    pub max_name: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: 16 * 1024 * 1024,
            max_tag: 256,
            max_name: 255,
        }
    }
}

/// Appends one frame to `out`. Fails only if the body exceeds `limits`, so a
/// node never sends what its peers would refuse.
pub fn encode_frame(
    kind: FrameKind,
    body: &[u8],
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let len = body.len() + 1;
    if len > limits.max_frame {
        return Err(WireError::FrameTooLarge {
            len,
            max: limits.max_frame,
        });
    }
    let len32 = u32::try_from(len).map_err(|_| WireError::FrameTooLarge {
        len,
        max: limits.max_frame,
    })?;
    out.reserve(4 + len);
    out.extend_from_slice(&len32.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(body);
    Ok(())
}

/// Buffer a decoder keeps between frames; a larger one (a large frame's)
/// is given back once the frame is done.
const RETAINED: usize = 256 * 1024;

/// Reassembles frames from a byte stream.
#[derive(Debug)]
pub struct FrameDecoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf` (compacted lazily).
    pos: usize,
    /// Frames returned so far.
    frames: u64,
    failed: bool,
}

/// The largest frame a peer may send before its hello is admitted: a hello
/// (two names of at most 255 bytes, a version, an incarnation, capability
/// bits) or a reject with its reason fits many times over. A stranger that
/// passed TLS must not make the node hold the 16 MiB of a frame after it.
pub const HANDSHAKE_FRAME_MAX: usize = 8 * 1024;

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
            pos: 0,
            frames: 0,
            failed: false,
        }
    }

    /// Enforces `limits` from now on (a handshake's decoder, once the peer
    /// is admitted, takes the connection's).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Bytes received and not yet part of a returned frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Frames returned so far (a stream whose count moved has made
    /// progress).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Gives back the buffer of a large frame once nothing is left in it
    /// (a long-lived stream would otherwise keep its largest frame's
    /// allocation for as long as it lives).
    pub fn release_idle(&mut self) {
        if self.buffered() == 0 && self.buf.capacity() > RETAINED {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` if more bytes are needed. After an error
    /// the stream is unusable (the peer is misbehaving) and every later call
    /// returns [`WireError::Poisoned`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        Ok(self.next_frame_ref()?.map(|(kind, body)| Frame {
            kind,
            body: body.to_vec(),
        }))
    }

    /// [`FrameDecoder::next_frame`] without copying: the body is borrowed
    /// from the decoder's buffer until the next call.
    pub fn next_frame_ref(&mut self) -> Result<Option<(FrameKind, &[u8])>, WireError> {
        if self.failed {
            return Err(WireError::Poisoned);
        }
        match self.decode_one() {
            Ok(Some((kind, start, end))) => Ok(Some((kind, &self.buf[start..end]))),
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// The next frame's kind and body range in `buf`.
    fn decode_one(&mut self) -> Result<Option<(FrameKind, usize, usize)>, WireError> {
        let avail = &self.buf[self.pos..];
        let Some(prefix) = avail.get(..4) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(prefix);
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len == 0 {
            return Err(WireError::EmptyFrame);
        }
        if len > self.limits.max_frame {
            return Err(WireError::FrameTooLarge {
                len,
                max: self.limits.max_frame,
            });
        }
        let Some(frame) = avail.get(4..4 + len) else {
            // a large frame under way: make room for exactly the rest, so
            // what it holds is what it announced, not a doubling past it
            let missing = 4 + len - avail.len();
            if len > RETAINED && self.buf.capacity() - self.buf.len() < missing {
                self.buf.reserve_exact(missing);
            }
            return Ok(None);
        };
        let kind = FrameKind::from_byte(frame[0])?;
        let start = self.pos + 5;
        self.pos += 4 + len;
        self.frames += 1;
        Ok(Some((kind, start, self.pos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large frame arriving in pieces holds what it announced (not a
    /// doubling past it), and its buffer is given back once it is done.
    #[test]
    fn a_large_frame_holds_what_it_announced_and_gives_it_back() {
        let limits = Limits::default();
        let body = vec![7u8; 4 * 1024 * 1024];
        let mut bytes = Vec::new();
        encode_frame(FrameKind::Envelope, &body, &limits, &mut bytes).expect("frame");
        let mut d = FrameDecoder::new(limits);
        let mut most = 0;
        for piece in bytes.chunks(64 * 1024) {
            d.push(piece);
            most = most.max(d.buf.capacity());
            if let Some((kind, got)) = d.next_frame_ref().expect("decodes") {
                assert_eq!((kind, got.len()), (FrameKind::Envelope, body.len()));
            }
        }
        assert!(most <= bytes.len() + 64 * 1024, "held {most} for {}", bytes.len());
        assert_eq!(d.buffered(), 0);
        d.release_idle();
        assert_eq!(d.buf.capacity(), 0);
    }
}
