//! Invitation tokens: 256 random bits, shown to the invitee once (in the link) and
//! stored only as a SHA-256 digest, so the log and the database never hold a
//! usable credential.

use std::fmt;

use roster_domain::TokenDigest;
use sha2::{Digest, Sha256};

/// A raw invitation token. Its `Debug` hides the value so it never lands in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationToken(String);

/// The system's random source failed (should never happen on a healthy host).
#[derive(Debug, thiserror::Error)]
#[error("no randomness available for a token: {0}")]
pub struct NoRandomness(String);

impl InvitationToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, NoRandomness> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| NoRandomness(e.to_string()))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Wraps a token presented by a client (a link, a form).
    pub fn from_presented(raw: &str) -> Self {
        Self(raw.trim().to_owned())
    }

    /// The token as it goes into a link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the log stores and accept compares.
    pub fn digest(&self) -> TokenDigest {
        let hash = Sha256::digest(self.0.as_bytes());
        TokenDigest::from_bytes(hash.into())
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_hidden_and_digest_stably() {
        let a = InvitationToken::generate().expect("random");
        let b = InvitationToken::generate().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert_eq!(format!("{a:?}"), "InvitationToken(***)");
        assert_eq!(
            InvitationToken::from_presented(&format!(" {} ", a.expose())).digest(),
            a.digest()
        );
        assert_ne!(a.digest(), b.digest());
    }
}
