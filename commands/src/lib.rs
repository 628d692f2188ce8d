//! Running domain commands against the event store: load (or reuse) an
//! aggregate's state, `decide`, append with the expected version, retry a lost
//! race a bounded number of times. Used by the API, the workers and the CLI alike,
//! so it lives outside all three.
//!
//! * [`Handler`] is generic over an [`Aggregate`]; [`OrgAggregate`] and
//!   [`UserAggregate`] plug the domain in.
//! * State is cached per stream by version, so a command on an organization with a
//!   long history does not replay it: only newer events are read, and only after a
//!   conflict shows the cache is behind.
//! * [`Clock`] and [`tokens`] are the edges the pure domain leaves to the caller.

mod aggregate;
mod cache;
mod handler;
pub mod tokens;

pub use aggregate::{Aggregate, OrgAggregate, UserAggregate};
pub use handler::{HandleError, Handler, HandlerConfig, Outcome};
pub use roster_eventstore::{Clock, ManualClock, SystemClock};
