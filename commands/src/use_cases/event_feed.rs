//! The organization's events for integrators (a portal, a directory sync): every
//! event of its stream in log order, after a global position, without tokens or
//! token digests. Positions grow with the stream's versions, so "after position P"
//! is found by a binary search over versions, a few reads however long the stream.

use chrono::{DateTime, Utc};
use roster_domain::OrgId;
use roster_eventstore::{Position, RecordedEvent, StreamId};

use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// Largest page.
pub const MAX_PAGE: usize = 500;

/// One event as the feed gives it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedEvent {
    /// Its global position: the feed's cursor (`after`, `Last-Event-ID`).
    pub position: u64,
    /// Its id.
    pub event_id: uuid::Uuid,
    /// Its type, e.g. `UserInvited`.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The event's fields (secrets left out).
    pub data: serde_json::Value,
}

fn stream_of(org: OrgId) -> Result<StreamId, UseCaseError> {
    StreamId::new(org.stream_name()).map_err(|e| UseCaseError::infrastructure("naming a stream", e))
}

fn store_failed(e: roster_eventstore::StoreError) -> UseCaseError {
    UseCaseError::infrastructure("reading the organization's events", e)
}

/// The first stream version whose position is after `after` (`version + 1` past the end).
async fn first_version_after(
    app: &Application,
    stream: &StreamId,
    after: Position,
) -> Result<u64, UseCaseError> {
    let (mut low, mut high) = (
        1,
        app.store
            .stream_version(stream)
            .await
            .map_err(store_failed)?
            + 1,
    );
    while low < high {
        let mid = low + (high - low) / 2;
        let at = app
            .store
            .read_stream(stream, mid, 1)
            .await
            .map_err(store_failed)?;
        match at.first() {
            Some(e) if e.global_position > after => high = mid,
            Some(_) => low = mid + 1,
            None => high = mid,
        }
    }
    Ok(low)
}

fn feed_event(recorded: RecordedEvent) -> FeedEvent {
    let mut data = recorded.payload;
    // Digests of secrets and sealed secrets stay in the log: an integrator
    // has no use for them, and each copy is one more to guard.
    if let Some(fields) = data.as_object_mut() {
        fields.remove("token_digest");
        fields.remove("secret_digest");
        if let Some(connection) = fields.get_mut("connection").and_then(|c| c.as_object_mut()) {
            connection.remove("client_secret");
        }
    }
    FeedEvent {
        position: recorded.global_position.0,
        event_id: recorded.event_id,
        event_type: recorded.event_type,
        recorded_at: recorded.recorded_at,
        data,
    }
}

/// Up to `limit` events of the owner's organization after position `after`.
pub async fn events_after(
    app: &Application,
    owner: &OwnerOf,
    after: Position,
    limit: usize,
) -> Result<Vec<FeedEvent>, UseCaseError> {
    let stream = stream_of(owner.org_id())?;
    let from = first_version_after(app, &stream, after).await?;
    let events = app
        .store
        .read_stream(&stream, from, limit.clamp(1, MAX_PAGE))
        .await
        .map_err(store_failed)?;
    Ok(events.into_iter().map(feed_event).collect())
}
