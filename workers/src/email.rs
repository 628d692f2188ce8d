//! The invitation email sender. It follows the log from its own checkpoint; for
//! each `UserInvited` and `InvitationResent` it sends one email — unless the send
//! was cancelled, superseded by a resend or accepted before the worker got to it —
//! and records the outcome as `InvitationEmailSent` or `InvitationEmailFailed`.
//!
//! At least once, with an idempotent effect: the checkpoint moves only after the
//! outcome is recorded, so a crash in between sends that one message again, with
//! the same Message-ID (derived from the send's id), which receiving servers and
//! clients use to drop the duplicate. Transient failures are retried with
//! exponential backoff and jitter up to a limit; permanent ones stop at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use roster_commands::tokens::TokenKey;
use roster_commands::{correlation, Handler, OrgAggregate};
use roster_domain::organization::{Actor, Envelope, InvitationStatus, OrgCommand, Organization};
use roster_domain::{
    decode, AccountRole, InvitationId, MultiRole, OrgEvent, OrgId, Role, SendId, SingleRole,
};
use roster_eventstore::{Clock, EventStore, Metadata, Position, Source};
use roster_projections::db::{pos_i64, time_text};
use roster_projections::runtime::{self, Backoff, Follower, Progress, StepError};
use roster_projections::{exec, fetch, ReadDb};
use tokio::sync::watch;

use crate::error::WorkerError;

use crate::mailer::{Mailer, SendError};
use crate::retries;
use crate::template::{self, InvitationMail};

const CHECKPOINT: &str = "worker.email";

/// What one step did.
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

/// Tallies of one step.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    skipped: usize,
    failed: usize,
    retrying: usize,
}

/// Due retries handled per step, and at most this many of one organization's.
const RETRIES_PER_STEP: (usize, usize) = (20, 2);

/// The email worker.
pub struct EmailWorker {
    db: ReadDb,
    store: Arc<dyn EventStore>,
    orgs: Arc<Handler<OrgAggregate>>,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
    key: TokenKey,
    public_url: String,
    from: Mailbox,
    /// Attempts before a transient failure is given up on.
    pub max_attempts: u32,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::WorkerMetrics>,
}

enum Delivery {
    Sent,
    Skipped,
    Failed,
    /// A transient failure, with the server's reason.
    Transient(String),
}

