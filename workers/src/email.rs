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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use roster_commands::tokens::TokenKey;
use roster_commands::{Handler, OrgAggregate};
use roster_domain::organization::{Actor, Envelope, InvitationStatus, OrgCommand, Organization};
use roster_domain::{
    decode, AccountRole, InvitationId, MultiRole, OrgEvent, OrgId, Role, SendId, SingleRole,
};
use roster_eventstore::{Clock, EventStore, Metadata, Position, Source};
use roster_projections::db::{pos_i64, time_text};
use roster_projections::runner::{lead, sleep_or_stop};
use roster_projections::{exec, fetch, ReadDb};
use tokio::sync::watch;

use crate::mailer::{Mailer, SendError};
use crate::template::{self, InvitationMail};

const CHECKPOINT: &str = "worker.email";

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailStep {
    /// Nothing new in the log.
    Idle,
    /// Events were handled: this many emails sent, this many sends skipped.
    Progressed {
        /// Emails the server accepted.
        sent: usize,
        /// Sends no longer current (cancelled, superseded, accepted, expired).
        skipped: usize,
        /// Sends recorded as failed for good.
        failed: usize,
    },
    /// A transient failure: call again after this delay.
    RetryAfter(Duration),
}

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
    /// Transient failures so far per send (in memory: a restart starts counting anew).
    attempts: Mutex<HashMap<SendId, u32>>,
    /// Attempts before a transient failure is given up on.
    pub max_attempts: u32,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::WorkerMetrics>,
}

