//! The envelope every stored event travels in, and the values that address the log.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InvalidStreamId;

/// The most events one append may carry. PostgreSQL positions reserve 20 bits for
/// the index of an event inside its transaction (see [`crate::postgres`]).
pub const MAX_EVENTS_PER_APPEND: usize = (1 << 20) - 1;

/// Name of a stream, e.g. `org-<uuid>`. Non-empty, at most 200 bytes, printable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl StreamId {
    /// Longest accepted stream name, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Parses a stream name; the only way to make one, so a stored name is always sane.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidStreamId> {
        let name = name.into();
        if name.is_empty() || name.len() > Self::MAX_LEN || name.chars().any(char::is_control) {
            return Err(InvalidStreamId(name));
        }
        Ok(Self(name))
    }

    /// The stream name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A place in the global order. Positions grow strictly along the order readers
/// see, but are not dense: do not count events by subtracting them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first event: reading after it reads everything.
    pub const START: Position = Position(0);
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the writer believes the stream's version is; checked atomically with the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be at exactly this version (0 means "no stream" too).
    Exact(u64),
    /// Append whatever the version is; used where order, not state, matters.
    Any,
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
            ExpectedVersion::Any => f.write_str("any version"),
        }
    }
}

/// Which interface caused an event, for auditors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The HTTP API (the web page included).
    #[default]
    Api,
    /// A background worker (emails, expiry).
    Worker,
    /// The command line.
    Cli,
    /// A company's directory over SCIM (with an API key of the organization).
    Scim,
}

/// Who and what caused an append; stored with each of its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The acting identity (a user id, `system`, or a worker name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Ties together every event caused by one user intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The HTTP request id, to join logs and the log of events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The interface the append came through.
    #[serde(default)]
    pub source: Source,
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Unique id (UUID v7), chosen by the caller so a retried append is recognisable.
    pub event_id: Uuid,
    /// Stable type name, e.g. `UserInvited`.
    pub event_type: String,
    /// Shape version of `payload`; readers upcast older shapes.
    pub schema_version: u32,
    /// The event's body.
    pub payload: serde_json::Value,
    /// This event's own metadata, when it differs from the append's: a worker
    /// recording the outcomes of several causes in one append keeps each
    /// event's cause. `None` takes the append's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// An event as stored, with its place in its stream and in the global order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Unique id given by the writer.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// 1 for the stream's first event, then 2, 3, …
    pub stream_version: u64,
    /// Place in the global order.
    pub global_position: Position,
    /// Stable type name.
    pub event_type: String,
    /// Shape version of `payload`.
    pub schema_version: u32,
    /// The event's body.
    pub payload: serde_json::Value,
    /// Who and what caused it.
    pub metadata: Metadata,
    /// When it was recorded (the writer's clock, to the microsecond).
    pub recorded_at: DateTime<Utc>,
    /// Its chain hash (see [`crate::integrity`]); `None` only for rows written
    /// before hashing existed or stripped by hand.
    pub hash: Option<[u8; 32]>,
}

/// What one append wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stream written to.
    pub stream_id: StreamId,
    /// `(stream_version, global_position)` of each event, in append order.
    pub written: Vec<(u64, Position)>,
}

impl Appended {
    /// The stream's version after the append.
    pub fn last_version(&self) -> u64 {
        self.written.last().map_or(0, |(v, _)| *v)
    }

    /// The global position of the last event written: a reader that has passed it
    /// has seen the whole append.
    pub fn last_position(&self) -> Position {
        self.written.last().map_or(Position::START, |(_, p)| *p)
    }
}