impl EmailWorker {
    /// A worker sending through `mailer`, linking to `public_url`, from `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: ReadDb,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
        mailer: Mailer,
        key: TokenKey,
        public_url: &str,
        from: Mailbox,
    ) -> Self {
        Self {
            db,
            store,
            orgs,
            clock,
            mailer,
            key,
            public_url: public_url.trim_end_matches('/').to_owned(),
            from,
            max_attempts: 6,
            metrics: Arc::default(),
        }
    }

    /// The position of the last event handled.
    pub async fn position(&self) -> Result<Position, WorkerError> {
        self.checkpoint().await
    }

    async fn checkpoint(&self) -> Result<Position, WorkerError> {
        let row = fetch!(
            db & self.db,
            fetch_optional,
            (i64,),
            "SELECT position FROM worker_checkpoints WHERE name = $1",
            CHECKPOINT
        )?;
        Ok(Position(
            row.map_or(0, |(p,)| u64::try_from(p).unwrap_or(0)),
        ))
    }

    async fn advance(&self, to: Position) -> Result<(), WorkerError> {
        let mut tx = self.db.begin().await?;
        exec!(
            &mut tx,
            "INSERT INTO worker_checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            CHECKPOINT,
            pos_i64(to),
            time_text(self.clock.now())
        )?;
        Ok(tx.commit().await?)
    }

    /// Handles the next events after the checkpoint (up to 50), moving the
    /// checkpoint past each one handled. A transient failure is recorded for a
    /// later retry (see `retries`); an event that cannot be read ends the step
    /// there with [`WorkerError::Undecodable`], and the next step stops there again.
    pub async fn step(&self) -> Result<EmailStep, WorkerError> {
        let mut tally = Tally::default();
        let from = self.checkpoint().await?;
        let events = self.store.read_all(from, 50).await?;
        let new_events = !events.is_empty();
        for recorded in &events {
            let cause = correlation::Cause {
                event_id: recorded.event_id,
                correlation_id: recorded.metadata.correlation_id,
            };
            correlation::caused_by(cause, self.handle(recorded, &mut tally)).await?;
            self.advance(recorded.global_position).await?;
        }
        let (limit, per_org) = RETRIES_PER_STEP;
        let due = retries::due(&self.db, self.clock.now(), limit, per_org).await?;
        let retried = !due.is_empty();
        for retry in due {
            let delivery = self
                .deliver(retry.org_id, retry.invitation_id, retry.send_id)
                .await?;
            let retry = retries::Retry {
                attempts: retry.attempts + 1,
                ..retry
            };
            self.settle(retry, delivery, &mut tally).await?;
        }
        if !new_events && !retried {
            return Ok(EmailStep::Idle {
                next_retry: retries::next_due(&self.db).await?,
            });
        }
        Ok(EmailStep::Progressed {
            sent: tally.sent,
            skipped: tally.skipped,
            failed: tally.failed,
            retrying: tally.retrying,
        })
    }

    /// The host part of Message-IDs: the public URL's.
    fn host(&self) -> &str {
        self.public_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("roster.local")
    }

    /// Sends a password reset link, once, while it is valid. A failure is logged
    /// and counted; the person can ask for a new link.
    async fn send_reset(&self, reset: ResetRequest) -> Result<(), WorkerError> {
        if self.clock.now() >= reset.expires_at {
            return Ok(());
        }
        let token = self.key.reset_token(reset.user_id, reset.reset_id);
        let link = format!(
            "{}/reset-password/{}/{}",
            self.public_url,
            reset.user_id,
            token.expose()
        );
        let to: Mailbox = match reset.email.parse() {
            Ok(to) => to,
            Err(e) => {
                tracing::warn!(error = %e, "a reset address is not usable");
                return Ok(());
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("Reset your password for the partner portal")
            .message_id(Some(format!("<reset-{}@{}>", reset.reset_id, self.host())))
            .body(format!(
                "Someone asked to reset the password of this account.\n\n\
                 Choose a new password here (the link works once, until {}):\n{link}\n\n\
                 If it was not you, ignore this email: your password stays as it is.\n",
                reset.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            ))?;
        match self
            .mailer
            .send(message, &format!("reset-{}", reset.reset_id))
            .await
        {
            Ok(()) => crate::metrics::WorkerMetrics::bump(&self.metrics.emails_sent),
            Err(e) => {
                crate::metrics::WorkerMetrics::bump(&self.metrics.emails_failed);
                tracing::warn!(error = ?e, "a password reset email could not be sent");
            }
        }
        Ok(())
    }

    /// Sends what one event of the log asks for: a reset link, or an invitation.
    async fn handle(
        &self,
        recorded: &roster_eventstore::RecordedEvent,
        tally: &mut Tally,
    ) -> Result<(), WorkerError> {
        if let Some(reset) = reset_of(recorded)? {
            self.send_reset(reset).await?;
        }
        if let Some((org, invitation, send)) = send_of(recorded)? {
            let delivery = self.deliver(org, invitation, send).await?;
            let retry = retries::Retry {
                send_id: send,
                org_id: org,
                invitation_id: invitation,
                attempts: 1,
            };
            self.settle(retry, delivery, tally).await?;
        }
        Ok(())
    }

    /// Records what became of one attempt of a send, and keeps or drops its retry.
    async fn settle(
        &self,
        retry: retries::Retry,
        delivery: Delivery,
        tally: &mut Tally,
    ) -> Result<(), WorkerError> {
        use crate::metrics::WorkerMetrics;
        match delivery {
            Delivery::Sent => {
                tally.sent += 1;
                WorkerMetrics::bump(&self.metrics.emails_sent);
            }
            Delivery::Skipped => tally.skipped += 1,
            Delivery::Failed => {
                tally.failed += 1;
                WorkerMetrics::bump(&self.metrics.emails_failed);
            }
            Delivery::Transient(reason) => {
                let give_up = retry.attempts >= self.max_attempts;
                let reason = if give_up {
                    format!("gave up after {} attempts: {reason}", retry.attempts)
                } else {
                    reason
                };
                self.record(
                    retry.org_id,
                    OrgCommand::RecordEmailFailed {
                        invitation_id: retry.invitation_id,
                        send_id: retry.send_id,
                        reason,
                        permanent: give_up,
                    },
                )
                .await?;
                if give_up {
                    tally.failed += 1;
                    WorkerMetrics::bump(&self.metrics.emails_failed);
                } else {
                    tally.retrying += 1;
                    WorkerMetrics::bump(&self.metrics.email_retries);
                    let due_at = self.clock.now()
                        + chrono::Duration::from_std(SEND_BACKOFF.delay(retry.attempts))
                            .unwrap_or_else(|_| chrono::Duration::minutes(5));
                    return retries::schedule(&self.db, retry, due_at).await;
                }
            }
        }
        retries::forget(&self.db, retry.send_id).await
    }

    async fn record(&self, org: OrgId, command: OrgCommand) -> Result<(), WorkerError> {
        let cause = correlation::current_cause();
        let metadata = Metadata {
            actor: Some("email-worker".into()),
            source: Source::Worker,
            causation_id: cause.map(|c| c.event_id),
            correlation_id: cause.and_then(|c| c.correlation_id),
            ..Metadata::default()
        };
        self.orgs
            .execute(
                org,
                &Envelope {
                    actor: Actor::System,
                    command,
                },
                &metadata,
            )
            .await?;
        Ok(())
    }

    async fn deliver(
        &self,
        org: OrgId,
        invitation: InvitationId,
        send: SendId,
    ) -> Result<Delivery, WorkerError> {
        let (_, state) = self.orgs.load(org).await?;
        let Some(state) = state else {
            return Ok(Delivery::Skipped);
        };
        let Some(inv) = state.invitations.get(&invitation) else {
            return Ok(Delivery::Skipped);
        };
        let current = inv.status == InvitationStatus::Pending
            && inv.sends.last() == Some(&send)
            && self.clock.now() < inv.expires_at;
        if !current {
            return Ok(Delivery::Skipped);
        }
        let token = self.key.invitation_token(invitation, send);
        let mail = InvitationMail {
            name: inv.full_name.to_string(),
            org: state.name.to_string(),
            inviter: match inv.invited_by {
                Actor::User(u) => state
                    .members
                    .get(&u)
                    .map_or_else(|| "An owner".to_owned(), |m| m.full_name.to_string()),
                Actor::System => "The portal team".to_owned(),
            },
            role: role_words(&state, &inv.role),
            link: format!("{}/invitations/{}", self.public_url, token.expose()),
            expires: inv.expires_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        };
        let message_id = format!("<invitation-{send}@{}>", self.host());
        let to: Mailbox = match inv.email.as_str().parse() {
            Ok(m) => m,
            Err(e) => {
                self.record(
                    org,
                    OrgCommand::RecordEmailFailed {
                        invitation_id: invitation,
                        send_id: send,
                        reason: format!("address not usable: {e}"),
                        permanent: true,
                    },
                )
                .await?;
                return Ok(Delivery::Failed);
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(inv.full_name.to_string()), to.email))
            .subject(format!(
                "You are invited to join {} on the partner portal",
                state.name
            ))
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                template::text(&mail),
                template::html(&mail),
            ))?;
        if let Mailer::Outbox(folder) = &self.mailer {
            // The link is a credential: the log says where the email is, never the link.
            tracing::info!(file = %folder.join(format!("invitation-{send}.eml")).display(), "invitation email written to the outbox (readable only by this user)");
        }
        match self
            .mailer
            .send(message, &format!("invitation-{send}"))
            .await
        {
            Ok(()) => {
                self.record(
                    org,
                    OrgCommand::RecordEmailSent {
                        invitation_id: invitation,
                        send_id: send,
                        message_id,
                    },
                )
                .await?;
                Ok(Delivery::Sent)
            }
            Err(SendError::Permanent(reason)) => {
                self.record(
                    org,
                    OrgCommand::RecordEmailFailed {
                        invitation_id: invitation,
                        send_id: send,
                        reason,
                        permanent: true,
                    },
                )
                .await?;
                Ok(Delivery::Failed)
            }
            Err(SendError::Transient(reason)) => Ok(Delivery::Transient(reason)),
        }
    }

    /// Runs until `shutdown` on the shared follower runtime.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let db = self.db.clone();
        let changes = self.store.changes();
        runtime::run(self, db, changes, shutdown).await;
    }
}

