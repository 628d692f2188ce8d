//! The append-only event log Roster is built on. It knows nothing of the domain:
//! streams hold opaque JSON events, appends are atomic and guarded by optimistic
//! concurrency, and one global order lets projections and workers follow the log.
//!
//! * [`EventStore`] is the one trait; [`PgStore`] (production) and [`SqliteStore`]
//!   (the embedded default) implement it and pass the same conformance suite.
//! * [`Subscription`] catches up from a position and then follows new commits,
//!   delivering every event once, in global order, forever.
//!
//! # Gap safety
//! A reader asking for "everything after position P" must never skip an event
//! whose transaction commits after a transaction holding a higher position. A
//! `bigserial` position read with `position > P` does exactly that under
//! concurrent writers, so PostgreSQL positions here are built from transaction
//! ids and read behind the oldest running transaction; see [`postgres`] for the
//! argument. SQLite admits one writer at a time, so its positions are assigned in
//! commit order and need no guard.

mod changes;
mod clock;
mod envelope;
mod error;
mod group;
pub mod integrity;
pub mod postgres;
mod raw;
pub mod seal;
pub mod sqlite;
mod store;
mod subscription;
mod uncommitted;

pub use changes::ChangeSignal;
pub use clock::{Clock, ManualClock, SystemClock};
pub use envelope::{
    Appended, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, Source, StreamId,
    MAX_EVENTS_PER_APPEND,
};
pub use error::{InvalidStreamId, StoreError};
pub use postgres::PgStore;
pub use raw::{RawBatch, RawEvent};
pub use sqlite::SqliteStore;
pub use store::EventStore;
pub use subscription::{Subscription, SubscriptionOptions};
pub use uncommitted::{Tx, Uncommitted};
