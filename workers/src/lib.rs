//! Roster's background work: invitation and password-reset emails over SMTP
//! (two senders over one mailer), and invitation expiry recorded at the deadline. Each worker runs in one instance at a time (a
//! PostgreSQL advisory lock), exposes a `step` so tests drive it without sleeping,
//! and has idempotent effects: emails carry a Message-ID derived from their send,
//! and expiring an invitation that was resent or already closed records nothing.

pub mod email;
pub mod error;
pub mod expiry;
pub mod mailer;
pub mod metrics;
pub mod template;

pub use email::{EmailStep, EmailWorker, InvitationSender, Postage, ResetSender};
pub use error::WorkerError;
pub use expiry::{ExpiryStep, ExpiryWorker};
pub use mailer::{Mailer, SendError};
pub use metrics::WorkerMetrics;
