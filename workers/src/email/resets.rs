//! The password-reset sender: for each `PasswordResetRequested` in the log it
//! mails the link once, while it is valid. A failed send is logged and counted,
//! never retried: the link is short-lived and the person can ask for another.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::Message;
use roster_domain::user::UserEvent;
use roster_domain::{decode, UserId};
use roster_eventstore::{Clock, EventStore, Position, RecordedEvent};
use roster_storage::follower::{self, Follower, Progress, StepError};
use roster_storage::{checkpoints, Db};
use tokio::sync::watch;

use super::Postage;
use crate::error::WorkerError;
use crate::metrics::WorkerMetrics;

/// Its follower name and checkpoint.
const NAME: &str = "worker.reset-email";

/// Events read per step.
const BATCH: usize = 200;

/// Longest an idle sender waits for a change signal before looking anyway.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// The password-reset sender.
pub struct ResetSender {
    db: Db,
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    postage: Arc<Postage>,
    /// Where this sender stands, and when that was last written down: most of
    /// the log is other streams' events, and writing the checkpoint after each
    /// look would be a commit beside every command (see [`WRITE_EVERY`]).
    progress: std::sync::Mutex<Option<(Position, std::time::Instant)>>,
    /// Whether the last step read a full batch: only then does the runtime
    /// step again at once rather than wait for the log to move.
    more: std::sync::atomic::AtomicBool,
}

/// How often the checkpoint is written while only other events pass by. A
/// restart reads those again and finds nothing to send; a step that sends
/// writes it at once.
const WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A password reset to email.
struct ResetRequest {
    user_id: UserId,
    email: String,
    reset_id: uuid::Uuid,
    expires_at: DateTime<Utc>,
}

impl ResetSender {
    /// A sender over `postage`.
    pub fn new(
        db: Db,
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        postage: Arc<Postage>,
    ) -> Self {
        Self {
            db,
            store,
            clock,
            postage,
            progress: std::sync::Mutex::new(None),
            more: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The position of the last event handled: the later of what this instance
    /// has handled and what is written down (another instance may have led
    /// meanwhile and gone further).
    pub async fn position(&self) -> Result<Position, WorkerError> {
        let stored = checkpoints::position(&self.db, NAME).await?;
        let handled = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(at, _)| at);
        Ok(handled.map_or(stored, |at| at.max(stored)))
    }

    /// Mails the resets among the next events after the checkpoint, then moves
    /// the checkpoint past them: written at once when a link was mailed (a crash
    /// in between mails those links again, under the same Message-ID), else at
    /// most every [`WRITE_EVERY`]. True when there were events.
    pub async fn step(&self) -> Result<bool, WorkerError> {
        let from = self.position().await?;
        let events = self.store.read_all(from, BATCH).await?;
        self.more
            .store(events.len() >= BATCH, std::sync::atomic::Ordering::Relaxed);
        let Some(last) = events.last().map(|e| e.global_position) else {
            return Ok(false);
        };
        let mut mailed = false;
        for recorded in &events {
            if let Some(reset) = reset_of(recorded)? {
                self.send(reset).await?;
                mailed = true;
            }
        }
        let written = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(_, at)| at);
        let now = std::time::Instant::now();
        let due = written.is_none_or(|at| now.duration_since(at) >= WRITE_EVERY);
        let written = if mailed || due {
            checkpoints::advance(&self.db, NAME, last, self.clock.now()).await?;
            now
        } else {
            written.unwrap_or(now)
        };
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = Some((last, written));
        Ok(true)
    }

    /// Sends one reset link while it is valid.
    async fn send(&self, reset: ResetRequest) -> Result<(), WorkerError> {
        if self.clock.now() >= reset.expires_at {
            return Ok(());
        }
        let postage = &self.postage;
        let token = postage.key.reset_token(reset.user_id, reset.reset_id);
        let link = format!(
            "{}/reset-password/{}/{}",
            postage.public_url,
            reset.user_id,
            token.expose()
        );
        let to: Mailbox = match reset.email.parse() {
            Ok(to) => to,
            Err(e) => {
                tracing::warn!(error = %e, "a reset address is not usable");
                WorkerMetrics::bump(&postage.metrics.emails_failed);
                return Ok(());
            }
        };
        let message = Message::builder()
            .from(postage.from.clone())
            .to(to)
            .subject("Reset your password for the partner portal")
            .message_id(Some(format!(
                "<reset-{}@{}>",
                reset.reset_id,
                postage.host()
            )))
            .body(format!(
                "Someone asked to reset the password of this account.\n\n\
                 Choose a new password here (the link works once, until {}):\n{link}\n\n\
                 If it was not you, ignore this email: your password stays as it is.\n",
                reset.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            ))?;
        match postage
            .mailer
            .send(message, &format!("reset-{}", reset.reset_id))
            .await
        {
            Ok(()) => WorkerMetrics::bump(&postage.metrics.emails_sent),
            Err(e) => {
                WorkerMetrics::bump(&postage.metrics.emails_failed);
                tracing::warn!(error = ?e, "a password reset email could not be sent");
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` on the shared follower runtime.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let db = self.db.clone();
        let changes = self.store.changes();
        follower::run(self, db, changes, shutdown).await;
    }
}

#[async_trait::async_trait]
impl Follower for ResetSender {
    fn name(&self) -> &str {
        NAME
    }

    async fn step(&self) -> Result<Progress, StepError> {
        ResetSender::step(self).await?;
        self.postage.metrics.recovered(NAME);
        Ok(if self.more.load(std::sync::atomic::Ordering::Relaxed) {
            Progress::Busy
        } else {
            Progress::Idle {
                wake_after: IDLE_POLL,
            }
        })
    }

    async fn failed(&self, error: &StepError) {
        self.postage.metrics.stalled(NAME, error.as_ref());
    }
}

/// The reset an identity's event asks for: each `PasswordResetRequested`. An
/// identity's event that cannot be read is an error, never skipped.
fn reset_of(recorded: &RecordedEvent) -> Result<Option<ResetRequest>, WorkerError> {
    if !recorded.stream_id.as_str().starts_with("user-") {
        return Ok(None);
    }
    match decode::<UserEvent>(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    ) {
        Ok(UserEvent::PasswordResetRequested {
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
