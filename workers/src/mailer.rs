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
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
                tokio::fs::write(folder.join(format!("{file_name}.eml")), message.formatted())
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))
            }
        }
    }
}
