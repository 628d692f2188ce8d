//! Password hashing and the minimum-strength rule. Hashing costs tens of
//! milliseconds of CPU, so it runs on blocking threads, never on the async ones.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::UseCaseError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks the minimum-strength rule; `None` when the password is acceptable.
pub fn weakness(password: &str, email: &str) -> Option<String> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS {
        return Some(format!("use at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars.len() > MAX_PASSWORD_CHARS {
        return Some(format!("use at most {MAX_PASSWORD_CHARS} characters"));
    }
    let distinct: std::collections::BTreeSet<char> = chars.iter().copied().collect();
    if distinct.len() < 5 {
        return Some("use more varied characters".into());
    }
    if password.to_lowercase().contains(&email.to_lowercase()) {
        return Some("do not use your email address in your password".into());
    }
    None
}

fn blocking_failed(e: tokio::task::JoinError) -> UseCaseError {
    UseCaseError::infrastructure("hashing a password", e)
}

/// Hashes a password with argon2id on a blocking thread.
pub async fn hash(password: String) -> Result<String, UseCaseError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt)
            .map_err(|e| UseCaseError::infrastructure("drawing a salt", e))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| UseCaseError::infrastructure("encoding a salt", e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| UseCaseError::infrastructure("hashing a password", e.to_string()))
    })
    .await
    .map_err(blocking_failed)?
}

/// Verifies a password on a blocking thread. With no stored hash (unknown email)
/// it hashes the password anyway, so unknown emails and wrong passwords cost the
/// same time and cannot be told apart.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, UseCaseError> {
    let Some(stored) = stored else {
        hash(password).await?;
        return Ok(false);
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .map_err(blocking_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_uniform_or_email_passwords_are_weak() {
        assert!(weakness("short", "a@x.io").is_some());
        assert!(weakness("aaaaaaaaaaaaaaaa", "a@x.io").is_some());
        assert!(weakness("my a@x.io password!", "a@x.io").is_some());
        assert_eq!(weakness("correct horse battery staple", "a@x.io"), None);
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery staple".into())
            .await
            .expect("hash");
        assert!(
            verify("correct horse battery staple".into(), Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("wrong horse battery staple".into(), Some(stored))
            .await
            .expect("verify"));
        assert!(!verify("anything at all here".into(), None)
            .await
            .expect("verify"));
    }
}
