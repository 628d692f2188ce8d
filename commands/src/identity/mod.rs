//! Who a person is to Roster: their password (argon2id, hashed off the async
//! threads), their credentials row (the email index identities are unique by), their
//! sessions (random 256-bit tokens stored only as SHA-256 digests) and the sign-in
//! throttle. Secrets live here, never in the event log.

pub mod credentials;
pub mod passwords;
pub mod sessions;
pub mod throttle;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The SHA-256 digest (hex) a raw secret is stored as.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}
