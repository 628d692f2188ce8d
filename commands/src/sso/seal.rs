//! Sealing a provider's client secret: XChaCha20-Poly1305 under a key derived
//! from the server secret (`HMAC-SHA256(secret, "roster-sso-client-secret")`),
//! with a random 192-bit nonce and the organization's id as associated data, so
//! a sealed secret copied to another organization does not open. Every instance
//! sharing the server secret can open it; the log and the tables cannot.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use roster_domain::{OrgId, SealedSecret};
use sha2::Sha256;

use crate::tokens::TokenKey;

/// What a sealed secret starts with: its format's version.
const VERSION: &str = "v1.";

/// A sealed secret that does not open: another server secret, another
/// organization, or altered text.
#[derive(Debug, thiserror::Error)]
#[error("the client secret cannot be opened with this server's secret")]
pub struct Unopenable;

fn cipher(key: &TokenKey) -> XChaCha20Poly1305 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"roster-sso-client-secret");
    XChaCha20Poly1305::new(&mac.finalize().into_bytes())
}

/// Seals `secret` for `org`.
pub fn seal(key: &TokenKey, org: OrgId, secret: &str) -> Result<SealedSecret, Unopenable> {
    let mut nonce = [0u8; 24];
    getrandom::getrandom(&mut nonce).map_err(|_| Unopenable)?;
    let sealed = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret.as_bytes(),
                aad: org.as_uuid().as_bytes(),
            },
        )
        .map_err(|_| Unopenable)?;
    Ok(SealedSecret(format!(
        "{VERSION}{}{}",
        hex::encode(nonce),
        hex::encode(sealed)
    )))
}

/// Opens what [`seal`] sealed for `org`.
pub fn open(key: &TokenKey, org: OrgId, sealed: &SealedSecret) -> Result<String, Unopenable> {
    let bytes = sealed
        .0
        .strip_prefix(VERSION)
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() > 24)
        .ok_or(Unopenable)?;
    let (nonce, body) = bytes.split_at(24);
    let plain = cipher(key)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: org.as_uuid().as_bytes(),
            },
        )
        .map_err(|_| Unopenable)?;
    String::from_utf8(plain).map_err(|_| Unopenable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_sealed_secret_opens_for_its_organization_and_key_only() {
        let key = TokenKey::new(vec![7u8; 32]).expect("key");
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let sealed = seal(&key, org, "s3cret-value").expect("seals");
        assert!(!sealed.0.contains("s3cret"), "not in clear");
        assert_ne!(
            sealed,
            seal(&key, org, "s3cret-value").expect("seals"),
            "fresh nonce"
        );
        assert_eq!(open(&key, org, &sealed).expect("opens"), "s3cret-value");
        let other_org = OrgId::from_uuid(Uuid::from_u128(2));
        assert!(open(&key, other_org, &sealed).is_err());
        let other_key = TokenKey::new(vec![8u8; 32]).expect("key");
        assert!(open(&other_key, org, &sealed).is_err());
        let mut altered = sealed.0.clone();
        altered.replace_range(altered.len() - 2.., "00");
        assert!(open(&key, org, &SealedSecret(altered)).is_err());
    }
}
