//! MessagePack payload encoding (rmp-serde, compact array form: struct fields
//! by position, so field order is part of a message's wire contract, which is
//! why messages carry a versioned tag).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A payload that could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Serialisation failed (a type that serde cannot express in MessagePack).
    #[error("encode: {0}")]
    Encode(String),
    /// The bytes are not a valid value of the expected type.
    #[error("decode: {0}")]
    Decode(String),
}

/// Encodes a value as MessagePack.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    rmp_serde::to_vec(value).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Appends a value's MessagePack encoding to `out` (no intermediate buffer).
pub fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), CodecError> {
    rmp_serde::encode::write(out, value).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a MessagePack value; malformed input is an error, never a panic.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    rmp_serde::from_slice(bytes).map_err(|e| CodecError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip(v in proptest::collection::vec(any::<(u64, String, Option<i32>)>(), 0..8)) {
            let bytes = encode(&v).expect("encode");
            let back: Vec<(u64, String, Option<i32>)> = decode(&bytes).expect("decode");
            prop_assert_eq!(back, v);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<(u64, String, Vec<u8>)>(&bytes);
        }
    }
}