enum Delivery {
    Sent,
    Skipped,
    Failed,
    Retry(Duration),
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
            attempts: Mutex::new(HashMap::new()),
            max_attempts: 6,
            metrics: Arc::default(),
        }
    }

    /// The position of the last event handled.
    pub async fn position(&self) -> Result<Position, String> {
        self.checkpoint().await
    }

    async fn checkpoint(&self) -> Result<Position, String> {
        let row = fetch!(
            db & self.db,
            fetch_optional,
            (i64,),
            "SELECT position FROM worker_checkpoints WHERE name = $1",
            CHECKPOINT
        )
        .map_err(|e| e.to_string())?;
        Ok(Position(
            row.map_or(0, |(p,)| u64::try_from(p).unwrap_or(0)),
        ))
    }

    async fn advance(&self, to: Position) -> Result<(), String> {
        let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
        exec!(
            &mut tx,
            "INSERT INTO worker_checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            CHECKPOINT,
            pos_i64(to),
            time_text(self.clock.now())
        )
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// Handles the next events after the checkpoint (up to 50), stopping at a
    /// transient failure so the same send is tried again next time.
    pub async fn step(&self) -> Result<EmailStep, String> {
        let from = self.checkpoint().await?;
        let events = self
            .store
            .read_all(from, 50)
            .await
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            return Ok(EmailStep::Idle);
        }
        let (mut sent, mut skipped, mut failed) = (0, 0, 0);
        for recorded in &events {
            let send = match recorded
                .stream_id
                .as_str()
                .strip_prefix("org-")
                .map(str::parse::<OrgId>)
            {
                Some(Ok(org)) => match decode::<OrgEvent>(
                    &recorded.event_type,
                    recorded.schema_version,
                    &recorded.payload,
                ) {
                    Ok(OrgEvent::UserInvited(i)) => Some((org, i.invitation_id, i.send_id)),
                    Ok(OrgEvent::InvitationResent(r)) => Some((org, r.invitation_id, r.send_id)),
                    _ => None,
                },
                _ => None,
            };
            if let Some((org, invitation, send)) = send {
                match self.deliver(org, invitation, send).await? {
                    Delivery::Sent => {
                        sent += 1;
                        crate::metrics::WorkerMetrics::bump(&self.metrics.emails_sent);
                    }
                    Delivery::Skipped => skipped += 1,
                    Delivery::Failed => {
                        failed += 1;
                        crate::metrics::WorkerMetrics::bump(&self.metrics.emails_failed);
                    }
                    Delivery::Retry(after) => {
                        crate::metrics::WorkerMetrics::bump(&self.metrics.email_retries);
                        return Ok(EmailStep::RetryAfter(after));
                    }
                }
            }
            self.advance(recorded.global_position).await?;
        }
        Ok(EmailStep::Progressed {
            sent,
            skipped,
            failed,
        })
    }

    async fn record(&self, org: OrgId, command: OrgCommand) -> Result<(), String> {
        let metadata = Metadata {
            actor: Some("email-worker".into()),
            source: Source::Worker,
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
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn deliver(
        &self,
        org: OrgId,
        invitation: InvitationId,
        send: SendId,
    ) -> Result<Delivery, String> {
        let (_, state) = self.orgs.load(org).await.map_err(|e| e.to_string())?;
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
        let host = self
            .public_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("roster.local");
        let message_id = format!("<invitation-{send}@{host}>");
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
            ))
            .map_err(|e| e.to_string())?;
        if let Mailer::Outbox(folder) = &self.mailer {
            tracing::info!(link = %mail.link, outbox = %folder.display(), to = %inv.email, "invitation email written to the outbox");
        }
        match self
            .mailer
            .send(message, &format!("invitation-{send}"))
            .await
        {
            Ok(()) => {
                self.attempts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&send);
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
            Err(SendError::Transient(reason)) => {
                let n = {
                    let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
                    let n = attempts.entry(send).or_insert(0);
                    *n += 1;
                    *n
                };
                let give_up = n >= self.max_attempts;
                let reason = if give_up {
                    format!("gave up after {n} attempts: {reason}")
                } else {
                    reason
                };
                self.record(
                    org,
                    OrgCommand::RecordEmailFailed {
                        invitation_id: invitation,
                        send_id: send,
                        reason,
                        permanent: give_up,
                    },
                )
                .await?;
                if give_up {
                    Ok(Delivery::Failed)
                } else {
                    Ok(Delivery::Retry(backoff(n)))
                }
            }
        }
    }

    /// Runs until `shutdown`: leadership, then steps, waking on new events.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Some(_leader) = lead(&self.db, CHECKPOINT, &mut shutdown).await else {
            return;
        };
        let mut changes = self.store.changes();
        loop {
            if *shutdown.borrow() {
                return;
            }
            changes.mark_seen();
            let pause = match self.step().await {
                Ok(EmailStep::Progressed { .. }) => continue,
                Ok(EmailStep::Idle) => {
                    tokio::select! {
                        _ = changes.changed() => continue,
                        stop = sleep_or_stop(Duration::from_secs(5), &mut shutdown) => if stop { return } else { continue },
                    }
                }
                Ok(EmailStep::RetryAfter(d)) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "email step failed; retrying");
                    Duration::from_secs(1)
                }
            };
            if sleep_or_stop(pause, &mut shutdown).await {
                return;
            }
        }
    }
}

/// 1 s, 2 s, 4 s … capped at 5 minutes, plus up to 50 % jitter so many instances
/// retrying at once do not stampede the mail server.
fn backoff(attempt: u32) -> Duration {
    let base =
        Duration::from_secs(1u64 << attempt.saturating_sub(1).min(8)).min(Duration::from_secs(300));
    let mut r = [0u8; 2];
    let _ = getrandom::getrandom(&mut r);
    let jitter =
        u64::from(u16::from_le_bytes(r)) * (base.as_millis() as u64 / 2) / u64::from(u16::MAX);
    base + Duration::from_millis(jitter)
}

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

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        for attempt in 1..12 {
            let d = backoff(attempt);
            let base =
                Duration::from_secs(1u64 << (attempt - 1).min(8)).min(Duration::from_secs(300));
            assert!(
                d >= base && d <= base + base / 2,
                "attempt {attempt}: {d:?}"
            );
        }
    }
}
