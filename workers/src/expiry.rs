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
use roster_storage::follower::{self, Follower, Progress, StepError};
use roster_storage::Db;
use tokio::sync::watch;

use crate::error::WorkerError;

/// Due invitations read per page.
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
    /// Due invitations read per page (tests make pages small).
    pub page_size: usize,
    db: Db,
    store: Arc<dyn EventStore>,
    orgs: Arc<Handler<OrgAggregate>>,
    clock: Arc<dyn Clock>,
}

impl ExpiryWorker {
    /// A worker over the shared store, read models and command handler.
    pub fn new(
        db: Db,
        store: Arc<dyn EventStore>,
        orgs: Arc<Handler<OrgAggregate>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            metrics: Arc::default(),
            page_size: BATCH,
            db,
            store,
            orgs,
            clock,
        }
    }

    /// Expires every invitation whose deadline is at or before the clock's now.
    pub async fn step(&self) -> Result<ExpiryStep, WorkerError> {
        let mut outcome = ExpiryStep::default();
        // The deadlines read model may lag behind the expiries just recorded, so
        // the step pages on (deadline, id) instead of asking again from the top;
        // an invitation seen again in a later step decides to nothing.
        let now = self.clock.now();
        let mut after = None;
        loop {
            let due = queries::due_deadlines(&self.db, now, after.as_ref(), self.page_size).await?;
            let n = due.len();
            after = due.last().copied();
            // One append per organization for all its due invitations: 100,000
            // invitations sharing a deadline cost a thousand commits, not 100,000.
            let mut by_org: Vec<(roster_domain::OrgId, Vec<OrgCommand>)> = Vec::new();
            let mut slot_of = std::collections::HashMap::new();
            for due in due {
                let command = OrgCommand::ExpireInvite {
                    invitation_id: due.invitation_id,
                };
                let slot = *slot_of.entry(due.org_id).or_insert_with(|| {
                    by_org.push((due.org_id, Vec::new()));
                    by_org.len() - 1
                });
                by_org[slot].1.push(command);
            }
            let metadata = Metadata {
                actor: Some("expiry-worker".into()),
                source: Source::Worker,
                ..Metadata::default()
            };
            for (org, commands) in by_org {
                let commands: Vec<Envelope> = commands
                    .into_iter()
                    .map(|command| Envelope {
                        actor: Actor::System,
                        command,
                    })
                    .collect();
                match self.orgs.execute_all(org, &commands, &metadata).await {
                    Ok(o) => {
                        outcome.expired += o.events.len();
                        outcome.unchanged += commands.len() - o.events.len().min(commands.len());
                        for event in &o.events {
                            crate::metrics::WorkerMetrics::bump(&self.metrics.invitations_expired);
                            if let OrgEvent::InvitationExpired(x) = event {
                                let lag =
                                    (self.clock.now() - x.expired_at).num_milliseconds().max(0);
                                self.metrics.last_expiry_lag_ms.store(
                                    u64::try_from(lag).unwrap_or(0),
                                    std::sync::atomic::Ordering::Relaxed,
                                );
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%org, invitations = commands.len(), error = %e, "could not expire invitations")
                    }
                }
            }
            if n < self.page_size.max(1) {
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
        follower::run(self, db, changes, shutdown).await;
    }
}

/// How soon a due invitation that could not be expired is tried again.
const PAST_DUE_RETRY: Duration = Duration::from_secs(1);

/// Its follower name.
const NAME: &str = "worker.expiry";

/// Longest the worker sleeps with no deadline in sight.
const LONGEST_SLEEP: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
impl Follower for ExpiryWorker {
    fn name(&self) -> &str {
        NAME
    }

    async fn failed(&self, error: &StepError) {
        self.metrics.stalled(NAME, error.as_ref());
    }

    /// Lets the deadlines read model reach the log's head, expires what is due,
    /// then sleeps until the next deadline (or a change in the log).
    async fn step(&self) -> Result<Progress, StepError> {
        let head = self.store.head().await?;
        queries::wait_for(&self.db, head, Duration::from_secs(2)).await?;
        let step = ExpiryWorker::step(self).await?;
        self.metrics.recovered(NAME);
        let wake_after = step
            .next_deadline
            // A deadline still in the past failed to expire: retry it shortly.
            .map(|d| (d - self.clock.now()).to_std().unwrap_or(PAST_DUE_RETRY))
            .unwrap_or(LONGEST_SLEEP)
            .min(LONGEST_SLEEP);
        Ok(Progress::Idle { wake_after })
    }
}
