//! The one trait both backends implement.

use async_trait::async_trait;

use crate::changes::ChangeSignal;
use crate::envelope::{
    Appended, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StreamId,
};
use crate::error::StoreError;
use crate::raw::{RawBatch, RawEvent};
use crate::uncommitted::Uncommitted;

/// An append-only log of events grouped into streams, with one global order.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` atomically (all or nothing) if the stream is at
    /// `expected`; otherwise fails with [`StoreError::Conflict`]. An empty append is
    /// refused.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError>;

    /// Like [`EventStore::append`], leaving the transaction open: the caller may
    /// write more in it (see [`Uncommitted`]) and commits, or drops it to roll
    /// back. Until then the events are invisible to every reader.
    async fn append_uncommitted(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<(Appended, Uncommitted), StoreError>;

    /// Appends in `open`, a transaction an earlier [`EventStore::append_uncommitted`]
    /// of this store left open: a request's later appends commit (or roll back)
    /// with its first.
    async fn append_more(
        &self,
        open: &mut Uncommitted,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError>;

    /// Up to `limit` events of `stream` with version ≥ `from_version`, in version order.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The stream's current version; 0 when it does not exist.
    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError>;

    /// Up to `limit` events after `after`, in global order. Gap-safe: an event not
    /// returned now will never later appear before the last one returned.
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// [`EventStore::read_all`] into `into` (cleared first), with payloads and
    /// metadata as JSON text: what a rebuild reads, without a JSON tree or owned
    /// strings per event. This default converts `read_all`'s events; a backend
    /// may read the text directly.
    async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
        into: &mut RawBatch,
    ) -> Result<(), StoreError> {
        into.clear();
        for e in self.read_all(after, limit).await? {
            let metadata = serde_json::to_string(&e.metadata).map_err(|x| StoreError::Corrupt {
                position: e.global_position.0,
                reason: x.to_string(),
            })?;
            into.push(RawEvent {
                position: e.global_position,
                event_id: e.event_id,
                stream_id: e.stream_id.as_str(),
                stream_version: e.stream_version,
                event_type: &e.event_type,
                schema_version: e.schema_version,
                payload: &e.payload.to_string(),
                metadata: &metadata,
                recorded_at: e.recorded_at,
            });
        }
        Ok(())
    }

    /// Up to `limit` events after `after` that carry `correlation` as their
    /// correlation id, in global order: one request's whole chain (its own events
    /// and those workers recorded because of them), for auditors. Indexed, so it
    /// does not scan the log.
    async fn read_correlated(
        &self,
        correlation: uuid::Uuid,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The highest position committed, including any a gap-safe read would still
    /// hold back. A subscriber that has not reached it knows more is coming soon.
    async fn head(&self) -> Result<Position, StoreError>;

    /// How many committed events lie after `after`, counting at most `cap` (for lag
    /// metrics: cheap even when a reader is far behind).
    async fn count_after(&self, after: Position, cap: u64) -> Result<u64, StoreError>;

    /// A wake-up hint that fires after commits (local and, on PostgreSQL, from other
    /// processes). Only a hint: readers always re-read through [`EventStore::read_all`].
    fn changes(&self) -> ChangeSignal;

    /// Checks that the database answers, for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;
}
