//! Following the log: catch up from a position, then deliver new commits as they land.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::changes::ChangeSignal;
use crate::envelope::{Position, RecordedEvent};
use crate::error::StoreError;
use crate::store::EventStore;

/// Tuning for a [`Subscription`].
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionOptions {
    /// Events fetched per read while catching up.
    pub batch_size: usize,
    /// Safety-net poll when no wake-up arrives (lost NOTIFY, another process on SQLite).
    pub poll_interval: Duration,
    /// Longest pause while a committed event is held back behind a running transaction.
    pub max_horizon_backoff: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_secs(2),
            max_horizon_backoff: Duration::from_millis(50),
        }
    }
}

/// Delivers every event after a starting position exactly once, in global order,
/// forever: it catches up in batches, then waits for wake-ups (with a slow poll as a
/// safety net) and re-reads through the store's gap-safe [`EventStore::read_all`].
pub struct Subscription {
    store: Arc<dyn EventStore>,
    cursor: Position,
    buffer: VecDeque<RecordedEvent>,
    changes: ChangeSignal,
    options: SubscriptionOptions,
}

impl Subscription {
    /// Starts after `after` (use [`Position::START`] for the whole log).
    pub fn new(store: Arc<dyn EventStore>, after: Position, options: SubscriptionOptions) -> Self {
        let changes = store.changes();
        Self {
            store,
            cursor: after,
            buffer: VecDeque::new(),
            changes,
            options,
        }
    }

    /// The position of the last event handed out.
    pub fn position(&self) -> Position {
        self.cursor
    }

    /// The next event, waiting for one if the log has no more yet.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.cursor = event.global_position;
                return Ok(event);
            }
            let batch = self.next_batch(self.options.batch_size).await?;
            self.buffer.extend(batch);
        }
    }

    /// Up to `max` events (at least one), waiting for the first. Lets projections
    /// apply a whole catch-up batch in one transaction.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.max(1);
        if !self.buffer.is_empty() {
            let n = max.min(self.buffer.len());
            let batch: Vec<_> = self.buffer.drain(..n).collect();
            if let Some(last) = batch.last() {
                self.cursor = last.global_position;
            }
            return Ok(batch);
        }
        let mut backoff = Duration::from_millis(1);
        loop {
            // Seen before reading: a commit landing during the read wakes the next wait.
            self.changes.mark_seen();
            let batch = self.store.read_all(self.cursor, max).await?;
            if let Some(last) = batch.last() {
                self.cursor = last.global_position;
                return Ok(batch);
            }
            if self.store.head().await? > self.cursor {
                // Committed but held behind an older running transaction: it will be
                // released soon, and that transaction may never notify us.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.options.max_horizon_backoff);
                continue;
            }
            backoff = Duration::from_millis(1);
            let _ = tokio::time::timeout(self.options.poll_interval, self.changes.changed()).await;
        }
    }
}
