//! Failures of the event store, typed so callers can tell a lost race from a broken database.

use crate::envelope::{ExpectedVersion, StreamId, MAX_EVENTS_PER_APPEND};

/// A stream name that is empty, too long or holds control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream id {0:?}: 1 to 200 printable bytes are required")]
pub struct InvalidStreamId(pub String);

/// Why an event store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer got there first: the stream is not at the expected version.
    #[error("conflict on stream {stream}: expected {expected}, found version {actual}")]
    Conflict {
        /// The contested stream.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The version found (0 when the stream does not exist).
        actual: u64,
    },
    /// An append with no events; refused because it would say nothing yet could wedge a stream.
    #[error("an append must carry at least one event")]
    EmptyAppend,
    /// More events than fit one append.
    #[error("an append may carry at most {MAX_EVENTS_PER_APPEND} events, got {0}")]
    TooManyEvents(usize),
    /// An event id that is already in the log.
    #[error("event id {0} is already stored")]
    DuplicateEventId(uuid::Uuid),
    /// A stored row that cannot be decoded (edited by hand, or a bug).
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt {
        /// Where the bad row is.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Metadata to be stored could not be encoded as JSON (nothing was written).
    #[error("the metadata could not be encoded")]
    Encode(#[source] serde_json::Error),
    /// An open transaction of the other backend was handed in (a bug).
    #[error("an open transaction of another backend was handed to this store")]
    ForeignTransaction,
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The round of a group commit carrying this append ended without an answer
    /// (its task failed); whether the append was committed is unknown.
    #[error("the append's group commit ended without an answer; it may or may not be stored")]
    Unanswered,
}

impl StoreError {
    /// True for a lost optimistic-concurrency race, which a caller may retry.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}
