//! The invitation sender. It follows the log from its own checkpoint; for each
//! `UserInvited` and `InvitationResent` it sends one email — unless the send was
//! cancelled, superseded by a resend or accepted before the sender got to it —
//! and records the outcome as `InvitationEmailSent` or `InvitationEmailFailed`.
//!
//! At least once, with an idempotent effect: the checkpoint moves only after the
//! outcome is recorded, so a crash in between sends that one message again, with
//! the same Message-ID (derived from the send's id), which receiving servers and
//! clients use to drop the duplicate; recording it as sent twice records nothing
//! the second time. Transient failures are retried with exponential backoff and
//! jitter up to a limit; permanent ones stop at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use roster_commands::{correlation, Handler, OrgAggregate};
use roster_domain::organization::{Actor, Envelope, InvitationStatus, OrgCommand, Organization};
use roster_domain::{
    decode, AccountRole, InvitationId, MultiRole, OrgEvent, OrgId, Role, SendId, SingleRole,
};
use roster_eventstore::{Clock, EventStore, Metadata, Position, RecordedEvent, Source};
use roster_storage::email_retries::{self as retries, Retry};
use roster_storage::follower::{self, Backoff, Follower, Progress, StepError};
use roster_storage::{checkpoints, Db};
use tokio::sync::watch;

use super::{EmailStep, Postage};
use crate::error::WorkerError;
use crate::mailer::SendError;
use crate::metrics::WorkerMetrics;
use crate::template::{self, InvitationMail};

/// Its follower name and checkpoint (the name the one sender of both kinds of
/// email had, so an upgraded instance carries on where it stood).
const NAME: &str = "worker.email";

/// Events read per step.
const BATCH: usize = 200;

/// Sends in flight at once: each waits mostly on the SMTP server and on its
/// outcome's commit, so several overlap (lettre's pool keeps up to ten SMTP
/// connections open and reuses them).
const SENDS_AT_ONCE: usize = 8;

/// Tallies of one step (sends in flight count at once).
#[derive(Debug, Default)]
struct Tally {
    sent: AtomicUsize,
    skipped: AtomicUsize,
    failed: AtomicUsize,
    retrying: AtomicUsize,
}

impl Tally {
    fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// Due retries handled per step, and at most this many of one organization's.
const RETRIES_PER_STEP: (usize, usize) = (20, 2);

/// The invitation sender.
pub struct InvitationSender {
    db: Db,
    store: Arc<dyn EventStore>,
    orgs: Arc<Handler<OrgAggregate>>,
    clock: Arc<dyn Clock>,
    postage: Arc<Postage>,
    /// Attempts before a transient failure is given up on.
    pub max_attempts: u32,
    /// Whether the last step left work waiting (a full batch, or as many
    /// retries as a step takes): the runtime steps again at once only then,
    /// and otherwise waits for the log to move, so a busy log costs one read
    /// per batch rather than one more per step.
    more: AtomicBool,
}

/// What became of one attempt to send, before it is recorded.
enum Delivery {
    /// Accepted by the SMTP server, under this Message-ID.
    Sent(String),
    /// Not sent: the send was cancelled, superseded, accepted or has expired.
    Skipped,
    /// Refused for good, for this reason.
    Failed(String),
    /// A transient failure, with the server's reason.
    Transient(String),
}

/// The metadata of an outcome the worker records on behalf of `cause`.
fn outcome_metadata(cause: Option<correlation::Cause>) -> Metadata {
    Metadata {
        actor: Some("email-worker".into()),
        source: Source::Worker,
        causation_id: cause.map(|c| c.event_id),
        correlation_id: cause.and_then(|c| c.correlation_id),
        ..Metadata::default()
    }
}

/// An invitation email ready to go, read from the organization's state.
struct Draft {
    mail: InvitationMail,
    email: String,
    full_name: String,
    org_name: String,
}

impl InvitationSender {
    /// A sender over `postage`, recording outcomes through `orgs`.
    pub fn new(
        db: Db,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
        postage: Arc<Postage>,
    ) -> Self {
        Self {
            db,
            store,
            orgs,
            clock,
            postage,
            max_attempts: 6,
            more: AtomicBool::new(false),
        }
    }

    /// The position of the last event handled.
    pub async fn position(&self) -> Result<Position, WorkerError> {
        Ok(checkpoints::position(&self.db, NAME).await?)
    }