/// Longest an idle sender waits for a change signal before looking anyway.
const IDLE_POLL: Duration = Duration::from_secs(5);

#[async_trait::async_trait]
impl Follower for EmailWorker {
    fn name(&self) -> &str {
        CHECKPOINT
    }

    async fn step(&self) -> Result<Progress, StepError> {
        Ok(match EmailWorker::step(self).await? {
            EmailStep::Idle { next_retry } => Progress::Idle {
                wake_after: next_retry
                    .map(|due| (due - self.clock.now()).to_std().unwrap_or_default())
                    .map_or(IDLE_POLL, |until| until.min(IDLE_POLL)),
            },
            EmailStep::Progressed { .. } => Progress::Busy,
        })
    }
}

/// 1 s, 2 s, 4 s … capped at 5 minutes, with jitter, between tries of one send.
const SEND_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(300),
};

fn role_words(org: &Organization, role: &Role) -> String {
    match role {
        Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => "owner".to_owned(),
        Role::Single(SingleRole::Admin) => "admin".to_owned(),
        Role::Single(SingleRole::Standard) => "standard user".to_owned(),
        Role::Multi(MultiRole::Contributor(accounts)) => {
            let parts: Vec<String> = accounts
                .iter()
                .map(|(a, r)| {
                    let name = org
                        .accounts
                        .get(a)
                        .map_or_else(|| a.to_string(), |acc| acc.name.to_string());
                    let r = match r {
                        AccountRole::Admin => "admin",
                        AccountRole::Standard => "standard",
                    };
                    format!("{r} on {name}")
                })
                .collect();
            format!("contributor ({})", parts.join(", "))
        }
    }
}

