//! Expiry: records `InvitationExpired` once an invitation's deadline passes. It
//! sleeps until the next deadline from the deadlines read model and wakes early
//! when the log changes (a new invitation or a resend), so it is punctual without
//! polling; after a restart, deadlines that passed meanwhile are expired at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_commands::{Handler, OrgAggregate};
use roster_domain::organization::{Actor, Envelope, OrgCommand};
use roster_domain::OrgEvent;
use roster_eventstore::{Clock, EventStore, Metadata, Source};
use roster_projections::queries;
use roster_projections::runtime::{self, Follower, Progress, StepError};
use roster_projections::ReadDb;
use tokio::sync::watch;

use crate::error::WorkerError;

/// Due invitations handled per step.
const BATCH: usize = 1_000;

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryStep {
    /// Invitations recorded as expired.
    pub expired: usize,
    /// Due invitations that needed nothing (resent, accepted, cancelled meanwhile).
    pub unchanged: usize,
    /// The next pending deadline, if any.
    pub next_deadline: Option<DateTime<Utc>>,
}

/// The expiry worker.
pub struct ExpiryWorker {
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::WorkerMetrics>,
    db: ReadDb,
    store: Arc<dyn EventStore>,
    orgs: Arc<Handler<OrgAggregate>>,
    clock: Arc<dyn Clock>,
}

impl ExpiryWorker {
    /// A worker over the shared store, read models and command handler.
    pub fn new(
        db: ReadDb,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            metrics: Arc::default(),
            db,
            store,
            orgs,
            clock,
        }
    }

    /// Expires every invitation whose deadline is at or before the clock's now.
    pub async fn step(&self) -> Result<ExpiryStep, WorkerError> {
        let mut outcome = ExpiryStep::default();
        // The deadlines read model may lag behind the expiries just recorded: ids
        // handled in this step are skipped, and a batch of nothing new ends it.
        let mut handled = std::collections::HashSet::new();
        loop {
            let now = self.clock.now();
            let due = queries::due_deadlines(&self.db, now, BATCH).await?;
            let n = due.len();
            let mut fresh = 0;
            for due in due {
                let (org, invitation) = (due.org_id, due.invitation_id);
                if !handled.insert(invitation) {
                    continue;
                }
                fresh += 1;
                let command = Envelope {
                    actor: Actor::System,
                    command: OrgCommand::ExpireInvite {
                        invitation_id: invitation,
                    },
                };
                let metadata = Metadata {
                    actor: Some("expiry-worker".into()),
                    source: Source::Worker,
                    ..Metadata::default()
                };
                match self.orgs.execute(org, &command, &metadata).await {
                    Ok(o) if o.events.is_empty() => outcome.unchanged += 1,
                    Ok(o) => {
                        outcome.expired += 1;
                        crate::metrics::WorkerMetrics::bump(&self.metrics.invitations_expired);
                        if let Some(OrgEvent::InvitationExpired(x)) = o.events.first() {
                            let lag = (self.clock.now() - x.expired_at).num_milliseconds().max(0);
                            self.metrics.last_expiry_lag_ms.store(
                                u64::try_from(lag).unwrap_or(0),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%org, %invitation, error = %e, "could not expire an invitation")
                    }
                }
            }
            if n < BATCH || fresh == 0 {
                break;
            }
        }
        outcome.next_deadline = queries::next_deadline(&self.db).await?;
        Ok(outcome)
    }

    /// Runs until `shutdown` on the shared follower runtime.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let db = self.db.clone();
        let changes = self.store.changes();
        runtime::run(self, db, changes, shutdown).await;
    }
}

/// How soon a due invitation that could not be expired is tried again.
const PAST_DUE_RETRY: Duration = Duration::from_secs(1);

/// Longest the worker sleeps with no deadline in sight.
const LONGEST_SLEEP: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
impl Follower for ExpiryWorker {
    fn name(&self) -> &str {
        "worker.expiry"
    }

    /// Lets the deadlines read model reach the log's head, expires what is due,
    /// then sleeps until the next deadline (or a change in the log).
    async fn step(&self) -> Result<Progress, StepError> {
        let head = self.store.head().await?;
        queries::wait_for(&self.db, head, Duration::from_secs(2)).await?;
        let step = ExpiryWorker::step(self).await?;
        let wake_after = step
            .next_deadline
            // A deadline still in the past failed to expire: retry it shortly.
            .map(|d| (d - self.clock.now()).to_std().unwrap_or(PAST_DUE_RETRY))
            .unwrap_or(LONGEST_SLEEP)
            .min(LONGEST_SLEEP);
        Ok(Progress::Idle { wake_after })
    }
}
