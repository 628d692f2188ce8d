//! What a projection is: a name, a schema version, its tables, and how one
//! organization event changes them.

use chrono::{DateTime, Utc};
use roster_domain::{OrgEvent, OrgId};
use roster_eventstore::{Position, Source};
use uuid::Uuid;

use crate::rows::{Rows, Table};

/// An organization event as projections receive it: decoded, with its envelope.
#[derive(Debug, Clone)]
pub struct ProjectedEvent {
    /// The organization whose stream holds it.
    pub org_id: OrgId,
    /// Its place in the global order.
    pub position: Position,
    /// Its id.
    pub event_id: Uuid,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The interface it came through (all of its metadata read models use:
    /// the rest stays in the log, and is not copied for every event).
    pub source: Source,
    /// The event.
    pub event: OrgEvent,
}

/// Why a projection could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The event store failed.
    #[error("event store error: {0}")]
    Store(#[from] roster_eventstore::StoreError),
    /// An event could not be decoded.
    #[error("event {event_id} at {position} cannot be decoded: {reason}")]
    Decode {
        /// Its id.
        event_id: Uuid,
        /// Its position.
        position: Position,
        /// What failed.
        reason: String,
    },
    /// One projection failed; the batch it was part of rolled back.
    #[error("projection {projection}: {source}")]
    Failed {
        /// The projection.
        projection: &'static str,
        /// Why.
        source: Box<ProjectionError>,
    },
    /// The read model's data contradicts the event (a bug, or tables edited by hand).
    #[error("{0}")]
    Inconsistent(String),
}

/// A read model kept up to date from the log. Tables are named `<base><suffix>`:
/// the live set has an empty suffix; a rebuild writes a `_rebuild` set beside it.
///
/// [`apply`](Projection::apply) is the read model's one definition: the
/// projector runs it over each batch (see [`rows::apply_batch`](crate::rows::apply_batch))
/// and `roster replay` over the whole log, so the two cannot drift apart.
pub trait Projection: Send + Sync + 'static {
    /// Stable name; also the checkpoint's key.
    fn name(&self) -> &'static str;
    /// Bumped whenever the tables or the meaning of rows change; a stored version
    /// that differs makes the runner rebuild from position 0.
    fn version(&self) -> i64;
    /// The tables it owns, with their columns and keys.
    fn tables(&self) -> &'static [&'static Table];
    /// Statements creating its tables (and indexes) with `suffix` appended to names.
    fn create_sql(&self, suffix: &str) -> Vec<String>;
    /// Folds one event into the working set. The rows it uses must be named by
    /// the event alone (a first pass finds them before they are loaded).
    fn apply(&self, rows: &mut Rows, event: &ProjectedEvent) -> Result<(), ProjectionError>;
}
