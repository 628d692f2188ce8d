//! Where emails go: an SMTP server (`SMTP_URL`: `smtp://` plain or with
//! `?tls=required` for STARTTLS, `smtps://` for implicit TLS, credentials in the
//! URL), or — the embedded default — `.eml` files in an outbox folder.

use std::path::PathBuf;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Retrying cannot help (e.g. 550 recipient refused).
    #[error("permanent: {0}")]
    Permanent(String),
    /// Retrying later may work (server down, 4xx, timeout).
    #[error("transient: {0}")]
    Transient(String),
}

/// The configured transport.
pub enum Mailer {
    /// A real SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Files in a folder, for installs without a mail server.
    Outbox(PathBuf),
}

impl Mailer {
    /// SMTP from `url` when given, else the outbox folder.
    pub fn new(url: Option<&str>, outbox: PathBuf) -> Result<Self, String> {
        match url.filter(|u| !u.trim().is_empty()) {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Mailer::Smtp(b.build()))
                .map_err(|e| format!("SMTP_URL is not usable: {e}")),
            None => Ok(Mailer::Outbox(outbox)),
        }
    }

    /// Hands `message` over; `file_name` names it in the outbox.
    pub async fn send(&self, message: Message, file_name: &str) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Mailer::Outbox(folder) => {
                let (folder, path) = (folder.clone(), folder.join(format!("{file_name}.eml")));
                let bytes = message.formatted();
                // An email holds a live accept link: only the owner may read it.
                tokio::task::spawn_blocking(move || {
                    private::create_dir(&folder)?;
                    private::write(&path, &bytes)
                })
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?
                .map_err(|e| SendError::Transient(e.to_string()))
            }
        }
    }
}

/// Files only their owner may read: folders 0700, files 0600 (on Unix).
pub mod private {
    use std::io::Write;
    use std::path::Path;

    /// Creates `folder` (and its parents) readable only by its owner.
    pub fn create_dir(folder: &Path) -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(folder)
    }

    /// Writes `bytes` to `path` (replacing it) readable only by its owner.
    pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path)?.write_all(bytes)
    }

    /// Whether anyone but the owner may read or write `path`.
    #[cfg(unix)]
    pub fn is_loose(path: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }

    /// Whether anyone but the owner may read or write `path`.
    #[cfg(not(unix))]
    pub fn is_loose(_: &Path) -> bool {
        false
    }

    /// Makes an existing file readable only by its owner.
    pub fn restrict(path: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }
}
