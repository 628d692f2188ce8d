//! The server secret invitation tokens are derived with (see
//! `roster_commands::tokens`). Every instance must share it: production sets
//! `ROSTER_SECRET`; the embedded default keeps one in a file beside the database,
//! created on first use and readable only by its owner.

use std::path::Path;

use roster_commands::tokens::TokenKey;
use roster_workers::mailer::private;

/// The fewest different characters an operator's secret may have: a hex secret
/// of 32 random bytes has 16 nearly always, one repeated character has 1.
pub const MIN_DISTINCT: usize = 10;

/// Loads the key from `ROSTER_SECRET`, else from `file` (creating it if missing).
pub fn load_token_key(env_secret: Option<&str>, file: &Path) -> Result<TokenKey, String> {
    if let Some(secret) = env_secret.filter(|s| !s.is_empty()) {
        let distinct = secret
            .bytes()
            .collect::<std::collections::HashSet<u8>>()
            .len();
        if distinct < MIN_DISTINCT {
            return Err(format!(
                "ROSTER_SECRET: uses only {distinct} different characters; use at least {MIN_DISTINCT}, e.g. from `openssl rand -hex 32`"
            ));
        }
        return TokenKey::new(secret.as_bytes().to_vec())
            .map_err(|e| format!("ROSTER_SECRET: {e}"));
    }
    if let Ok(bytes) = std::fs::read(file) {
        if private::is_loose(file) {
            tracing::warn!(
                file = %file.display(),
                "the secret file is readable by others: anyone who reads it can forge invitation links; run chmod 600"
            );
        }
        return TokenKey::new(bytes).map_err(|e| format!("{}: {e}", file.display()));
    }
    let key = TokenKey::generate().map_err(|e| e.to_string())?;
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
        private::create_dir(folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    write_private(file, key.expose())
        .map_err(|e| format!("cannot write the secret to {}: {e}", file.display()))?;
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
        assert!(load_token_key(Some("too short"), &file).is_err());
        let secret = "0123456789abcdef".repeat(3);
        let from_env = load_token_key(Some(&secret), &file).expect("env");
        assert_eq!(from_env.expose(), secret.as_bytes());
        assert!(!private::is_loose(&file), "created owner-only");
        assert!(!private::is_loose(&dir), "its folder too");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_secret_of_one_repeated_character_is_refused() {
        let file = std::env::temp_dir().join("roster-secret-unused");
        let refused = load_token_key(Some(&"a".repeat(32)), &file).expect_err("weak");
        assert!(refused.contains("different characters"), "{refused}");
        assert!(load_token_key(Some(&"ab".repeat(40)), &file).is_err());
    }
}