    /// Handles the next events after the checkpoint: up to [`SENDS_AT_ONCE`]
    /// sends at a time; then records their outcomes, one append per
    /// organization (each event keeping its own cause), and moves the
    /// checkpoint once, past every send up to the first whose outcome could not
    /// be recorded (or past the whole batch). A transient failure is recorded
    /// for a later retry; an event that cannot be read ends the step there with
    /// [`WorkerError::Undecodable`], and the next step stops there again.
    pub async fn step(&self) -> Result<EmailStep, WorkerError> {
        let tally = Tally::default();
        let from = self.position().await?;
        let events = self.store.read_all(from, BATCH).await?;
        let mut sends = Vec::new();
        let mut unreadable = None;
        // Where the checkpoint may go once every send before it is handled.
        let mut reach = from;
        for recorded in &events {
            match send_of(recorded) {
                Ok(Some((org, invitation, send))) => sends.push((
                    recorded.global_position,
                    Some(correlation::Cause {
                        event_id: recorded.event_id,
                        correlation_id: recorded.metadata.correlation_id,
                    }),
                    Retry {
                        send_id: send,
                        org_id: org,
                        invitation_id: invitation,
                        attempts: 1,
                    },
                )),
                Ok(None) => {}
                Err(e) => {
                    unreadable = Some(e);
                    break;
                }
            }
            reach = recorded.global_position;
        }
        let (handled, failed) = self.attempt(sends, &tally).await;
        if let Some((position, _)) = handled.iter().find(|(_, done)| !done) {
            // Sends after this one were handled too; the next step sends
            // them again (at least once, under the same Message-ID).
            reach = reach.min(Position(position.0.saturating_sub(1))).max(from);
        }
        let failure = unreadable.or(failed);
        if reach > from {
            self.advance(reach).await?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let (limit, per_org) = RETRIES_PER_STEP;
        let due = retries::due(&self.db, self.clock.now(), limit, per_org).await?;
        let retried = !due.is_empty();
        self.more.store(
            events.len() >= BATCH || due.len() >= limit,
            Ordering::Relaxed,
        );
        let again = due
            .into_iter()
            .map(|retry| {
                let retry = Retry {
                    attempts: retry.attempts + 1,
                    ..retry
                };
                (Position::START, None, retry)
            })
            .collect();
        if let (_, Some(e)) = self.attempt(again, &tally).await {
            return Err(e);
        }
        if events.is_empty() && !retried {
            return Ok(EmailStep::Idle {
                next_retry: retries::next_due(&self.db).await?,
            });
        }
        Ok(EmailStep::Progressed {
            sent: Tally::get(&tally.sent),
            skipped: Tally::get(&tally.skipped),
            failed: Tally::get(&tally.failed),
            retrying: Tally::get(&tally.retrying),
        })
    }

    /// Sends `sends` ([`SENDS_AT_ONCE`] at a time), records their outcomes in
    /// one append per organization, then keeps or drops their retries. Answers
    /// each send's position and whether it was handled, in the order given,
    /// and the first failure.
    async fn attempt(
        &self,
        sends: Vec<(Position, Option<correlation::Cause>, Retry)>,
        tally: &Tally,
    ) -> (Vec<(Position, bool)>, Option<WorkerError>) {
        // Each organization is read up to the log's head once per batch; the
        // sends then look at its cached state (a send cancelled a moment ago,
        // even on another instance, is skipped, not mailed).
        let mut orgs: Vec<OrgId> = sends.iter().map(|(_, _, r)| r.org_id).collect();
        orgs.sort_unstable();
        orgs.dedup();
        for org in orgs {
            if let Err(e) = self.orgs.inspect(org, |_| ()).await {
                let none = sends.iter().map(|(p, _, _)| (*p, false)).collect();
                return (none, Some(e.into()));
            }
        }
        let delivered: Vec<_> = futures::stream::iter(sends)
            .map(|(position, cause, retry)| async move {
                let delivery = self
                    .deliver(retry.org_id, retry.invitation_id, retry.send_id)
                    .await;
                (position, cause, retry, delivery)
            })
            .buffered(SENDS_AT_ONCE)
            .collect()
            .await;
        // What to record of each, grouped by organization in batch order.
        let mut by_org: Vec<(OrgId, Vec<(OrgCommand, Metadata)>)> = Vec::new();
        for (_, cause, retry, delivery) in &delivered {
            let Ok(delivery) = delivery else { continue };
            let Some(command) = self.outcome(retry, delivery) else {
                continue;
            };
            let metadata = outcome_metadata(*cause);
            match by_org.iter_mut().find(|(org, _)| *org == retry.org_id) {
                Some((_, commands)) => commands.push((command, metadata)),
                None => by_org.push((retry.org_id, vec![(command, metadata)])),
            }
        }
        let mut unrecorded: Vec<OrgId> = Vec::new();
        let mut failure = None;
        for (org, commands) in by_org {
            let envelopes: Vec<Envelope> = commands
                .iter()
                .map(|(command, _)| Envelope {
                    actor: Actor::System,
                    command: command.clone(),
                })
                .collect();
            let each: Vec<(&Envelope, Option<&Metadata>)> = envelopes
                .iter()
                .zip(commands.iter().map(|(_, m)| Some(m)))
                .collect();
            match self
                .orgs
                .execute_each(org, &each, &outcome_metadata(None))
                .await
            {
                Ok((_, refused)) => {
                    for (k, refusal) in refused {
                        // The log does not know the send: there is nothing
                        // to record, and nothing is lost by going on.
                        tracing::warn!(%org, command = ?envelopes[k].command, %refusal, "an email outcome was refused");
                    }
                }
                Err(e) => {
                    unrecorded.push(org);
                    failure.get_or_insert(WorkerError::from(e));
                }
            }
        }
        let mut handled = Vec::with_capacity(delivered.len());
        let mut settled = Vec::new();
        for (position, _, retry, delivery) in delivered {
            let done = match delivery {
                Err(e) => {
                    failure.get_or_insert(e);
                    false
                }
                Ok(_) if unrecorded.contains(&retry.org_id) => false,
                Ok(delivery) => match self.settle(retry, delivery, tally).await {
                    Ok(forget) => {
                        settled.extend(forget);
                        true
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                        false
                    }
                },
            };
            handled.push((position, done));
        }
        if let Err(e) = retries::forget(&self.db, &settled).await {
            // The outcomes are recorded, so the checkpoint may pass them. Only a
            // send that failed before has a retry to leave behind; when due it
            // is sent again (at least once, as after a crash). The step fails
            // so the runtime backs off and the operator sees it.
            failure.get_or_insert(e.into());
        }
        (handled, failure)
    }

    async fn advance(&self, to: Position) -> Result<(), WorkerError> {
        Ok(checkpoints::advance(&self.db, NAME, to, self.clock.now()).await?)
    }

    /// The command recording `delivery`, if it is one the log keeps.
    fn outcome(&self, retry: &Retry, delivery: &Delivery) -> Option<OrgCommand> {
        let (invitation_id, send_id) = (retry.invitation_id, retry.send_id);
        match delivery {
            Delivery::Skipped => None,
            Delivery::Sent(message_id) => Some(OrgCommand::RecordEmailSent {
                invitation_id,
                send_id,
                message_id: message_id.clone(),
            }),
            Delivery::Failed(reason) => Some(OrgCommand::RecordEmailFailed {
                invitation_id,
                send_id,
                reason: reason.clone(),
                permanent: true,
            }),
            Delivery::Transient(reason) => {
                let give_up = retry.attempts >= self.max_attempts;
                Some(OrgCommand::RecordEmailFailed {
                    invitation_id,
                    send_id,
                    reason: if give_up {
                        format!("gave up after {} attempts: {reason}", retry.attempts)
                    } else {
                        reason.clone()
                    },
                    permanent: give_up,
                })
            }
        }
    }

    /// Counts a recorded attempt and schedules its next try when it gets
    /// one; answers the send when its retry (if any) is to be forgotten.
    async fn settle(
        &self,
        retry: Retry,
        delivery: Delivery,
        tally: &Tally,
    ) -> Result<Option<SendId>, WorkerError> {
        match delivery {
            Delivery::Sent(_) => {
                Tally::bump(&tally.sent);
                WorkerMetrics::bump(&self.postage.metrics.emails_sent);
            }
            Delivery::Skipped => Tally::bump(&tally.skipped),
            Delivery::Failed(_) => {
                Tally::bump(&tally.failed);
                WorkerMetrics::bump(&self.postage.metrics.emails_failed);
            }
            Delivery::Transient(_) => {
                if retry.attempts >= self.max_attempts {
                    Tally::bump(&tally.failed);
                    WorkerMetrics::bump(&self.postage.metrics.emails_failed);
                } else {
                    Tally::bump(&tally.retrying);
                    WorkerMetrics::bump(&self.postage.metrics.email_retries);
                    let due_at = self.clock.now()
                        + chrono::Duration::from_std(SEND_BACKOFF.delay(retry.attempts))
                            .unwrap_or_else(|_| chrono::Duration::minutes(5));
                    retries::schedule(&self.db, retry, due_at).await?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(retry.send_id))
    }

    async fn deliver(
        &self,
        org: OrgId,
        invitation: InvitationId,
        send: SendId,
    ) -> Result<Delivery, WorkerError> {
        let now = self.clock.now();
        let postage = &self.postage;
        let draft = self
            .orgs
            .inspect_cached(org, |state| {
                let state = state?;
                let inv = state.invitations.get(&invitation)?;
                let current = inv.status == InvitationStatus::Pending
                    && inv.sends.last() == Some(&send)
                    && now < inv.expires_at;
                if !current {
                    return None;
                }
                let token = postage.key.invitation_token(invitation, send);
                Some(Draft {
                    mail: InvitationMail {
                        name: inv.full_name.to_string(),
                        org: state.name.to_string(),
                        inviter: match inv.invited_by {
                            Actor::User(u) => state
                                .members
                                .get(&u)
                                .map_or_else(|| "An owner".to_owned(), |m| m.full_name.to_string()),
                            Actor::System => "The portal team".to_owned(),
                            Actor::ApiKey(_) => format!("The {} team", state.name),
                        },
                        role: role_words(state, &inv.role),
                        link: format!("{}/invitations/{}", postage.public_url, token.expose()),
                        expires: inv.expires_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    },
                    email: inv.email.as_str().to_owned(),
                    full_name: inv.full_name.to_string(),
                    org_name: state.name.to_string(),
                })
            })
            .await?;
        let Some(draft) = draft else {
            return Ok(Delivery::Skipped);
        };
        let message_id = format!("<invitation-{send}@{}>", postage.host());
        let to: Mailbox = match draft.email.parse() {
            Ok(m) => m,
            Err(e) => return Ok(Delivery::Failed(format!("address not usable: {e}"))),
        };
        let message = Message::builder()
            .from(postage.from.clone())
            .to(Mailbox::new(Some(draft.full_name), to.email))
            .subject(format!(
                "You are invited to join {} on the partner portal",
                draft.org_name
            ))
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                template::text(&draft.mail),
                template::html(&draft.mail),
            ))?;
        if let crate::mailer::Mailer::Outbox(folder) = &postage.mailer {
            // The link is a credential: the log says where the email is, never the link.
            tracing::info!(file = %folder.join(format!("invitation-{send}.eml")).display(), "invitation email written to the outbox (readable only by this user)");
        }
        match postage
            .mailer
            .send(message, &format!("invitation-{send}"))
            .await
        {
            Ok(()) => Ok(Delivery::Sent(message_id)),
            Err(SendError::Permanent(reason)) => Ok(Delivery::Failed(reason)),
            Err(SendError::Transient(reason)) => Ok(Delivery::Transient(reason)),
        }
    }

    /// Runs until `shutdown` on the shared follower runtime.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let db = self.db.clone();
        let changes = self.store.changes();
        follower::run(self, db, changes, shutdown).await;
    }
}

/// Longest an idle sender waits for a change signal before looking anyway.
const IDLE_POLL: Duration = Duration::from_secs(5);

#[async_trait::async_trait]
impl Follower for InvitationSender {
    fn name(&self) -> &str {
        NAME
    }

    async fn step(&self) -> Result<Progress, StepError> {
        let step = InvitationSender::step(self).await?;
        self.postage.metrics.recovered(NAME);
        Ok(match step {
            EmailStep::Idle { next_retry } => Progress::Idle {
                wake_after: next_retry
                    .map(|due| (due - self.clock.now()).to_std().unwrap_or_default())
                    .map_or(IDLE_POLL, |until| until.min(IDLE_POLL)),
            },
            EmailStep::Progressed { .. } if self.more.load(Ordering::Relaxed) => Progress::Busy,
            // A retry just scheduled is due in a second or more.
            EmailStep::Progressed { retrying, .. } => Progress::Idle {
                wake_after: if retrying > 0 {
                    SEND_BACKOFF.base
                } else {
                    IDLE_POLL
                },
            },
        })
    }

    async fn failed(&self, error: &StepError) {
        self.postage.metrics.stalled(NAME, error.as_ref());
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
fn send_of(recorded: &RecordedEvent) -> Result<Option<(OrgId, InvitationId, SendId)>, WorkerError> {
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
