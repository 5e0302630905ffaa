//! A bounds-checked reader over untrusted bytes: every read says how much it
//! needs and fails with an error value when the input is short or malformed.

use super::WireError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.bytes.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.take(2)?);
        Ok(u16::from_be_bytes(b))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    pub(crate) fn u128(&mut self) -> Result<u128, WireError> {
        let mut b = [0u8; 16];
        b.copy_from_slice(self.take(16)?);
        Ok(u128::from_be_bytes(b))
    }

    /// A string with a u16 length prefix, at most `max` bytes.
    pub(crate) fn str16(&mut self, max: usize, what: &'static str) -> Result<String, WireError> {
        self.str16_ref(max, what).map(str::to_owned)
    }

    /// [`Reader::str16`], borrowed from the input.
    pub(crate) fn str16_ref(
        &mut self,
        max: usize,
        what: &'static str,
    ) -> Result<&'a str, WireError> {
        let len = self.u16()? as usize;
        if len > max {
            return Err(WireError::TooLong { what, len, max });
        }
        let b = self.take(len)?;
        std::str::from_utf8(b).map_err(|_| WireError::BadUtf8(what))
    }

    /// Bytes with a u32 length prefix, at most `max`.
    pub(crate) fn bytes32(&mut self, max: usize, what: &'static str) -> Result<Vec<u8>, WireError> {
        self.bytes32_ref(max, what).map(<[u8]>::to_vec)
    }

    /// [`Reader::bytes32`], borrowed from the input.
    pub(crate) fn bytes32_ref(
        &mut self,
        max: usize,
        what: &'static str,
    ) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(WireError::TooLong { what, len, max });
        }
        self.take(len)
    }

    /// All input must have been read.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes(self.bytes.len() - self.pos))
        }
    }
}

pub(crate) fn put_str16(
    out: &mut Vec<u8>,
    s: &str,
    max: usize,
    what: &'static str,
) -> Result<(), WireError> {
    if s.len() > max || s.len() > u16::MAX as usize {
        return Err(WireError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

pub(crate) fn put_bytes32(
    out: &mut Vec<u8>,
    b: &[u8],
    max: usize,
    what: &'static str,
) -> Result<(), WireError> {
    if b.len() > max || b.len() > u32::MAX as usize {
        return Err(WireError::TooLong {
            what,
            len: b.len(),
            max,
        });
    }
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}
