//! Invitation tokens: 256 bits, shown to the invitee once (in the link) and stored
//! only as a SHA-256 digest, so the log and the database never hold a usable
//! credential.
//!
//! A token is derived, not stored: `HMAC-SHA256(server secret, "roster-invitation" ‖
//! invitation id ‖ send id)`. Whoever holds the secret — the API answering the
//! command, the email worker sending the link later, the CLI — can recompute the
//! link of any send from the event alone; nobody else can. Each send has its own
//! id, so a resend yields a new token and the old link stops matching.

use std::fmt;

use hmac::{Hmac, Mac};
use roster_domain::TokenDigest;
use roster_domain::{InvitationId, SendId, UserId};
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
        Ok(Self(hex::encode(bytes)))
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

/// The server secret tokens are derived with. Its `Debug` hides the value.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

/// A secret too short to be safe.
#[derive(Debug, thiserror::Error)]
#[error("the token secret must be at least 32 bytes long")]
pub struct WeakSecret;

impl TokenKey {
    /// Wraps a secret of at least 32 bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, WeakSecret> {
        let secret = secret.into();
        if secret.len() < 32 {
            return Err(WeakSecret);
        }
        Ok(Self(secret))
    }

    /// A fresh random key (for an embedded install's first start, and tests).
    pub fn generate() -> Result<Self, NoRandomness> {
        let mut bytes = vec![0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| NoRandomness(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// The key's bytes, to persist it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The token of one password reset of one identity (never stored; the email
    /// worker derives it again from the event).
    pub fn reset_token(&self, user: UserId, reset: uuid::Uuid) -> InvitationToken {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"roster-password-reset");
        mac.update(user.as_uuid().as_bytes());
        mac.update(reset.as_bytes());
        let bytes = mac.finalize().into_bytes();
        InvitationToken(hex::encode(bytes))
    }

    /// The token of one send of one invitation.
    pub fn invitation_token(&self, invitation: InvitationId, send: SendId) -> InvitationToken {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"roster-invitation");
        mac.update(invitation.as_uuid().as_bytes());
        mac.update(send.as_uuid().as_bytes());
        let bytes = mac.finalize().into_bytes();
        InvitationToken(hex::encode(bytes))
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
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
    use uuid::Uuid;

    #[test]
    fn derived_tokens_depend_on_key_invitation_and_send() {
        let key = TokenKey::new(vec![7u8; 32]).expect("key");
        let (inv, s1, s2) = (
            InvitationId::from_uuid(Uuid::from_u128(1)),
            SendId::from_uuid(Uuid::from_u128(2)),
            SendId::from_uuid(Uuid::from_u128(3)),
        );
        let t = key.invitation_token(inv, s1);
        assert_eq!(t, key.invitation_token(inv, s1), "derivation is stable");
        assert_ne!(
            t,
            key.invitation_token(inv, s2),
            "a resend gets a new token"
        );
        let other = TokenKey::new(vec![8u8; 32]).expect("key");
        assert_ne!(t, other.invitation_token(inv, s1), "the secret matters");
        assert_eq!(t.expose().len(), 64);
        assert!(TokenKey::new(vec![1u8; 31]).is_err());
        assert_eq!(format!("{key:?}"), "TokenKey(***)");
    }

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
