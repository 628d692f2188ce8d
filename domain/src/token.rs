//! Invitation tokens as the domain sees them: only their digest. The raw token is
//! made and hashed at the edge, so no secret ever enters the event log.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// SHA-256 digest of an invitation token, stored and compared instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

/// A digest that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a token digest is 64 hexadecimal digits")]
pub struct InvalidDigest;

impl TokenDigest {
    /// Wraps digest bytes computed at the edge.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in time independent of where the digests differ, so response timing
    /// tells an attacker nothing about a guessed token.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({})", String::from(*self))
    }
}

impl TryFrom<String> for TokenDigest {
    type Error = InvalidDigest;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_hex(&value)
    }
}

impl TokenDigest {
    /// Reads 64 hex digits.
    fn from_hex(value: &str) -> Result<Self, InvalidDigest> {
        let bytes = value.as_bytes();
        if bytes.len() != 64 {
            return Err(InvalidDigest);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or(InvalidDigest)?;
            let lo = (pair[1] as char).to_digit(16).ok_or(InvalidDigest)?;
            out[i] = u8::try_from(hi * 16 + lo).map_err(|_| InvalidDigest)?;
        }
        Ok(Self(out))
    }
}

impl From<TokenDigest> for String {
    fn from(value: TokenDigest) -> Self {
        hex::encode(value.0)
    }
}

/// Written as 64 lower-case hex digits, from a buffer on the stack.
impl Serialize for TokenDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 64];
        hex::encode_to_slice(self.0, &mut text).map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// Read from the string a format lends (no `String` on the way).
impl<'de> Deserialize<'de> for TokenDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Hex;
        impl serde::de::Visitor<'_> for Hex {
            type Value = TokenDigest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TokenDigest, E> {
                TokenDigest::from_hex(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_as_hex_and_compare_by_value() {
        let d = TokenDigest::from_bytes([0xab; 32]);
        let hex = String::from(d);
        assert_eq!(hex, "ab".repeat(32));
        assert_eq!(TokenDigest::try_from(hex).expect("hex"), d);
        assert!(d.matches(&TokenDigest::from_bytes([0xab; 32])));
        assert!(!d.matches(&TokenDigest::from_bytes([0xac; 32])));
        assert!(TokenDigest::try_from("zz".repeat(32)).is_err());
        assert!(TokenDigest::try_from("ab".to_owned()).is_err());
    }
}
