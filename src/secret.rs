//! The server secret invitation tokens are derived with (see
//! `roster_commands::tokens`). Every instance must share it: production sets
//! `ROSTER_SECRET`; the embedded default keeps one in a file beside the database,
//! created on first use and readable only by its owner.

use std::path::{Path, PathBuf};

use roster_commands::tokens::{NoRandomness, TokenKey, WeakSecret};
use roster_workers::mailer::private;
use secrecy::{ExposeSecret, SecretString};

/// The fewest different characters an operator's secret may have: a hex secret
/// of 32 random bytes has 16 nearly always, one repeated character has 1.
pub const MIN_DISTINCT: usize = 10;

/// Why the server secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `ROSTER_SECRET` is too uniform to be a secret.
    #[error("ROSTER_SECRET uses only {distinct} different characters; use at least {MIN_DISTINCT}, e.g. from `openssl rand -hex 32`")]
    TooUniform {
        /// How many different characters it has.
        distinct: usize,
    },
    /// `ROSTER_SECRET` is too short.
    #[error("ROSTER_SECRET is not usable")]
    Weak(#[source] WeakSecret),
    /// The secret file holds too short a secret.
    #[error("the secret in {} is not usable", file.display())]
    WeakFile {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: WeakSecret,
    },
    /// No randomness to make a new one.
    #[error("cannot make a new secret")]
    NoRandomness(#[source] NoRandomness),
    /// The secret file could not be written (or its folder made).
    #[error("cannot write the secret to {}", file.display())]
    Write {
        /// The file or folder.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Loads the key from `ROSTER_SECRET`, else from `file` (creating it if missing).
pub fn load_token_key(
    env_secret: Option<&SecretString>,
    file: &Path,
) -> Result<TokenKey, SecretError> {
    if let Some(secret) = env_secret
        .map(ExposeSecret::expose_secret)
        .filter(|s| !s.is_empty())
    {
        let distinct = secret
            .bytes()
            .collect::<std::collections::HashSet<u8>>()
            .len();
        if distinct < MIN_DISTINCT {
            return Err(SecretError::TooUniform { distinct });
        }
        return TokenKey::new(secret.as_bytes().to_vec()).map_err(SecretError::Weak);
    }
    if let Ok(bytes) = std::fs::read(file) {
        if private::is_loose(file) {
            tracing::warn!(
                file = %file.display(),
                "the secret file is readable by others: anyone who reads it can forge invitation links; run chmod 600"
            );
        }
        return TokenKey::new(bytes).map_err(|source| SecretError::WeakFile {
            file: file.to_path_buf(),
            source,
        });
    }
    let key = TokenKey::generate().map_err(SecretError::NoRandomness)?;
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
        private::create_dir(folder).map_err(|source| SecretError::Write {
            file: folder.to_path_buf(),
            source,
        })?;
    }
    write_private(file, key.expose()).map_err(|source| SecretError::Write {
        file: file.to_path_buf(),
        source,
    })?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(file, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_comes_from_the_environment_or_a_file_made_once() {
        let dir = std::env::temp_dir().join(format!("roster-secret-{}", std::process::id()));
        let file = dir.join("nested").join("roster.secret");
        let first = load_token_key(None, &file).expect("created");
        let again = load_token_key(None, &file).expect("read back");
        assert_eq!(first.expose(), again.expose());
        assert!(load_token_key(Some(&"too short".into()), &file).is_err());
        let secret = "0123456789abcdef".repeat(3);
        let from_env = load_token_key(Some(&secret.as_str().into()), &file).expect("env");
        assert_eq!(from_env.expose(), secret.as_bytes());
        assert!(!private::is_loose(&file), "created owner-only");
        assert!(!private::is_loose(&dir), "its folder too");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_secret_of_one_repeated_character_is_refused() {
        let file = std::env::temp_dir().join("roster-secret-unused");
        let refused = load_token_key(Some(&"a".repeat(32).into()), &file).expect_err("weak");
        assert!(
            refused.to_string().contains("different characters"),
            "{refused}"
        );
        assert!(load_token_key(Some(&"ab".repeat(40).into()), &file).is_err());
    }
}