/// The send an event asks for: each `UserInvited` and `InvitationResent`. An
/// organization's event that cannot be read is an error, never skipped.
fn send_of(
    recorded: &roster_eventstore::RecordedEvent,
) -> Result<Option<(OrgId, InvitationId, SendId)>, WorkerError> {
    let Some(org) = recorded.stream_id.as_str().strip_prefix("org-") else {
        return Ok(None);
    };
    let org: OrgId = org.parse().map_err(|_| {
        WorkerError::undecodable(
            recorded,
            roster_domain::DecodeError::Malformed {
                event_type: recorded.event_type.clone(),
                reason: "the stream name holds no organization id".to_owned(),
            },
        )
    })?;
    match decode::<OrgEvent>(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    ) {
        Ok(OrgEvent::UserInvited(i)) => Ok(Some((org, i.invitation_id, i.send_id))),
        Ok(OrgEvent::InvitationResent(r)) => Ok(Some((org, r.invitation_id, r.send_id))),
        Ok(_) => Ok(None),
        Err(e) => Err(WorkerError::undecodable(recorded, e)),
    }
}

/// A password reset to email.
struct ResetRequest {
    user_id: roster_domain::UserId,
    email: String,
    reset_id: uuid::Uuid,
    expires_at: DateTime<Utc>,
}

/// The reset an identity's event asks for: each `PasswordResetRequested`.
fn reset_of(
    recorded: &roster_eventstore::RecordedEvent,
) -> Result<Option<ResetRequest>, WorkerError> {
    if !recorded.stream_id.as_str().starts_with("user-") {
        return Ok(None);
    }
    match decode::<roster_domain::user::UserEvent>(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    ) {
        Ok(roster_domain::user::UserEvent::PasswordResetRequested {
            user_id,
            email,
            reset_id,
            expires_at,
            ..
        }) => Ok(Some(ResetRequest {
            user_id,
            email: email.to_string(),
            reset_id,
            expires_at,
        })),
        Ok(_) => Ok(None),
        Err(e) => Err(WorkerError::undecodable(recorded, e)),
    }
}
