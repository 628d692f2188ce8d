//! Email the log asks for, sent by two followers over one mailer:
//!
//! * [`InvitationSender`] mails each invitation and resend, records the outcome in
//!   the organization's log and retries transient failures; an invitation that
//!   could not be mailed shows as such to its owners.
//! * [`ResetSender`] mails password-reset links, once, while they are valid; a
//!   failure is only logged and counted, since the person can ask again.
//!
//! Each follows the log from a checkpoint of its own, so a mail server that is
//! slow for one kind of email never holds back the other. [`EmailWorker`] runs the
//! pair as one unit for the server and the tests.

mod invitations;
mod resets;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use roster_commands::tokens::TokenKey;
use roster_commands::{Handler, OrgAggregate};
use roster_eventstore::{Clock, EventStore, Position};
use roster_storage::Db;
use tokio::sync::watch;

pub use invitations::InvitationSender;
pub use resets::ResetSender;

use crate::error::WorkerError;
use crate::mailer::Mailer;
use crate::metrics::WorkerMetrics;

/// What both senders share: the transport, the sender's address, the base of the
/// links and the key that signs them, and the counters they bump.
pub struct Postage {
    /// The transport.
    pub mailer: Mailer,
    /// The `From:` address.
    pub from: Mailbox,
    /// Links point here (no trailing slash).
    pub public_url: String,
    /// Signs the links' tokens.
    pub key: TokenKey,
    /// Counters for `/metrics`.
    pub metrics: Arc<WorkerMetrics>,
}

impl Postage {
    /// The host part of Message-IDs: the public URL's.
    pub fn host(&self) -> &str {
        self.public_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("roster.local")
    }
}

/// What one step of the senders did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailStep {
    /// Nothing new in the log and no retry due.
    Idle {
        /// When the next retry is due, if one is waiting.
        next_retry: Option<DateTime<Utc>>,
    },
    /// Sends were handled: new ones from the log and retries that were due.
    Progressed {
        /// Emails the server accepted.
        sent: usize,
        /// Sends no longer current (cancelled, superseded, accepted, expired).
        skipped: usize,
        /// Sends recorded as failed for good.
        failed: usize,
        /// Sends that failed for now and wait for their own retry time.
        retrying: usize,
    },
}

impl EmailStep {
    /// Whether the step did anything.
    pub fn progressed(&self) -> bool {
        matches!(self, EmailStep::Progressed { .. })
    }
}

/// Both senders, built from one configuration and run together.
pub struct EmailWorker {
    /// Invitation emails.
    pub invitations: InvitationSender,
    /// Password-reset emails.
    pub resets: ResetSender,
}

impl EmailWorker {
    /// Senders mailing through `mailer`, linking to `public_url`, from `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
        mailer: Mailer,
        key: TokenKey,
        public_url: &str,
        from: Mailbox,
    ) -> Self {
        Self::with_metrics(
            db,
            store,
            orgs,
            clock,
            Postage {
                mailer,
                from,
                public_url: public_url.trim_end_matches('/').to_owned(),
                key,
                metrics: Arc::default(),
            },
        )
    }

    /// Senders sharing `postage` (and so its counters).
    pub fn with_metrics(
        db: Db,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
        postage: Postage,
    ) -> Self {
        let postage = Arc::new(postage);
        Self {
            invitations: InvitationSender::new(
                db.clone(),
                store.clone(),
                orgs,
                clock.clone(),
                postage.clone(),
            ),
            resets: ResetSender::new(db, store, clock, postage),
        }
    }

    /// Steps both senders once; the invitations' tallies and retry time.
    pub async fn step(&self) -> Result<EmailStep, WorkerError> {
        let invitations = self.invitations.step().await?;
        let resets = self.resets.step().await?;
        Ok(match (invitations, resets) {
            (EmailStep::Idle { next_retry }, false) => EmailStep::Idle { next_retry },
            (EmailStep::Idle { .. }, true) => EmailStep::Progressed {
                sent: 0,
                skipped: 0,
                failed: 0,
                retrying: 0,
            },
            (progressed, _) => progressed,
        })
    }

    /// The position both senders have passed.
    pub async fn position(&self) -> Result<Position, WorkerError> {
        Ok(self
            .invitations
            .position()
            .await?
            .min(self.resets.position().await?))
    }

    /// Runs both senders until `shutdown` on the shared follower runtime.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        tokio::join!(
            self.invitations.run(shutdown.clone()),
            self.resets.run(shutdown)
        );
    }
}
